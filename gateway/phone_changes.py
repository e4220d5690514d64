"""Carrying out a move of a household's phone of record, and its undoing, in the hop's transaction.

Each writes the household, the change log (phones as keyed hashes and last three digits) and the
SMS to the phone that loses the household's messages, all in one transaction; the SMS is queued
once it is committed (`queue_notices`), or by the scheduler's requeue job if Redis is down then.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.privacy import mask_phone, phone_key
from dialogs.effects import RecordQuery, SendSummary, SetPhoneOfRecord, UndoPhoneChange
from dialogs.gsm import sms_parts
from gateway.services import Services
from models import Household, OutboxMessage, PhoneChange, Purpose
from models.phone_change import SUPERSEDED
from workers.api import enqueue_send

log = logging.getLogger("mijuntos.phone")


def _notice(session: Session, hogar_id: str, recipient: str, text: str, dedupe: str,
            purpose: Purpose = Purpose.SECURITY) -> int:
    """An SMS to the phone that loses the household's messages (or gains them); its outbox id."""
    encoding, segments = sms_parts(text)
    row = OutboxMessage(recipient=recipient, text=text, encoding=encoding, segments=segments,
                        purpose=purpose, dedupe_key=dedupe, hogar_id=hogar_id)
    session.add(row)
    session.flush()
    return row.id


def move(session: Session, effect: SetPhoneOfRecord, now: dt.datetime, channel: str,
         secret: str) -> list[int]:
    """Make `effect.phone` the phone of record; record it; tell the phone it replaces."""
    household = session.get(Household, effect.hogar_id, with_for_update=True)
    if household is None or household.phone == effect.phone:
        return []
    old = household.phone
    change = PhoneChange(
        hogar_id=household.hogar_id, channel=channel, created_at=now,
        old_phone_key=phone_key(secret, old) if old else None, old_last3=old[-3:] if old else None,
        new_phone_key=phone_key(secret, effect.phone), new_last3=effect.phone[-3:],
        grace_until=now + dt.timedelta(hours=effect.grace_hours) if old else None,
        reminders_before=household.reminders_enabled,
    )
    session.add(change)
    household.phone, household.phone_set_by_caller_at, household.updated_at = effect.phone, now, now
    session.flush()
    queued: list[int] = []
    if old and effect.notice:
        change.notice_id = _notice(session, household.hogar_id, old, effect.notice,
                                   f"phone_change:{change.id}")
        queued.append(change.notice_id)
    if effect.welcome:  # a number a gestor typed: it learns whose messages it now gets
        queued.append(_notice(session, household.hogar_id, effect.phone, effect.welcome,
                              f"phone_change_new:{change.id}"))
    log.info("phone of record moved hogar=%s from=%s to=%s channel=%s change=%s",
             household.hogar_id, mask_phone(old), mask_phone(effect.phone), channel, change.id)
    return queued


def undo(session: Session, effect: UndoPhoneChange, now: dt.datetime, channel: str,
         secret: str) -> list[int]:
    """The former phone takes the household back, if its grace period still runs; tell the
    phone that loses it. Later moves of the household still open are closed with it."""
    household = session.get(Household, effect.hogar_id, with_for_update=True)
    if household is None:
        return []
    change = session.scalar(
        select(PhoneChange)
        .where(PhoneChange.hogar_id == effect.hogar_id,
               PhoneChange.old_phone_key == phone_key(secret, effect.phone),
               PhoneChange.undone_at.is_(None), PhoneChange.grace_until > now)
        .order_by(PhoneChange.created_at.desc(), PhoneChange.id.desc())
        .limit(1)
    )
    if change is None:
        log.info("undo refused hogar=%s phone=%s: no move in its grace period", effect.hogar_id,
                 mask_phone(effect.phone))
        return []
    change.undone_at, change.undone_by = now, channel
    session.execute(
        update(PhoneChange)
        .where(PhoneChange.hogar_id == effect.hogar_id, PhoneChange.undone_at.is_(None),
               PhoneChange.id > change.id)
        .values(undone_at=now, undone_by=SUPERSEDED)
        .execution_options(synchronize_session=False)
    )
    losing = household.phone
    household.phone, household.reminders_enabled = effect.phone, change.reminders_before
    household.phone_set_by_caller_at, household.updated_at = now, now
    queued: list[int] = []
    if losing and losing != effect.phone and effect.notice:
        queued.append(_notice(session, household.hogar_id, losing, effect.notice,
                              f"phone_change_undone:{change.id}"))
    log.info("phone move undone hogar=%s back to=%s from=%s channel=%s change=%s",
             household.hogar_id, mask_phone(effect.phone), mask_phone(losing), channel, change.id)
    return queued


def summary(session: Session, effect: SendSummary) -> list[int]:
    """The next-payment summary a gestor sent to the household's phone of record, once a day:
    a second one that day (another session of the gestor, a resent hop) finds the first."""
    if session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.dedupe_key == effect.dedupe_key)) is not None:
        return []
    # Sent at once like a reply: the titular asked for it, through the gestor in front of her.
    message_id = _notice(session, effect.hogar_id, effect.phone, effect.text, effect.dedupe_key,
                         Purpose.REPLY)
    log.info("summary sms made hogar=%s to=%s message=%s", effect.hogar_id,
             mask_phone(effect.phone), message_id)
    return [message_id]


# --- retake: the usage record of a move refused (dialogs/phone_move.py: held).
REFUSED_KIND = "phone_move"


def log_refused(effect: RecordQuery, channel: str) -> None:
    """A log line for a refused move: the household and why, no phone."""
    log.warning("phone move refused hogar=%s reason=%s channel=%s", effect.hogar_id,
                effect.outcome.removeprefix("refused_"), channel)


def queue_notices(services: Services, message_ids: Iterable[int]) -> None:
    """Queue the committed notices' send jobs; if Redis fails, the requeue job sends them."""
    for message_id in message_ids:
        try:
            enqueue_send(services.queue, message_id, services.settings)
        except redis.RedisError:
            log.warning("notice %s stored; Redis is down, it is queued later", message_id)
