"""Delivery reports: repeated or out of order, a final state is never overwritten."""

from __future__ import annotations

import pytest
import redis as redis_lib
from flask import Flask

from core.delivery_reports import apply_kept
from models import Database, OutboxMessage
from workers.context import configure


def outbox_row(db: Database, message_id: str | None = "ATXid_1") -> int:
    with db.session() as s:
        row = OutboxMessage(recipient="+51987654321", text="Mi Juntos: prueba", encoding="gsm7",
                            segments=1, purpose="reply", status="submitted",
                            provider_message_id=message_id)
        s.add(row)
        s.flush()
        return row.id


def report(client, status: str, message_id: str = "ATXid_1", reason: str = "") -> int:
    form = {"id": message_id, "status": status, "phoneNumber": "+51987654321",
            "networkCode": "71610", "retryCount": "0"}
    if reason:
        form["failureReason"] = reason
    return client.post("/sms/delivery", data=form).status_code


def state(db: Database, row_id: int) -> tuple[str, str | None, str | None]:
    with db.session() as s:
        row = s.get(OutboxMessage, row_id)
        assert row is not None
        return row.status, row.provider_status, row.failure_reason


@pytest.mark.parametrize("sequence, final", [
    (["Sent", "Submitted", "Buffered", "Success"], ("delivered", "Success", None)),
    (["Success", "Submitted", "Sent", "Failed"], ("delivered", "Success", None)),
    (["Submitted", "Success", "Success"], ("delivered", "Success", None)),
    (["Buffered", "Submitted"], ("submitted", "Buffered", None)),
    (["Submitted", "Failed", "Success"], ("failed", "Failed", "UserIsInactive")),
    (["Rejected"], ("failed", "Rejected", "UserIsInactive")),
])
def test_reports_in_any_order(app: Flask, db: Database, sequence: list[str], final: tuple) -> None:
    row_id = outbox_row(db)
    client = app.test_client()
    for status in sequence:
        reason = "UserIsInactive" if status in ("Failed", "Rejected") else ""
        assert report(client, status, reason=reason) == 200
    assert state(db, row_id) == final


def test_malformed_reports_get_400_and_change_nothing(app: Flask, db: Database) -> None:
    row_id = outbox_row(db)
    client = app.test_client()
    bad = client.post("/sms/delivery", data={"id": "ATXid_1", "status": "Delivered!"})
    assert bad.status_code == 400 and "status: unknown value" in bad.get_data(as_text=True)
    missing = client.post("/sms/delivery", data={"status": "Success"})
    assert missing.status_code == 400 and "id: missing" in missing.get_data(as_text=True)
    assert state(db, row_id) == ("submitted", None, None)


def test_a_report_before_the_send_is_recorded_is_kept_then_applied(
    app: Flask, db: Database, redis: redis_lib.Redis, settings
) -> None:
    row_id = outbox_row(db, message_id=None)
    client = app.test_client()
    assert report(client, "Success", message_id="ATXid_early") == 200
    assert redis.llen("mijuntos:dlr:ATXid_early") == 1
    with db.session() as s:
        row = s.get(OutboxMessage, row_id)
        assert row is not None
        row.provider_message_id = "ATXid_early"  # what the send job records
    ctx = configure(settings)
    apply_kept(ctx.db, ctx.redis, "ATXid_early")
    assert state(db, row_id)[0] == "delivered"
    assert redis.exists("mijuntos:dlr:ATXid_early") == 0


def test_a_report_kept_just_after_the_sender_looked_is_not_stranded(
    app: Flask, db: Database, redis: redis_lib.Redis, settings
) -> None:
    """The interleaving, step by step: the webhook finds no row; the sender records the id and
    finds no kept report; only then does the webhook keep its report. The webhook's own second
    look applies it, so the message does not stay `submitted` for ever."""
    from core.delivery_reports import DeliveryReport, apply_kept, apply_report, keep_early_report

    row_id = outbox_row(db, message_id=None)
    late = DeliveryReport("ATXid_race", "Success", "71610")
    with db.session() as s:
        assert apply_report(s, late) == "unknown"  # 1. the webhook: no row with this id yet
    with db.session() as s:  # 2. the sender records the id and finds nothing kept
        row = s.get(OutboxMessage, row_id)
        assert row is not None
        row.provider_message_id = "ATXid_race"
    ctx = configure(settings)
    apply_kept(ctx.db, ctx.redis, "ATXid_race")
    keep_early_report(redis, late)  # 3. the webhook keeps it
    assert apply_kept(db, redis, "ATXid_race") == 1  # 4. and looks again
    assert state(db, row_id)[0] == "delivered"
    assert redis.exists("mijuntos:dlr:ATXid_race") == 0


def test_two_final_reports_at_the_same_moment_leave_one_consistent_final_state(
    app: Flask, db: Database
) -> None:
    """Success and Failed for one message posted at once, forty times over: exactly one applies
    (a conditional UPDATE), so no row ends `delivered` with a failure reason or `failed` with
    `Success` as its provider status. On PostgreSQL the two updates race for the row lock."""
    import threading

    rows = [outbox_row(db, f"ATXid_race{n}") for n in range(40)]
    outcomes: list[int] = []

    def post(status: str, n: int, barrier: threading.Barrier) -> None:
        client = app.test_client()
        barrier.wait()
        outcomes.append(report(client, status, f"ATXid_race{n}",
                               "UserIsInactive" if status == "Failed" else ""))

    for n in range(len(rows)):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=post, args=(status, n, barrier))
                   for status in ("Success", "Failed")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert outcomes == [200] * 2 * len(rows)
    finals = {state(db, row_id) for row_id in rows}
    assert finals <= {("delivered", "Success", None), ("failed", "Failed", "UserIsInactive")}, finals
