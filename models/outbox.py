"""Outbound SMS: every message is a row here, committed before a job sends it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import Boolean, ColumnElement, Index, Integer, String, Text, case, func, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"  # committed, a send job is queued
    SENDING = "sending"  # a worker took it; the API call may be in flight
    SUBMITTED = "submitted"  # the provider accepted it (statusCode 100/101/102)
    DELIVERED = "delivered"  # delivery report: Success
    FAILED = "failed"  # permanent failure, a failed delivery report, or retries exhausted
    SKIPPED = "skipped"  # not sent on purpose (the phone opted out)


FINAL = frozenset({OutboxStatus.DELIVERED, OutboxStatus.FAILED, OutboxStatus.SKIPPED})


class Purpose(StrEnum):
    REPLY = "reply"  # an answer to the user's own request: sent even to an opted-out phone
    REMINDER = "reminder"
    NOTICE = "notice"
    BROADCAST = "broadcast"
    # The phone that loses a household's messages is told at once (docs/SMS.md).
    SECURITY = "security"


class SkipReason(StrEnum):
    """Why a row is `skipped` (its failure_reason): not sent on purpose."""

    OPTED_OUT = "opted_out"  # the phone sent BAJA (or the aggregator's opt-out)
    REMINDERS_OFF = "reminders_off"  # the household switched its reminders off
    NO_PHONE = "no_phone"  # the household has no phone of record any more
    PLAN_CHANGED = "plan_changed"  # a re-import moved the date or the pay point
    OPERATION_STARTED = "operation_started"  # too late: the operation it announces opened
    OPERATION_CANCELLED = "operation_cancelled"  # no operation pays the household this period
    PERIOD_OVER = "period_over"  # every operation of the period ended: the notice is stale
    COLLECTED = "collected"  # the household collected the payment
    # Carried by another household's SMS to the same phone (workers/plan_rows.py): not a message.
    MERGED = "merged"


# Sent one by one as soon as they are made, even to an opted-out phone: an answer to the user's
# own request, and the warning that a household's messages moved away from this phone (that
# phone never asked not to know who took its household's messages).
IMMEDIATE = frozenset({Purpose.REPLY, Purpose.SECURITY})


# The partial index of the rows awaiting their delivery report, and the queries that read it, say
# this in SQL, not as a bound parameter: a prepared statement's generic plan (psycopg prepares a
# query run 5 times) can use a partial index only when the query itself states its predicate.
SUBMITTED_ONLY = sql_text(f"status = '{OutboxStatus.SUBMITTED}'")


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(16), index=True)
    text: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.PENDING, index=True)
    # One message per purpose and subject (an inbound SMS id, a reminder slot): a resent
    # callback or a second planner finds the row instead of making another.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    hogar_id: Mapped[str | None] = mapped_column(String(16), index=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(24))
    provider_status_code: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    network_code: Mapped[str | None] = mapped_column(String(8))
    cost: Mapped[str | None] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    final_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Reminders and notices (planned from the schedule, sent in bulk by the dispatcher).
    kind: Mapped[str | None] = mapped_column(String(12))  # reminder, notice, change
    periodo: Mapped[str | None] = mapped_column(String(7))
    offset_days: Mapped[int | None] = mapped_column(Integer)
    unidad_territorial: Mapped[str | None] = mapped_column(String(40), index=True)
    # What the text announces (pay point, first day, opening hour): a change after sending
    # is told to the household.
    subject: Mapped[str | None] = mapped_column(String(60))
    send_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    not_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    batch_id: Mapped[str | None] = mapped_column(String(40), index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the API call carrying this claimed row started: a claim holds several calls, and only
    # rows whose call had started when a worker died may have reached the provider.
    call_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Set when a batch this row was in was cut off mid-send (a worker died): the provider may
    # have sent it, and it is sent again.
    dup_risk: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_outbox_due", "status", "send_after"),
        # The dispatcher's claim order, pending planned rows only (migration 0008).
        Index("ix_outbox_claim", "send_after", "subject", "id",
              postgresql_where=sql_text("status = 'pending' AND kind IS NOT NULL"),
              sqlite_where=sql_text("status = 'pending' AND kind IS NOT NULL")),
        # The delivery-report backlog on /metrics, read at every scrape (migration 0012).
        Index("ix_outbox_submitted", "sent_at", postgresql_where=SUBMITTED_ONLY,
              sqlite_where=SUBMITTED_ONLY),
    )


class OptOut(Base):
    """A phone that asked for no more messages (BAJA/STOP, or the aggregator's opt-out)."""

    __tablename__ = "sms_optout"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    source: Mapped[str] = mapped_column(String(12))  # sms_command, aggregator
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboundSms(Base):
    """An inbound SMS seen, by the aggregator's id: a resent callback is answered once.

    The text is not kept: it may hold a DNI and a date of birth.
    """

    __tablename__ = "sms_inbound"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    command: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReminderControl(Base):
    """One row: whether operators paused the sending of reminders and notices."""

    __tablename__ = "reminder_control"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ParkedCallback(Base):
    """A callback received while Redis was down, kept until it is replayed (minutes, not days)."""

    __tablename__ = "parked_callback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


# A delivery report comes within minutes, or hours for a phone that is off. One not come a day
# after the send is lost (the aggregator stopped resending it, or its last word was a status that
# is not final, such as Expired): that row stays `submitted` for good, and is left out of the
# report backlog below, which would otherwise count every lost report since the first wave.
REPORT_HORIZON = dt.timedelta(hours=24)
REPORT_LATE = dt.timedelta(hours=1)


class ReportBacklog(NamedTuple):
    """The messages sent in the last REPORT_HORIZON still `submitted` (no final report yet)."""

    oldest_sent_at: dt.datetime | None  # when the first of them was sent; None: there is none
    late: int  # how many were sent REPORT_LATE to REPORT_HORIZON ago


def report_backlog(session: Session, now: dt.datetime) -> ReportBacklog:
    """Messages the provider took in the last REPORT_HORIZON that have no final delivery report.

    One range scan of the partial index `ix_outbox_submitted` (rows still `submitted` only).
    """
    oldest, late = session.execute(
        select(func.min(OutboxMessage.sent_at),
               func.count(case((OutboxMessage.sent_at < now - REPORT_LATE, 1))))
        .where(SUBMITTED_ONLY, OutboxMessage.sent_at >= now - REPORT_HORIZON)
    ).one()
    return ReportBacklog(oldest, int(late))


def withdraw_pending(
    session: Session, reason: SkipReason, now: dt.datetime, *, phone: str | None = None,
    hogar_ids: Iterable[str] = (), who: ColumnElement[bool] | None = None,
) -> int:
    """Reminders, notices and broadcasts not taken by a dispatcher yet are not sent: those to
    `phone`, of `hogar_ids`, or matching `who`; how many. Called in the same transaction as the
    opt-out or switch-off that calls for it (the next planning run would be minutes late). The
    planner revives a reminder when the household switches them on again.
    """
    if who is None:
        ids = tuple(hogar_ids)
        who = OutboxMessage.recipient == phone if phone is not None else OutboxMessage.hogar_id.in_(ids)
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.kind.is_not(None), who)
        .values(status=OutboxStatus.SKIPPED, failure_reason=reason, final_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
