"""Carrying out what a dialog step asked for: database writes and Redis counters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from dialogs.effects import (
    DniTried,
    DobCleared,
    DobFailed,
    Effect,
    RecordQuery,
    SetLanguage,
    SetOptIn,
    SetOptOut,
    SetPhoneOfRecord,
    SetReminders,
)
from gateway.abuse import DniGuard
from gateway.sessions import Pipeline, SessionStore
from models import Household, OptOut, Query
from models.base import utcnow


def apply_effects(
    effects: Iterable[Effect],
    session: Session,
    store: SessionStore,
    pipeline: Pipeline,
    channel: str,
    guard: DniGuard,
) -> None:
    """Stage every effect: rows on `session`, Redis commands on `pipeline` (caller commits)."""
    queries: list[dict[str, object]] = []
    now = utcnow()
    for effect in effects:
        match effect:
            case RecordQuery():
                queries.append(
                    {
                        "created_at": now,
                        "channel": channel,
                        "kind": effect.kind,
                        "outcome": effect.outcome,
                        "hogar_id": effect.hogar_id,
                        "unidad_territorial": effect.unidad_territorial,
                        "periodo": effect.periodo,
                    }
                )
            case DobFailed():
                store.fail_dob(effect.dni_key, pipeline)
            case DniTried():
                guard.record(effect.phone, effect.dni_key)
            case DobCleared():
                store.clear_dob(effect.dni_key, pipeline)
            case SetLanguage():
                session.execute(
                    update(Household)
                    .where(Household.hogar_id == effect.hogar_id)
                    .values(idioma=effect.idioma, idioma_set_by_caller_at=now, updated_at=now)
                )
            case SetReminders():
                session.execute(
                    update(Household)
                    .where(Household.hogar_id == effect.hogar_id)
                    .values(reminders_enabled=effect.enabled, updated_at=now)
                )
            case SetOptOut():
                _set_optout(session, effect.phone, effect.hogar_ids, opted_out=True, now=now)
            case SetOptIn():
                _set_optout(session, effect.phone, effect.hogar_ids, opted_out=False, now=now)
            case SetPhoneOfRecord():
                session.execute(
                    update(Household)
                    .where(Household.hogar_id == effect.hogar_id)
                    .values(phone=effect.phone, phone_set_by_caller_at=now, updated_at=now)
                )
    if queries:
        # A Core insert into the table: the ORM's bulk path adds nothing for plain rows.
        session.connection().execute(insert(Query), queries)


def _set_optout(
    session: Session, phone: str, hogar_ids: tuple[str, ...], *, opted_out: bool, now: dt.datetime
) -> None:
    """Record or forget a phone's opt-out; its households' reminders follow."""
    if opted_out:
        record_optout(session, phone, "sms_command", now)
    else:
        session.execute(delete(OptOut).where(OptOut.phone == phone))
    if hogar_ids:
        session.execute(
            update(Household)
            .where(Household.hogar_id.in_(hogar_ids))
            .values(reminders_enabled=not opted_out, updated_at=now)
        )


def record_optout(session: Session, phone: str, source: str, now: dt.datetime) -> None:
    """Mark `phone` as opted out (once) and switch off reminders of households it is the phone of."""
    if session.scalar(select(OptOut.phone).where(OptOut.phone == phone)) is None:
        session.add(OptOut(phone=phone, source=source, created_at=now))
        session.flush()
    session.execute(
        update(Household).where(Household.phone == phone).values(reminders_enabled=False, updated_at=now)
    )
