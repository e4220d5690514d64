"""Carrying out what a dialog step asked for: database writes and Redis counters."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from dialogs.effects import (
    DobCleared,
    DobFailed,
    Effect,
    RecordQuery,
    SetLanguage,
    SetPhoneOfRecord,
    SetReminders,
)
from gateway.sessions import Pipeline, SessionStore
from models import Household, Query
from models.base import utcnow


def apply_effects(
    effects: Iterable[Effect],
    session: Session,
    store: SessionStore,
    pipeline: Pipeline,
    channel: str,
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
                store.fail_dob(effect.dni_key, channel, pipeline)
            case DobCleared():
                store.clear_dob(effect.dni_key, channel, pipeline)
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
            case SetPhoneOfRecord():
                session.execute(
                    update(Household)
                    .where(Household.hogar_id == effect.hogar_id)
                    .values(phone=effect.phone, phone_set_by_caller_at=now, updated_at=now)
                )
    if queries:
        session.execute(insert(Query), queries)
