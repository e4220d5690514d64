"""Missed calls called back (issue 17, docs/VOICE.md "The missed-call line").

A mother with no balance rings the missed-call line (`VOICE_MISSED_CALL_NUMBER`) and hangs up,
or the service rejects the call, which costs her nothing. The web then queues `call_back_job`
for her phone, once per phone per hour (`queue_call_back`); a worker calls her back through the
africastalking SDK's voice service from `VOICE_NUMBER`, within the Lima calling hours
(`VOICE_CALL_WINDOW`; outside them, at the window's next opening). Africa's Talking then posts
the answered call to `/voice` (direction `Outbound`), which runs the same dialog.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import redis
import requests
from africastalking.Service import AfricasTalkingException
from africastalking.Voice import VoiceService
from rq import Queue, Retry

from core.keys import key_for
from core.privacy import mask_phone, phone_key
from core.settings import Settings
from workers.context import current
from workers.queues import sms_queue

log = logging.getLogger("mijuntos.voice_calls")
ONCE_PER = 3600  # seconds: one call back per phone in this time
RETRY = Retry(max=3, interval=[30, 120, 300])


class CallBackFailed(Exception):
    """The provider refused the call or could not be reached (rq retries the job)."""


def queue_call_back(client: redis.Redis, queue: Queue, settings: Settings, phone: str) -> bool:
    """Queue a call back to `phone` unless one was queued in the last hour; whether it was."""
    fresh = client.set(key_for("callback", phone_key(settings.secret_key, phone)), "1",
                       nx=True, ex=ONCE_PER)
    if not fresh:
        return False
    queue.enqueue(call_back_job, phone, retry=RETRY, job_timeout=60,
                  description="call back a missed call")
    return True


def next_opening(settings: Settings, now: dt.datetime) -> dt.datetime | None:
    """None inside the calling hours; else when they next open (aware, UTC)."""
    lima = ZoneInfo(settings.timezone)
    local = now.astimezone(lima)
    start, end = settings.voice_call_window
    opens = dt.time.fromisoformat(start)
    closes = dt.time(23, 59, 59, 999999) if end == "24:00" else dt.time.fromisoformat(end)
    if opens <= local.time() <= closes:
        return None
    day = local.date() if local.time() < opens else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, opens, tzinfo=lima).astimezone(dt.UTC)


def call_back_job(phone: str) -> str:
    """rq job: call `phone` back now, or queue the call for the calling hours' next opening."""
    ctx = current()
    settings = ctx.settings
    later = next_opening(settings, dt.datetime.now(dt.UTC))
    if later is not None:
        sms_queue(ctx.redis).enqueue_at(
            later, call_back_job, phone, retry=RETRY, job_timeout=60)
        log.info("call back %s: outside the calling hours, at %s", mask_phone(phone),
                 later.isoformat(timespec="minutes"))
        return "later"
    service = VoiceService(settings.at_username, settings.at_api_key or "unset")
    if settings.at_base_url:  # a stand-in: the voice API has no /version1 part
        service._baseUrl = settings.at_base_url.rstrip("/").removesuffix("/version1")
    try:
        answer = service.call(settings.voice_number, [phone])
    except AfricasTalkingException as exc:
        raise CallBackFailed(f"provider refused the call: {str(exc)[:120]}") from exc
    except requests.RequestException as exc:
        raise CallBackFailed(f"network: {type(exc).__name__}") from exc
    entries = answer.get("entries") if isinstance(answer, dict) else None
    status = str(entries[0].get("status")) if entries else "-"
    if status != "Queued":
        raise CallBackFailed(f"provider did not queue the call: {status}")
    log.info("call back %s: queued by the provider", mask_phone(phone))
    return "queued"
