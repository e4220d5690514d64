"""One lookup made by a caller, kept for the programme's usage reports (no DNI, no phone)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class Channel(StrEnum):
    USSD = "ussd"
    SMS = "sms"
    SIMULATOR = "sim"  # the browser simulator: demos and training, not the programme's usage
    GESTOR = "gestor"  # an assisted lookup: a gestor's phone, consulting for a titular
    VOICE = "voice"  # the voice line: the same dialog, spoken, with the keypad


# The usage reports (models/reports.py) count real callers only, one column per channel, in
# this order: every channel is a caller's unless it is listed here, so a new channel gets its
# own column in the report, its CSV and the dashboard, never a share of a total without one.
# The simulator (staff trying the service, often on real households) is counted apart.
NOT_CALLERS = (Channel.SIMULATOR,)
CALLER_CHANNELS = tuple(c for c in Channel if c not in NOT_CALLERS)
# How a report, its CSV's readers and the dashboard name each channel.
CHANNEL_NAMES: dict[str, str] = {
    Channel.USSD: "USSD", Channel.SMS: "SMS", Channel.SIMULATOR: "simulador",
    Channel.GESTOR: "gestor", Channel.VOICE: "voz",
}


# What the figures count (models/reports.py, models/assisted.py), defined once. A lookup is a
# row of one of these kinds; a `verify` row is verified with one of these outcomes and failed
# with any other (a wrong date, a locked DNI, the per-phone limit, a gestor's daily cap).
LOOKUP_KINDS = ("next_payment", "status", "co_responsibilities")
VERIFY_KIND = "verify"
VERIFIED_OUTCOMES = ("ok_phone", "ok_dob")
# An assisted lookup's SMS of the household's next payment to its phone of record: `sent`, or
# not sent because it was `already` sent that day or the household has `no_phone`.
SUMMARY_SMS_KIND = "summary_sms"
SUMMARY_SENT = "sent"


class Query(Base):
    __tablename__ = "query"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[str] = mapped_column(String(24))
    unidad_territorial: Mapped[str | None] = mapped_column(String(40))
    hogar_id: Mapped[str | None] = mapped_column(String(16))
    periodo: Mapped[str | None] = mapped_column(String(7))
    # An assisted lookup (channel gestor): who made it, the UT they serve and their Tambo, as
    # they were at the time; None for a titular's own lookups.
    gestor_id: Mapped[str | None] = mapped_column(String(16))
    gestor_ut: Mapped[str | None] = mapped_column(String(40))
    tambo: Mapped[str | None] = mapped_column(String(80))


class UsageCursor(Base):
    """How far the usage records staged in Redis have been moved into `query` (one row).

    The web process stages a hop's usage records on a Redis stream in the hop's own pipeline;
    `workers/usage.py` moves them here in batches. The stream id of the last record moved is
    stored in the same transaction as its rows, so a drain that dies anywhere neither loses nor
    repeats a record.
    """

    __tablename__ = "usage_cursor"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_id: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
