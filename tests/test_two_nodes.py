"""Two web nodes behind a balancer, one killed under load: every hop still answered, the same.

Two gunicorn nodes as the Procfile starts `web`, on one database and one Redis, behind HAProxy
(Debian's package) with retries on a failed connection or an empty response. Node A is killed
(SIGKILL, master and workers) while eight callers run whole sessions through the balancer. The
balancer's retry sends a hop that hit the dead node to the other one, and a hop whose answer was
lost is answered again from its stored reply (same sessionId and text): no caller sees an error
or a different answer, and nothing is half-done.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from models import Database
from tests.support import ROSA

# A whole session of a phone not of record: DNI, date of birth, the next payment, back, status.
SESSION = ("", ROSA["dni"], f"{ROSA['dni']}*{ROSA['dob']}", f"{ROSA['dni']}*{ROSA['dob']}*1",
           f"{ROSA['dni']}*{ROSA['dob']}*1*0")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REQUIRED = os.environ.get("HA_REQUIRED") == "1"
# Phones for the readiness probes: a new one each time (no resume offer to answer).
_probes = iter(range(10**7))
_salts = iter(random.sample(range(100, 1000), 100))  # one per test run, never the same twice


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hop(base: str, session: str, text: str, phone: str) -> tuple[int, str]:
    response = requests.post(f"{base}/ussd", timeout=10, data={
        "sessionId": session, "serviceCode": "*1880#", "phoneNumber": phone,
        "networkCode": "71610", "text": text})
    return response.status_code, response.text


def wait_answering(base: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}"
        try:
            if hop(base, f"ready-{time.monotonic_ns()}", "", f"+5193{next(_probes):07d}")[0] == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} not answering")


@pytest.fixture
def nodes(seeded: Database, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, list, str]]:
    if shutil.which("haproxy") is None:
        if REQUIRED:
            pytest.fail("HA_REQUIRED=1 but haproxy is not installed")
        pytest.skip("haproxy not installed (apt-get install haproxy)")
    env = dict(os.environ, DATABASE_URL=seeded.url, REDIS_URL=redis_url, SECRET_KEY="test-secret",
               MIJUNTOS_VAR_DIR=str(tmp_path / "var"))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    procs: list[subprocess.Popen[bytes]] = []
    ports = [free_port(), free_port()]
    try:
        for n, port in enumerate(ports):
            log = (tmp_path / f"node{n}.log").open("wb")
            procs.append(subprocess.Popen(
                [str(BIN / "gunicorn"), "wsgi:app", "--config", "gunicorn.conf.py", "--workers", "2",
                 "--bind", f"127.0.0.1:{port}", "--control-socket", str(tmp_path / f"n{n}.ctl")],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        for port, proc in zip(ports, procs, strict=True):
            wait_answering(f"http://127.0.0.1:{port}", proc)
        front = free_port()
        conf = tmp_path / "haproxy.cfg"
        conf.write_text(f"""
defaults
    mode http
    timeout connect 500ms
    timeout client 15s
    timeout server 8s
    retries 3
    option redispatch 1
    retry-on all-retryable-errors
    option http-buffer-request
frontend ussd
    bind 127.0.0.1:{front}
    default_backend web
backend web
    balance roundrobin
    server a 127.0.0.1:{ports[0]} check inter 300ms fall 1 rise 2
    server b 127.0.0.1:{ports[1]} check inter 300ms fall 1 rise 2
""")
        procs.append(subprocess.Popen(["haproxy", "-f", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=(tmp_path / "haproxy.log").open("wb")))
        base = f"http://127.0.0.1:{front}"
        wait_answering(base, procs[-1])
        yield base, procs, f"http://127.0.0.1:{ports[1]}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL) if proc.pid == os.getpgid(proc.pid) \
                        else proc.kill()
                except ProcessLookupError:
                    pass
                proc.wait()


def test_a_node_killed_under_load_costs_no_caller_an_answer(nodes: tuple[str, list, str]) -> None:
    base, procs, survivor = nodes
    salt = next(_salts)  # phones of this run only: no session's phone is reused
    # The answers a session gets, from the node that will survive (the reference).
    reference = [hop(survivor, f"reference-{salt}", text, f"+519{salt}99999") for text in SESSION]
    assert [status for status, _ in reference] == [200] * len(SESSION)
    assert "Hola Rosa" in reference[2][1], reference
    results: list[tuple[str, int, str]] = []
    stop = threading.Event()

    def caller(n: int) -> None:
        k = 0
        while not stop.is_set():
            session, phone = f"load-{salt}-{n}-{k}", f"+519{salt}{n}{k:04d}"  # one phone a session
            for text in SESSION:
                status, body = hop(base, session, text, phone)
                results.append((text, status, body))
                again = hop(base, session, text, phone)  # the aggregator resends: the same answer
                results.append((text, *again))
                assert again == (status, body), (session, text)
            k += 1

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    node_a = procs[0]
    os.killpg(node_a.pid, signal.SIGKILL)  # node A's master and workers, mid-hop
    killed = len(results)
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    expected = dict(zip(SESSION, (body for _, body in reference), strict=True))
    assert len(results) > killed + 50, "callers kept going after the kill"
    wrong = [(text, status, body[:60]) for text, status, body in results
             if status != 200 or body != expected[text]]
    assert wrong == [], wrong[:5]
    print(f"two nodes: {len(results)} hops, {len(results) - killed} after node A was killed, "
          f"all 200 with the reference answer")
