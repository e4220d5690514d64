"""Sending through the outbox: a real rq worker, the real SDK, the stand-in provider over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis as redis_lib
from flask import Flask
from mijuntos_dev.fake_at import FakeAT
from rq import Queue, Worker
from sqlalchemy import select
from werkzeug.serving import make_server

from core.settings import Settings
from gateway.app import create_app
from models import Database, OptOut, OutboxMessage
from tests.support import ROSA_PHONE
from workers.api import enqueue_send
from workers.context import configure


@dataclass
class Stack:
    app: Flask
    fake: FakeAT
    db: Database
    redis: redis_lib.Redis
    settings: Settings

    def text_in(self, phone: str, text: str, sms_id: str) -> None:
        response = self.app.test_client().post("/sms/inbound", data={
            "from": phone, "to": "1880", "text": text, "id": sms_id, "linkId": "", "networkCode": "71610"})
        assert response.status_code == 200, response.get_data(as_text=True)

    def work(self) -> None:
        """A real rq worker (forking a work horse per job) in burst mode."""
        configure(self.settings)
        queue = Queue("sms", connection=self.redis)
        Worker([queue], connection=self.redis).work(burst=True)

    def rows(self) -> list[OutboxMessage]:
        with self.db.session() as s:
            return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def add(self, purpose: str, recipient: str = ROSA_PHONE) -> int:
        with self.db.session() as s:
            row = OutboxMessage(recipient=recipient, text="Mi Juntos: aviso de prueba",
                                encoding="gsm7", segments=1, purpose=purpose)
            s.add(row)
            s.flush()
            row_id = row.id
        enqueue_send(Queue("sms", connection=self.redis), row_id, self.settings)
        return row_id


@pytest.fixture
def stack(settings: Settings, seeded: Database, redis: redis_lib.Redis) -> Iterator[Stack]:
    holder: dict[str, Flask] = {}

    def wsgi(environ, start_response):  # the app is built once the stand-in's URL is known
        return holder["app"].wsgi_app(environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    callback = f"http://127.0.0.1:{server.server_port}/sms/delivery"
    with FakeAT.running(callback_url=callback, dlr_delay=0.01) as fake:
        configured = settings.with_(at_base_url=fake.root_url, at_api_key="test-key",
                                    sms_retry_intervals=(0,), sms_max_retries=3,
                                    sms_timeout_seconds=0.5)
        holder["app"] = create_app(configured)
        yield Stack(holder["app"], fake, seeded, redis, configured)
        holder["app"].extensions["mijuntos"].close()
    server.shutdown()


def test_a_reply_is_sent_through_the_sdk_and_its_delivery_report_lands(stack: Stack) -> None:
    stack.text_in(ROSA_PHONE, "PAGO", "in-1")
    stack.work()
    [sent] = stack.fake.messages
    [row] = stack.rows()
    assert sent["message"] == row.text and "Agencia BN Chulucanas" in row.text
    assert [r["number"] for r in sent["recipients"]] == [ROSA_PHONE]
    assert stack.fake.wait_for_deliveries()
    [row] = stack.rows()
    assert (row.status, row.provider_status, row.attempts) == ("delivered", "Success", 1)
    assert row.provider_message_id == sent["recipients"][0]["messageId"]
    assert row.provider_status_code == 101 and row.cost == "PEN 0.0300"
    assert row.sent_at is not None and row.final_at is not None


@pytest.mark.parametrize("fault", ["http500", "timeout", "recipient500", "recipient501", "recipient502"])
def test_transient_failures_are_retried_until_sent(stack: Stack, fault: str) -> None:
    stack.fake.plan_delivery(ROSA_PHONE)  # no delivery report: the row stays "submitted"
    if fault == "http500":
        stack.fake.fail_next(500, count=2)
    elif fault == "timeout":
        stack.fake.delay_next(1.5, count=1)
    else:
        stack.fake.fail_recipients_next(int(fault[-3:]), count=2)
    row_id = stack.add("reply")
    stack.work()
    [row] = stack.rows()
    assert row.id == row_id and row.status == "submitted", row.last_error
    assert row.attempts == (2 if fault == "timeout" else 3)
    assert row.last_error
    # Only a timed-out answer may hide a send that went through: the copy risk is recorded.
    assert row.dup_risk is (fault == "timeout")


@pytest.mark.parametrize("code, name", [(403, "InvalidPhoneNumber"), (404, "UnsupportedNumberType"),
                                        (406, "UserInBlacklist"), (407, "CouldNotRoute")])
def test_permanent_failures_are_not_retried(stack: Stack, code: int, name: str) -> None:
    stack.fake.set_number_status(ROSA_PHONE, code)
    stack.add("reply")
    stack.work()
    [row] = stack.rows()
    assert (row.status, row.failure_reason, row.attempts) == ("failed", name, 1)
    assert row.provider_message_id is None
    assert len(stack.fake.messages) == 1


def test_retries_are_bounded(stack: Stack) -> None:
    stack.fake.fail_next(503, count=10)
    stack.add("reply")
    stack.work()
    [row] = stack.rows()
    assert (row.status, row.failure_reason, row.attempts) == ("failed", "retries_exhausted", 4)
    assert len(stack.fake.messages) == 4


def test_a_failed_delivery_report_fails_the_message(stack: Stack) -> None:
    stack.fake.plan_delivery(ROSA_PHONE, "Submitted", ("Failed", "UserIsInactive"), "Success")
    stack.add("reply")
    stack.work()
    assert stack.fake.wait_for_deliveries()
    [row] = stack.rows()
    assert (row.status, row.failure_reason) == ("failed", "UserIsInactive")


def test_opted_out_phones_get_only_replies(stack: Stack) -> None:
    stack.fake.plan_delivery(ROSA_PHONE)
    with stack.db.session() as s:
        s.add(OptOut(phone=ROSA_PHONE, source="aggregator"))
    reminder = stack.add("reminder")
    reply = stack.add("reply")
    stack.work()
    rows = {r.id: r for r in stack.rows()}
    assert (rows[reminder].status, rows[reminder].failure_reason) == ("skipped", "opted_out")
    assert rows[reply].status == "submitted"
    assert len(stack.fake.messages) == 1


def test_running_a_send_job_twice_sends_once(stack: Stack) -> None:
    row_id = stack.add("reply")
    stack.work()
    enqueue_send(Queue("sms", connection=stack.redis), row_id, stack.settings)
    stack.work()
    assert len(stack.fake.messages) == 1
    assert stack.rows()[0].attempts == 1


def test_a_reply_in_flight_elsewhere_is_not_sent_again(stack: Stack) -> None:
    """A second job for a row another worker is sending (a requeue racing a retry, two
    schedulers) sends nothing; the first one's outcome stands."""
    from sqlalchemy import update

    row_id = stack.add("reply")
    with stack.db.session() as s:  # another worker took it and is in its API call
        s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                  .values(status="sending", attempts=1))
    stack.work()
    assert stack.fake.messages == []
    [row] = stack.rows()
    assert (row.status, row.attempts) == ("sending", 1)
