"""Every change of a household's phone of record: who, when, by which channel, and its undoing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import LIMA, Base, UTCDateTime, utcnow
from models.outbox import OutboxMessage, OutboxStatus
from models.query import Channel


class PhoneChange(Base):
    """One move of a household's messages to another phone.

    Phones are kept as keyed hashes (to recognise the former phone in its grace period) and their
    last three digits (for staff); never in clear: the padron and the outbox hold the numbers.
    """

    __tablename__ = "phone_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hogar_id: Mapped[str] = mapped_column(String(16), ForeignKey("household.hogar_id"), index=True)
    # None when the household had no phone of record: nothing to tell, nothing to undo.
    old_phone_key: Mapped[str | None] = mapped_column(String(24), index=True)
    old_last3: Mapped[str | None] = mapped_column(String(3))
    new_phone_key: Mapped[str] = mapped_column(String(24))  # who asked: the caller's phone
    new_last3: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(8))  # a models.query.Channel: ussd, sim
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Until then the former phone is still recognised for the household and may undo the change.
    grace_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reminders_before: Mapped[bool] = mapped_column(Boolean, default=True)  # restored by an undo
    notice_id: Mapped[int | None] = mapped_column(Integer)  # the outbox row telling the old phone
    undone_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The channel of the undo, or SUPERSEDED when an earlier change was undone over this one.
    undone_by: Mapped[str | None] = mapped_column(String(12))


def recent_changes(
    session: Session, hogar_ids: tuple[str, ...] = (), limit: int = 200
) -> list[tuple[PhoneChange, str | None]]:
    """The newest changes (of `hogar_ids` if given), each with its notice's outbox status."""
    stmt = (
        select(PhoneChange, OutboxMessage.status)
        .outerjoin(OutboxMessage, OutboxMessage.id == PhoneChange.notice_id)
        .order_by(PhoneChange.created_at.desc(), PhoneChange.id.desc())
        .limit(limit)
    )
    if hogar_ids:
        stmt = stmt.where(PhoneChange.hogar_id.in_(hogar_ids))
    return [(change, status) for change, status in session.execute(stmt).all()]


# The `undone_by` of a later move closed by the undo of an earlier one (not a channel).
SUPERSEDED = "superseded"
CHANNELS: dict[str, str] = {Channel.USSD: "USSD", Channel.SIMULATOR: "simulador", Channel.SMS: "SMS",
                             Channel.GESTOR: "gestor (consulta asistida)", Channel.VOICE: "voz",
                             SUPERSEDED: "por deshacer uno anterior"}
NOTICE_STATES: dict[str, str] = {OutboxStatus.PENDING: "en cola", OutboxStatus.SENDING: "enviando",
                                 OutboxStatus.SUBMITTED: "enviado", OutboxStatus.DELIVERED: "entregado",
                                 OutboxStatus.FAILED: "fallido", OutboxStatus.SKIPPED: "no enviado"}


def _lima(moment: dt.datetime | None) -> str:
    return moment.astimezone(LIMA).strftime("%d/%m/%Y %H:%M") if moment else ""


def describe(change: PhoneChange, notice: str | None, now: dt.datetime) -> dict[str, Any]:
    """One change as staff read it (Spanish, Lima time): masked phones only."""
    if change.undone_at is not None:
        state = f"deshecho el {_lima(change.undone_at)} ({CHANNELS.get(change.undone_by or '', '-')})"
    elif change.grace_until is not None and change.grace_until > now:
        state = f"puede deshacerse hasta el {_lima(change.grace_until)}"
    else:
        state = "firme"
    return {
        "hogar_id": change.hogar_id, "when": _lima(change.created_at),
        "channel": CHANNELS.get(change.channel, change.channel),
        "old": f"***{change.old_last3}" if change.old_last3 else "(ninguno)",
        "new": f"***{change.new_last3}", "state": state, "undone": change.undone_at is not None,
        "notice": NOTICE_STATES.get(notice or "", "-") if change.old_last3 else "no hacia falta",
    }
