"""Redis Sentinel on the real engine: a primary, a replica and three Sentinels started here, the
service on `redis+sentinel://`, the primary killed (-9) mid-session. The caller gets the polite
END while the Sentinels fail over, then the service is whole again without restarting anything:
the same session goes on (its state was replicated), and an rq worker sends through the new
primary."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from mijuntos_dev.fake_at import FakeAT
from mijuntos_dev.ha import SERVICE, SentinelSet, wait_for
from rq import Queue, SimpleWorker

from core.connections import redis_client
from core.settings import Settings
from gateway.app import create_app
from models import Database, OutboxMessage
from tests.support import ROSA_PHONE, Phone, text_in
from tests.test_two_schedulers import jobs_of, start, stop
from workers.context import configure

POLITE = "END Lo sentimos"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelSet]:
    found = SentinelSet(tmp_path / "ha")
    try:
        found.start()
        yield found
    finally:
        found.stop()


def test_the_redis_url_may_name_the_sentinels(cluster: SentinelSet) -> None:
    settings = Settings.from_env({"REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in cluster.sentinels),
                                  "REDIS_SENTINEL_MASTER": SERVICE})
    assert settings.redis_url == cluster.url
    client = redis_client(settings.redis_url)
    client.set("mijuntos:probe", "1")
    assert redis_lib.Redis(port=cluster.primary).get("mijuntos:probe") == b"1"  # the primary


def test_a_primary_killed_mid_session_costs_polite_ends_then_the_service_is_whole_again(
    cluster: SentinelSet, settings: Settings, seeded: Database
) -> None:
    with FakeAT.running() as fake:
        configured = settings.with_(redis_url=cluster.url, at_base_url=fake.root_url,
                                    at_api_key="test-key", sms_retry_intervals=(0,))
        app = create_app(configured)
        try:
            phone = Phone(app.test_client(), ROSA_PHONE)
            assert "Hola Rosa" in phone.dial()
            # The session is on the replica before the primary dies (replication is async).
            assert wait_for(lambda: redis_lib.Redis(port=cluster.replica).exists(
                f"mijuntos:ussd:{phone.session_id}"), 5)
            cluster.kill_primary()
            killed = time.monotonic()
            answers: list[tuple[float, str]] = []
            while time.monotonic() - killed < 30:
                body = Phone(app.test_client(), ROSA_PHONE).dial()  # always 200 (Phone checks)
                answers.append((time.monotonic() - killed, body))
                if "Hola Rosa" in body:
                    break
                assert body.startswith(POLITE), body
                time.sleep(0.2)
            whole = answers[-1][0]
            assert "Hola Rosa" in answers[-1][1], answers[-3:]
            assert whole < 20, whole  # no process restarted: the clients asked the Sentinels
            # The session from before the failover goes on where it was.
            assert "Pago 2026-6" in phone.send("1")
            # An SMS: its send job queued on the new primary, sent by a worker on the Sentinels.
            text_in(app.test_client(), ROSA_PHONE, "PAGO")
            configure(configured, cluster.url)
            connection = redis_client(cluster.url, blocking=True)
            SimpleWorker([Queue("sms", connection=connection)], connection=connection).work(burst=True)
            [sent] = fake.messages
            assert sent["recipients"][0]["number"] == ROSA_PHONE
            with seeded.session() as s:
                assert [r.status for r in s.query(OutboxMessage)] in (["submitted"], ["delivered"])
        finally:
            app.extensions["mijuntos"].close()
    print(f"failover: {sum(1 for _, b in answers if b.startswith(POLITE))} polite ENDs, "
          f"whole again after {whole:.1f} s")


def test_the_worker_and_the_scheduler_outlive_the_failover(
    cluster: SentinelSet, settings: Settings, seeded: Database, tmp_path: Path
) -> None:
    """rq's loops quit when Redis is lost under them; `mijuntos worker` and `mijuntos scheduler`
    start them again on the new primary, with no process restarted by hand."""
    with FakeAT.running() as fake:
        env = dict(os.environ, DATABASE_URL=seeded.url, REDIS_URL=cluster.url, SECRET_KEY="test-secret",
                   AT_BASE_URL=fake.root_url, AT_API_KEY="test-key", LOG_LEVEL="WARNING",
                   MIJUNTOS_VAR_DIR=str(tmp_path / "var"))
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        logs = {name: tmp_path / f"{name}.log" for name in ("worker", "scheduler")}
        procs = {"worker": start(["worker"], env, logs["worker"]),
                 "scheduler": start(["scheduler", "--dispatch-every", "1"], env, logs["scheduler"])}
        try:
            before = redis_lib.Redis(port=cluster.primary)
            assert wait_for(lambda: jobs_of("dispatch-reminders", before), 30), logs_of(logs)
            cluster.kill_primary()
            killed = time.time()
            assert wait_for(lambda: cluster.current_primary() in cluster.replicas, 30)
            after = redis_lib.Redis(port=cluster.current_primary() or 0)
            # The scheduler enqueues on the new primary; the worker runs what it enqueues.
            assert wait_for(lambda: any(j.ended_at and j.ended_at.timestamp() > killed
                                        for j in jobs_of("dispatch-reminders", after)), 40), \
                logs_of(logs)
            # And a reply queued now by the web is sent by the same worker process.
            configured = settings.with_(redis_url=cluster.url, at_base_url=fake.root_url,
                                        at_api_key="test-key")
            app = create_app(configured)
            try:
                text_in(app.test_client(), ROSA_PHONE, "PAGO")
            finally:
                app.extensions["mijuntos"].close()
            assert wait_for(lambda: fake.messages, 30), logs_of(logs)
            assert all(p.poll() is None for p in procs.values()), logs_of(logs)
            # The worker saw the primary go: either rq's loop quit and ours started it again,
            # or rq's own dequeue loop was waiting for Redis when it went and asked again
            # (which one depends on where the loop was at the kill).
            seen = logs["worker"].read_text()
            assert "starting it again" in seen or "could not connect to Redis" in seen, seen
        finally:
            asked = time.monotonic()
            stop(list(procs.values()))
            took = time.monotonic() - asked
    # Asked to stop (SIGTERM), both ended on their own, promptly (rq's pubsub thread used to
    # hold the worker up to a minute after a failover).
    assert [p.returncode for p in procs.values()] == [0, 0], logs_of(logs)
    assert took < 15, took


def logs_of(logs: dict[str, Path]) -> dict[str, str]:
    return {name: path.read_text()[-3000:] for name, path in logs.items() if path.exists()}
