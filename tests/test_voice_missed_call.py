"""The missed-call line through a real worker: a caller with no balance rings and is rejected
(free for her); a worker calls her back through the africastalking SDK's voice service (against
the stand-in), once per phone an hour, within the Lima calling hours; the call back runs the
same dialog through /voice."""

from __future__ import annotations

import datetime as dt

import redis as redis_lib
from mijuntos_dev.fake_voice import FakeVoice, Outcome, inbound_call
from rq import Queue, SimpleWorker

from core.settings import Settings
from gateway.app import create_app
from models import Database
from tests.support import ROSA_PHONE
from workers.context import configure
from workers.voice_calls import next_opening

MISSED, LINE = "+5111880000", "+5111880001"


def test_a_missed_call_is_rejected_and_called_back_once_an_hour(
    settings: Settings, seeded: Database, redis: redis_lib.Redis
) -> None:
    app = create_app(settings.with_(voice_missed_call_number=MISSED, voice_number=LINE,
                                    voice_call_window=("00:00", "24:00")))
    client = app.test_client()
    try:
        with FakeVoice.running(ring_url="http://localhost/voice", client=client) as fake:
            configured = app.extensions["mijuntos"].settings.with_(
                at_base_url=fake.base_url, at_api_key="test-key")
            fake.answer(ROSA_PHONE, "1", "0", "0")
            rang = inbound_call("http://localhost/voice", ROSA_PHONE, missed=True,
                                destination=MISSED, client=client)
            assert rang.outcome == Outcome.REJECTED and not rang.amount  # free for her
            again = inbound_call("http://localhost/voice", ROSA_PHONE, missed=True,
                                 destination=MISSED, client=client)
            assert again.outcome == Outcome.REJECTED
            configure(configured, settings.redis_url)
            queue = Queue("sms", connection=redis)
            assert queue.count == 1  # the second ring within the hour queued nothing
            SimpleWorker([queue], connection=redis).work(burst=True)
            [request] = fake.requests
            assert request["from"] == LINE and request["to"] == [ROSA_PHONE]
            [call] = fake.wait_for_calls(1, timeout=10)
            heard = " ".join(call.said)
            assert heard.startswith("Hola, le llama Mi Juntos"), heard
            assert "Lleve su DNI" in heard and "Gracias por usar" in heard
            assert call.outcome == Outcome.COMPLETED, (call.outcome, call.errors)
    finally:
        app.extensions["mijuntos"].close()


def test_outside_the_calling_hours_the_call_back_waits_for_the_next_opening(
    settings: Settings,
) -> None:
    hours = settings.with_(voice_call_window=("08:00", "20:00"))
    lima = dt.timezone(dt.timedelta(hours=-5))
    assert next_opening(hours, dt.datetime(2026, 12, 3, 10, 0, tzinfo=lima)) is None
    late = next_opening(hours, dt.datetime(2026, 12, 3, 21, 30, tzinfo=lima))
    assert late == dt.datetime(2026, 12, 4, 8, 0, tzinfo=lima)
    early = next_opening(hours, dt.datetime(2026, 12, 3, 6, 15, tzinfo=lima))
    assert early == dt.datetime(2026, 12, 3, 8, 0, tzinfo=lima)
