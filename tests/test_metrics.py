"""/metrics as Prometheus sees it: hops, lookups, locks and refusals, summed over gunicorn's
workers; and JSON log lines from every process (web, worker, scheduler)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis as redis_lib
import requests
from flask import Flask
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from core.backlog import REDIS_KEY, park
from core.embedded import EmbeddedRedis
from core.settings import Settings
from models import Database, OutboxMessage, OutboxStatus
from tests.support import JUANA, ROSA, ROSA_PHONE, STRANGER_PHONE, Phone, seed

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ("40123456", "02011985", "987654321", "955555555")
log = logging.getLogger("mijuntos.test")


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a scrape (0 when absent), matched on the labels given."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def scrape(app: Flask) -> str:
    return app.test_client().get("/metrics").get_data(as_text=True)


def test_lookups_and_new_locks_are_counted_by_channel(app: Flask, seeded: Database) -> None:
    before = scrape(app)
    client = app.test_client()
    rosa = Phone(client, ROSA_PHONE)
    rosa.dial()
    rosa.send("1")
    stranger = Phone(client, STRANGER_PHONE)
    stranger.dial()
    stranger.send(ROSA["dni"])
    stranger.send("01011999")  # one wrong date for Rosa's DNI: not a lock
    juana = Phone(client, "+51933333333")
    juana.dial()
    juana.send(JUANA["dni"])
    for wrong in ("01011999", "02021999", "03031999"):
        juana.send(wrong)  # the third locks Juana's DNI
    again = Phone(client, "+51933333333")
    again.dial()
    again.send(JUANA["dni"])  # refused: already locked (a lookup, not a new lock)
    # Rosa's DNI by SMS: a second miss, then a third (a new lock), then refused (locked).
    for n, wrong in enumerate(("01011999", "02021999", "03031999")):
        client.post("/sms/inbound", data={"id": f"lock{n}", "from": "+51944444444",
                                          "text": f"{ROSA['dni']} {wrong}"})
    after = scrape(app)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("mijuntos_lookups_total", channel="ussd", kind="next_payment", outcome="programado") == 1
    assert delta("mijuntos_lookups_total", channel="ussd", kind="verify", outcome="ok_phone") == 1
    assert delta("mijuntos_lookups_total", channel="ussd", kind="verify", outcome="dob_wrong") == 3
    assert delta("mijuntos_lookups_total", channel="ussd", kind="verify", outcome="locked") == 2
    assert delta("mijuntos_dob_lockouts_total", channel="ussd") == 1  # Juana's; Rosa's one miss is not
    assert delta("mijuntos_lookups_total", channel="sms", kind="verify", outcome="dob_wrong") == 1
    assert delta("mijuntos_lookups_total", channel="sms", kind="verify", outcome="locked") == 2
    assert delta("mijuntos_dob_lockouts_total", channel="sms") == 1  # one DNI is locked per channel
    for line in after.splitlines():
        assert not re.search(r"\d{8}", line.split(" ")[0]), line  # no DNI or phone in a label


def test_dni_limit_refusals_are_counted(settings, redis, seeded: Database) -> None:
    from gateway.app import create_app

    app = create_app(settings.with_(max_dnis_per_phone_per_day=1))
    try:
        before = scrape(app)
        phone = Phone(app.test_client(), STRANGER_PHONE)
        phone.dial()
        phone.send("11111111")  # unknown, but it takes the phone's one DNI of the day
        phone.send(JUANA["dni"])  # a second DNI: refused
        after = scrape(app)
    finally:
        app.extensions["mijuntos"].close()
    assert (sample(after, "mijuntos_dni_limit_refusals_total", channel="ussd")
            - sample(before, "mijuntos_dni_limit_refusals_total", channel="ussd")) == 1
    assert "mijuntos_dob_lockouts " not in after  # the old gauge (a DNI with any miss) is gone


def test_hops_are_counted_by_screen_and_outcome(app: Flask, seeded: Database,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    client = app.test_client()
    before = scrape(app)
    Phone(client, ROSA_PHONE).dial()
    client.post("/ussd", data={"sessionId": "x", "phoneNumber": "not a phone", "text": ""})
    import gateway.ussd

    def broken(*_args: object) -> tuple[str, str]:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(gateway.ussd, "answer", broken)
    failed = client.post("/ussd", data={"sessionId": "y", "phoneNumber": ROSA_PHONE, "text": ""})
    assert failed.get_data(as_text=True).startswith("END ")
    after = scrape(app)

    def delta(**labels: str) -> float:
        return (sample(after, "mijuntos_ussd_hops_total", **labels)
                - sample(before, "mijuntos_ussd_hops_total", **labels))

    assert delta(screen="main", kind="CON", outcome="answered") == 1
    assert delta(screen="-", kind="-", outcome="invalid") == 1
    assert delta(screen="-", kind="END", outcome="failed") == 1
    assert delta() == 3


def test_a_refused_hop_is_counted(settings, redis, seeded: Database) -> None:
    from gateway.app import create_app

    app = create_app(settings.with_(callback_secret="s3cret"))
    try:
        before = scrape(app)
        assert app.test_client().post("/ussd?key=wrong", data={"sessionId": "z"}).status_code == 403
        after = scrape(app)
    finally:
        app.extensions["mijuntos"].close()
    assert (sample(after, "mijuntos_ussd_hops_total", outcome="refused")
            - sample(before, "mijuntos_ussd_hops_total", outcome="refused")) == 1


# --- shared state read at scrape time: parked callbacks, delivery reports awaited -----------

def series(text: str, name: str) -> dict[tuple[str, ...], float]:
    """Every sample of one series in a scrape, by its label values (absent samples are absent)."""
    return {tuple(s.labels.values()): s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name}


def parked(text: str) -> dict[tuple[str, str], float]:
    """mijuntos_parked_callbacks by (store, state)."""
    return {(s.labels["store"], s.labels["state"]): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "mijuntos_parked_callbacks"}


def inbound_form(n: int, *, good: bool) -> dict[str, str]:
    """An inbound SMS as parked; a bad one (its sender not a phone) can never be replayed."""
    return {"id": f"park{n}", "from": ROSA_PHONE if good else "not a phone", "text": "AYUDA"}


def redis_down() -> redis_lib.Redis:
    return redis_lib.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)


def test_parked_callbacks_are_counted_where_they_wait(app: Flask, seeded: Database,
                                                      redis: redis_lib.Redis) -> None:
    from gateway.inbound import replay_parked

    services = app.extensions["mijuntos"]
    assert parked(scrape(app)) == {("redis", "waiting"): 0, ("redis", "set_aside"): 0,
                                   ("database", "waiting"): 0, ("database", "set_aside"): 0}
    for n, good in enumerate((True, False, False, True)):
        assert park(services.redis, services.db, "inbound", inbound_form(n, good=good)) == "redis"
    for n, good in enumerate((False, True), start=10):  # Redis down: the database takes them
        assert park(redis_down(), services.db, "inbound", inbound_form(n, good=good)) == "database"
    assert parked(scrape(app)) == {("redis", "waiting"): 4, ("redis", "set_aside"): 0,
                                   ("database", "waiting"): 2, ("database", "set_aside"): 0}
    assert replay_parked(services) == 3  # the good ones; the bad ones are set aside
    assert parked(scrape(app)) == {("redis", "waiting"): 0, ("redis", "set_aside"): 2,
                                   ("database", "waiting"): 0, ("database", "set_aside"): 1}


def test_with_redis_stopped_the_database_still_counts_its_parked_callbacks(
        tmp_path: Path, seeded: Database, caplog: pytest.LogCaptureFixture) -> None:
    from gateway.app import create_app

    server = EmbeddedRedis(tmp_path / "redis")
    app = create_app(Settings(var_dir=tmp_path, database_url=seeded.url, redis_url=server.start(),
                              secret_key="k"))
    services = app.extensions["mijuntos"]
    try:
        assert park(services.redis, services.db, "inbound", inbound_form(1, good=True)) == "redis"
        server.kill()
        for kind, form in (("delivery", {"id": "ATX-1", "status": "Success"}),
                           ("optout", {"phoneNumber": ROSA_PHONE})):
            assert park(services.redis, services.db, kind, form) == "database"  # Redis is down
        with caplog.at_level(logging.WARNING, logger="mijuntos.ops"):
            response = app.test_client().get("/metrics")
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert parked(text) == {("database", "waiting"): 2, ("database", "set_aside"): 0}
        assert series(text, "mijuntos_outbox_oldest_submitted_seconds") == {(): 0}  # the database's
        assert series(text, "mijuntos_queue_depth") == {}
        assert "metrics: Redis not readable" in caplog.messages
        back = redis_lib.Redis.from_url(server.start())  # back (empty: it kept nothing on disk)
        assert parked(scrape(app))[("redis", "waiting")] == back.llen(REDIS_KEY) == 0
        back.close()
    finally:
        services.close()
        server.stop()


def test_with_the_database_unreadable_redis_still_counts_its_parked_callbacks(
        tmp_path: Path, redis: redis_lib.Redis, redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from gateway.app import create_app

    app = create_app(Settings(var_dir=tmp_path, database_url="sqlite:////proc/no-such-dir/m.db",
                              redis_url=redis_url, secret_key="k"))
    services = app.extensions["mijuntos"]
    try:
        park(services.redis, services.db, "inbound", inbound_form(1, good=True))
        with caplog.at_level(logging.WARNING, logger="mijuntos.ops"):
            text = scrape(app)
    finally:
        services.close()
    assert parked(text) == {("redis", "waiting"): 1, ("redis", "set_aside"): 0}
    # No age rather than a 0 that would say every report came: the alert then has nothing to judge.
    assert series(text, "mijuntos_outbox_oldest_submitted_seconds") == {}
    assert series(text, "mijuntos_outbox_submitted_late") == {}
    assert "metrics: database not readable" in caplog.messages


def test_the_delivery_reports_still_awaited(app: Flask, db: Database) -> None:
    start = dt.datetime.now(dt.UTC)
    sent = {  # provider message id -> (status, how long ago it was sent)
        "ATX-recent": (OutboxStatus.SUBMITTED, dt.timedelta(minutes=30)),  # not late yet
        "ATX-oldest": (OutboxStatus.SUBMITTED, dt.timedelta(hours=3)),
        "ATX-late": (OutboxStatus.SUBMITTED, dt.timedelta(hours=2)),
        "ATX-lost": (OutboxStatus.SUBMITTED, dt.timedelta(hours=30)),  # its report never came
        "ATX-done": (OutboxStatus.DELIVERED, dt.timedelta(hours=5)),
        "ATX-failed": (OutboxStatus.FAILED, dt.timedelta(hours=4)),
    }
    with db.session() as s:
        s.add_all(OutboxMessage(recipient=ROSA_PHONE, text="Mi Juntos: prueba", encoding="gsm7",
                                segments=1, purpose="reminder", kind="reminder", status=status,
                                provider_message_id=message_id, sent_at=start - ago)
                  for message_id, (status, ago) in sent.items())
        s.add(OutboxMessage(recipient=ROSA_PHONE, text="Mi Juntos: prueba", encoding="gsm7",
                            segments=1, purpose="reminder", kind="reminder"))  # pending, not sent

    def awaited() -> tuple[float, float, float]:
        """The oldest's age, the late ones, and how long the scrape can have been after `start`."""
        text = scrape(app)
        elapsed = (dt.datetime.now(dt.UTC) - start).total_seconds()
        [age] = series(text, "mijuntos_outbox_oldest_submitted_seconds").values()
        [late] = series(text, "mijuntos_outbox_submitted_late").values()
        return age, late, elapsed

    age, late, elapsed = awaited()
    assert 3 * 3600 <= age <= 3 * 3600 + elapsed
    assert late == 2  # sent 3 h and 2 h ago; not the one 30 min ago, nor the lost one
    client = app.test_client()
    assert client.post("/sms/delivery", data={"id": "ATX-oldest", "status": "Success"}).status_code == 200
    age, late, elapsed = awaited()
    assert 2 * 3600 <= age <= 2 * 3600 + elapsed and late == 1
    for message_id in ("ATX-late", "ATX-recent"):
        client.post("/sms/delivery", data={"id": message_id, "status": "Failed",
                                           "failureReason": "DeliveryFailure"})
    assert awaited()[:2] == (0, 0)  # only the lost one is still submitted, out of the last day
    assert sample(scrape(app), "mijuntos_outbox_messages", status="submitted") == 1


# --- the shipped web process: gunicorn with several workers ---------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _procfile(process: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise AssertionError(f"Procfile: no {process} process")


def _json_lines(text: str) -> list[dict[str, object]]:
    """Every non-empty line parsed as a JSON object (an assertion error names the first that is not)."""
    parsed = []
    for line in text.splitlines():
        if line.strip():
            try:
                parsed.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"not a JSON line: {line!r}") from None
    return parsed


def _hops_by_file(directory: Path) -> dict[str, float]:
    """USSD hops each worker wrote to its own file (which workers served them)."""
    found: dict[str, float] = {}
    for path in directory.glob("counter_*.db"):
        for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path)):
            if json.loads(key)[0] == "mijuntos_ussd_hops":
                found[path.name] = found.get(path.name, 0) + value
    return found


def test_metrics_are_summed_across_gunicorn_workers(tmp_path: Path, redis: redis_lib.Redis,
                                                     redis_url: str) -> None:
    """The Procfile's web command, 3 workers: every scrape shows every worker's hops."""
    db = Database(f"sqlite:///{tmp_path / 'web.db'}")
    db.upgrade()
    seed(db)
    db.dispose()
    port = _free_port()
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(PORT=str(port), WEB_CONCURRENCY="3", DATABASE_URL=f"sqlite:///{tmp_path / 'web.db'}",
               REDIS_URL=redis_url, SECRET_KEY="test-secret", MIJUNTOS_VAR_DIR=str(tmp_path / "var"),
               LOG_FORMAT="json", TMPDIR=str(tmp_path / "tmp"),
               # gunicorn's control socket defaults to one path per user: leave other servers' alone
               GUNICORN_CMD_ARGS="--no-control-socket",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    stderr = (tmp_path / "web.err").open("w+")
    stdout = (tmp_path / "web.out").open("w+")
    proc = subprocess.Popen(["sh", "-c", "exec " + _procfile("web")], cwd=ROOT, env=env,
                            stdout=stdout, stderr=stderr, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while (tmp_path / "web.err").read_text().count("Booting worker") < 3:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "web.err").read_text()
            time.sleep(0.1)
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, (tmp_path / "web.err").read_text()
            time.sleep(0.1)
        [metrics_dir] = (tmp_path / "tmp").glob("mijuntos-metrics-*")
        while len(list(metrics_dir.glob("counter_*.db"))) < 3:  # every worker has loaded the app
            with ThreadPoolExecutor(6) as pool:
                list(pool.map(lambda _n: requests.get(f"{base}/healthz", timeout=10), range(6)))
            assert time.monotonic() < deadline, list(metrics_dir.iterdir())

        sessions = 24

        def session(n: int) -> list[str]:
            form = {"sessionId": f"g{n}", "phoneNumber": ROSA_PHONE, "serviceCode": "*1880#"}
            replies = []
            for text in ("", "1"):
                r = requests.post(f"{base}/ussd", data={**form, "text": text}, timeout=10)
                replies.append(r.text)
            return replies

        with ThreadPoolExecutor(6) as pool:  # concurrent: the three workers all take hops
            answers = list(pool.map(session, range(sessions)))
        # (a later session of the phone may be offered to resume an earlier one: still a CON)
        assert all(r.startswith("CON ") for a in answers for r in a), answers
        requests.post(f"{base}/sms/inbound", data={"id": "w1", "from": STRANGER_PHONE,
                                                   "text": f"{JUANA['dni']} {JUANA['dob']}"}, timeout=10)
        served = _hops_by_file(metrics_dir)
        assert len(served) >= 2 and sum(served.values()) == 2 * sessions, served

        def scraped(_n: int) -> tuple[float, float]:
            text = requests.get(f"{base}/metrics", timeout=10).text
            return (sample(text, "mijuntos_ussd_hops_total"),
                    sample(text, "mijuntos_http_requests_total", route="/ussd"))

        with ThreadPoolExecutor(3) as pool:
            scrapes = list(pool.map(scraped, range(9)))
        assert scrapes == [(2 * sessions, 2 * sessions)] * 9
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        stderr.close()
        stdout.close()
    assert not list((tmp_path / "tmp").glob("mijuntos-metrics-*"))  # removed when gunicorn stops
    lines = _json_lines((tmp_path / "web.err").read_text() + (tmp_path / "web.out").read_text())
    assert any("Booting worker" in str(e["message"]) for e in lines)
    assert any(str(e["logger"]) == "mijuntos.sms" for e in lines)  # the app's lines too
    text = json.dumps(lines)
    for secret in SECRETS:
        assert secret not in text


# --- worker and scheduler -------------------------------------------------------------------

def leaky_job() -> None:
    """A job whose log line and error carry a DNI, a phone and a birth date."""
    log.warning("looking up dni %s for %s", JUANA["dni"], STRANGER_PHONE)
    raise RuntimeError(f"no household for {JUANA['dni']} born {JUANA['dob']}")


def _cli_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    env = dict(os.environ, LOG_FORMAT="json", REDIS_URL=redis_url, SECRET_KEY="test-secret",
               DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", MIJUNTOS_VAR_DIR=str(tmp_path / "var"))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def test_the_worker_logs_json_lines_without_personal_data(tmp_path: Path, redis: redis_lib.Redis,
                                                          redis_url: str) -> None:
    from rq import Queue

    Queue("sms", connection=redis).enqueue("tests.test_metrics.leaky_job")
    done = subprocess.run([sys.executable, "-m", "mijuntos.cli", "worker", "--burst"], cwd=ROOT,
                          env=_cli_env(tmp_path, redis_url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = _json_lines(done.stderr + done.stdout)
    assert any("looking up dni" in str(e["message"]) for e in lines)
    assert any("RuntimeError" in json.dumps(e) for e in lines)  # rq's report of the failed job
    text = json.dumps(lines)
    for secret in SECRETS:
        assert secret not in text


def test_the_scheduler_logs_json_lines(tmp_path: Path, redis: redis_lib.Redis, redis_url: str) -> None:
    err = (tmp_path / "scheduler.err").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "mijuntos.cli", "scheduler"], cwd=ROOT,
                            env=_cli_env(tmp_path, redis_url), stdout=err, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        output = tmp_path / "scheduler.err"
        while "Enqueued job" not in output.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        err.close()
    lines = _json_lines((tmp_path / "scheduler.err").read_text())
    assert any("Enqueued job" in str(e["message"]) for e in lines)
