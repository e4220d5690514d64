"""Carrying out what a dialog step asked for: database writes and Redis counters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from core import usage_stream as usage
from core.keys import Pipeline
from dialogs.effects import (
    DniTried,
    DobCleared,
    DobFailed,
    Effect,
    RecordQuery,
    SendSummary,
    SetLanguage,
    SetOptIn,
    SetOptOut,
    SetPhoneOfRecord,
    SetReminders,
    UndoPhoneChange,
)
from gateway import phone_changes
from gateway.abuse import DniGuard
from gateway.sessions import SessionStore
from models import Channel, Household, OptOut, Query, SkipReason
from models.base import utcnow
from models.outbox import withdraw_pending

# Effects that change the programme's rows; the others live in Redis (and usage records may).
DATABASE_EFFECTS = (SetLanguage, SetReminders, SetOptOut, SetOptIn, SetPhoneOfRecord, UndoPhoneChange,
                    SendSummary)


def needs_database(effects: Iterable[Effect]) -> bool:
    """Whether carrying out `effects` writes rows (other than usage records staged in Redis)."""
    return any(isinstance(e, DATABASE_EFFECTS) for e in effects)


def apply_effects(
    effects: Iterable[Effect],
    session: Session | None,
    store: SessionStore,
    pipeline: Pipeline,
    channel: str,
    guard: DniGuard,
    *,
    stage_usage: bool = False,
) -> list[int]:
    """Stage every effect: rows on `session`, Redis commands on `pipeline` (caller commits).

    With `stage_usage`, usage records go on `pipeline` too (core/usage_stream.py) and `session` may be
    None when `needs_database(effects)` is false. Returns the outbox rows made, for the caller to
    queue once committed (`phone_changes.queue_notices`).
    """
    queries: list[dict[str, object]] = []
    outbox: list[int] = []
    now = utcnow()
    effects = list(effects)
    if channel == Channel.USSD and any(isinstance(e, RecordQuery) and e.gestor_id for e in effects):
        channel = Channel.GESTOR  # a gestor's consultation: its records and its phone changes
    for effect in effects:
        match effect:
            case RecordQuery():
                if effect.kind == phone_changes.REFUSED_KIND:
                    phone_changes.log_refused(effect, channel)
                queries.append(
                    {
                        "created_at": now,
                        "channel": channel,
                        "kind": effect.kind,
                        "outcome": effect.outcome,
                        "hogar_id": effect.hogar_id,
                        "unidad_territorial": effect.unidad_territorial,
                        "periodo": effect.periodo,
                        "gestor_id": effect.gestor_id,
                        "gestor_ut": effect.gestor_ut,
                        "tambo": effect.tambo,
                    }
                )
            case DobFailed():
                store.fail_dob(effect.dni_key, pipeline)
            case DniTried():
                guard.record(effect.phone, effect.dni_key, pipeline)
            case DobCleared():
                store.clear_dob(effect.dni_key, pipeline)
            case _ if isinstance(effect, DATABASE_EFFECTS):
                if session is None:
                    raise ValueError(f"{type(effect).__name__} needs a database session")
                if isinstance(effect, SetPhoneOfRecord):
                    outbox += phone_changes.move(session, effect, now, channel, guard.secret)
                elif isinstance(effect, UndoPhoneChange):
                    outbox += phone_changes.undo(session, effect, now, channel, guard.secret)
                elif isinstance(effect, SendSummary):
                    outbox += phone_changes.summary(session, effect)
                else:
                    _apply_row(session, effect, now)
    if queries and stage_usage:
        usage.stage(pipeline, queries)
    elif queries:
        # A Core insert into the table: the ORM's bulk path adds nothing for plain rows.
        assert session is not None
        session.connection().execute(insert(Query), queries)
    return outbox


def _apply_row(session: Session, effect: Effect, now: dt.datetime) -> None:
    """Stage one effect that changes the programme's rows."""
    match effect:
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
            if not effect.enabled:
                withdraw_pending(session, SkipReason.REMINDERS_OFF, now, hogar_ids=(effect.hogar_id,))
        case SetOptOut():
            _set_optout(session, effect.phone, effect.hogar_ids, opted_out=True, now=now)
        case SetOptIn():
            _set_optout(session, effect.phone, effect.hogar_ids, opted_out=False, now=now)


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
        if opted_out:
            withdraw_pending(session, SkipReason.REMINDERS_OFF, now, hogar_ids=hogar_ids)


def record_optout(session: Session, phone: str, source: str, now: dt.datetime) -> None:
    """Mark `phone` as opted out (once) and switch off reminders of households it is the phone of."""
    if session.scalar(select(OptOut.phone).where(OptOut.phone == phone)) is None:
        session.add(OptOut(phone=phone, source=source, created_at=now))
        session.flush()
    session.execute(
        update(Household).where(Household.phone == phone).values(reminders_enabled=False, updated_at=now)
    )
    withdraw_pending(session, SkipReason.OPTED_OUT, now, phone=phone)
