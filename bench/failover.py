"""Benchmark: a failover on payment day, under load, with a reminder wave sending (issue 16).

    .venv/bin/python bench/failover.py                   # both faults, one after the other
    .venv/bin/python bench/failover.py --fault redis     # kill -9 the Redis primary
    .venv/bin/python bench/failover.py --fault postgres  # stop the PostgreSQL primary, promote
    .venv/bin/python bench/failover.py --fault postgres --synchronous   # synchronous standby

Each run starts, on loopback, the production stack with its HA engines: a Redis primary with two
replicas and three Sentinels, a PostgreSQL primary with a streaming standby (pg_basebackup; run
as the postgres user, so as root), demo data for --households imported into it, the stand-in
provider (in this process, keeping every message; its delivery reports go to the web), and the
Procfile's processes: `web` (gunicorn, 2 workers), two `worker`s and the `scheduler` (dispatch
every 2 s). Nothing else of ours is replaced.

A reminder wave to every household with a phone is planned, then sent at --sms-rate while
--callers callers run whole USSD sessions (phone of record: menu, next payment, back, status,
back, exit) at a steady pace and an inbound SMS ("PAGO" from another phone each time) arrives
every second. --fault-at seconds in, the fault: the Redis primary SIGKILLed, or the PostgreSQL
primary stopped (`pg_ctl -m immediate`) and the standby promoted --promote-after seconds later
(an operator's or an HA manager's decision; the service only follows). The load goes on to
--seconds; then the wave and the replies are left to finish, and the harness counts:

- hops: answered normally, answered with the polite END (and from when to when), lost (no answer
  within the aggregator's 10 s, or a non-200);
- sessions cut by a polite END, and of those how many were offered their resume on redialling
  and went on from there;
- the time from the fault until every hop was answered normally again (no process restarted);
- SMS: every outbox row that should have gone, against what the provider received: lost
  (never received), sent twice (one phone, one text, more than once), and rows left unsent or
  without a final delivery report;
- inbound SMS: each answered 200, and each given exactly one reply.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mijuntos_dev.fake_at import FakeAT  # noqa: E402
from mijuntos_dev.ha import PostgresPair, SentinelSet, free_port, postgres_available  # noqa: E402
from support import say  # noqa: E402
from ussd_data import BIN, ROOT, demo_csv, run_import, sample_identities, stranger_phones  # noqa: E402

SECRET = "bench-callbacks"
POLITE = "END Lo sentimos"
RESUME = "Tiene una consulta sin terminar"
# A whole session of a phone of record, as the aggregator sends its text (inputs joined by *).
SESSION = ("", "1", "1*0", "1*0*2", "1*0*2*0", "1*0*2*0*0")
# Hops of SESSION whose previous screen is worth resuming (next payment, status). Resuming the
# main menu of a phone of record saves nothing, so none is offered (dialogs/engine.py: start).
WORTH_RESUMING = (2, 4)
AGGREGATOR_TIMEOUT = 10.0  # Africa's Talking gives up on a hop after about this


@dataclass
class Hop:
    at: float  # seconds since the load started, when the hop was sent
    seconds: float
    outcome: str  # ok, polite, lost


@dataclass
class Load:
    """What the callers and the SMS sender saw."""

    hops: list[Hop] = field(default_factory=list)
    cut: int = 0  # sessions that got a polite END
    cut_at: collections.Counter[int] = field(default_factory=collections.Counter)  # at which hop
    resumed: int = 0  # of those: the redial offered the resume, and it went on
    restarted: int = 0  # of those: the redial began anew (no offer)
    inbound: dict[str, tuple[str, int]] = field(default_factory=dict)  # id: (phone, HTTP status)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, hop: Hop) -> None:
        with self.lock:
            self.hops.append(hop)


class Stack:
    """The engines and the Procfile's processes for one run."""

    def __init__(self, root: Path, households: int, sms_rate: int, synchronous: bool) -> None:
        self.root = root
        self.households = households
        self.sms_rate = sms_rate
        self.redis = SentinelSet(root / "redis", replicas=2)
        self.pg = PostgresPair(root / "pg", synchronous=synchronous)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.fake: FakeAT | None = None
        self._fake_cm: Any = None

    def env(self) -> dict[str, str]:
        assert self.fake is not None
        env = dict(os.environ)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(
            MIJUNTOS_ENV="production", DATABASE_URL=self.pg.url, REDIS_URL=self.redis.url,
            SECRET_KEY="bench-secret", CALLBACK_SECRET=SECRET, MIJUNTOS_VAR_DIR=str(self.root / "var"),
            AT_USERNAME="sandbox", AT_API_KEY="bench", AT_BASE_URL=self.fake.base_url,
            SMS_RATE_LIMIT=str(self.sms_rate), SMS_SEND_WINDOW="00:00-24:00",
            # Every household's one reminder is due now (as bench/support.py's waves).
            REMINDER_OFFSETS_DAYS="30", SMS_RETRY_INTERVALS="2,5,10",
            # A claim cut off by the fault is taken back after 30 s (default 120 s).
            SMS_CLAIM_STALE_SECONDS="30", LOG_LEVEL="WARNING", WEB_CONCURRENCY="2",
            PORT=str(self.port),
        )
        return env

    def start(self) -> None:
        say("starting Redis (primary, 2 replicas, 3 Sentinels) and PostgreSQL (primary, standby)")
        self.redis.start()
        self.pg.create()
        self._fake_cm = FakeAT.running(
            callback_url=f"{self.base}/sms/delivery?key={SECRET}", dlr_delay=0.5)
        self.fake = self._fake_cm.__enter__()
        env = self.env()
        directory = demo_csv(self.households)
        say(f"importing {self.households} demo households into the primary")
        run_import(self.pg.url, directory)
        subprocess.run([str(BIN / "mijuntos"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)

    def plan(self) -> str:
        planned = subprocess.run([str(BIN / "mijuntos"), "reminders", "plan"], cwd=ROOT,
                                 env=self.env(), check=True, capture_output=True, text=True)
        return planned.stdout.strip().splitlines()[-1] if planned.stdout.strip() else ""

    def start_processes(self) -> None:
        env = self.env()
        web = re.search(r"^web:\s*(.+)$", (ROOT / "Procfile").read_text(), re.M)
        assert web is not None, "the Procfile has a web line"
        commands = {
            # Its control socket here, not in the checkout (where a killed run would leave it).
            "web": ["bash", "-c", f"{web.group(1)} --control-socket {self.root / 'gunicorn.ctl'}"],
            "worker1": [str(BIN / "mijuntos"), "worker"],
            "worker2": [str(BIN / "mijuntos"), "worker"],
            "scheduler": [str(BIN / "mijuntos"), "scheduler", "--dispatch-every", "2",
                          "--plan-every", "3600"],
        }
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        for name, command in commands.items():
            log = (self.root / f"{name}.log").open("wb")
            self.procs[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"web not ready; see {self.root / 'web.log'}")

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.procs.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        if self._fake_cm is not None:
            self._fake_cm.__exit__(None, None, None)
        self.redis.stop()
        self.pg.stop()


# -- the load ---------------------------------------------------------------------------------


def hop(base: str, session: str, phone: str, text: str) -> tuple[str, str]:
    """One USSD hop as the aggregator sends it: (outcome, body)."""
    try:
        response = requests.post(f"{base}/ussd?key={SECRET}", timeout=AGGREGATOR_TIMEOUT, data={
            "sessionId": session, "serviceCode": "*1880#", "phoneNumber": phone,
            "networkCode": "71610", "text": text})
    except requests.RequestException:
        return "lost", ""
    if response.status_code != 200:
        return "lost", f"HTTP {response.status_code}"
    return ("polite" if response.text.startswith(POLITE) else "ok"), response.text


def caller(n: int, phone: str, base: str, started: float, stop: threading.Event, pace: float,
           load: Load) -> None:
    """Whole sessions, one hop every `pace` seconds; after a polite END, a redial."""
    sessions = itertools.count()

    def send(session: str, text: str) -> tuple[str, str]:
        sent = time.monotonic()
        outcome, body = hop(base, session, phone, text)
        load.add(Hop(sent - started, time.monotonic() - sent, outcome))
        time.sleep(max(0.0, pace - (time.monotonic() - sent)))
        return outcome, body

    while not stop.is_set():
        session = f"fo-{n}-{next(sessions)}-{time.monotonic_ns()}"
        for step, text in enumerate(SESSION):
            if stop.is_set():
                return
            outcome, _ = send(session, text)
            if outcome == "ok":
                continue
            if outcome == "polite":
                with load.lock:
                    load.cut += 1
                    load.cut_at[step] += 1
                redial(n, phone, send, sessions, stop, load)
            break


def redial(n: int, phone: str, send: Any, sessions: Any, stop: threading.Event, load: Load) -> None:
    """The caller dials again until answered: the resume offer (taken), or the main menu."""
    while not stop.is_set():
        session = f"fo-{n}-{next(sessions)}-{time.monotonic_ns()}"
        outcome, body = send(session, "")
        if outcome != "ok":
            continue
        if RESUME in body:
            outcome, _ = send(session, "1")
            if outcome == "ok":
                with load.lock:
                    load.resumed += 1
                return
            continue
        with load.lock:
            load.restarted += 1
        return


def sms_sender(phones: list[str], base: str, stop: threading.Event, load: Load) -> None:
    """An inbound SMS a second, each from another phone (one reply each is expected)."""
    for n, phone in enumerate(phones):
        if stop.wait(1.0):
            return
        sms_id = f"fo-in-{n}"
        try:
            status = requests.post(f"{base}/sms/inbound?key={SECRET}", timeout=AGGREGATOR_TIMEOUT,
                                   data={"id": sms_id, "from": phone, "to": "1880",
                                         "text": "PAGO", "date": "2026-12-03 10:00:00"}).status_code
        except requests.RequestException:
            status = 0
        with load.lock:
            load.inbound[sms_id] = (phone, status)


# -- the figures --------------------------------------------------------------------------------


def hop_figures(load: Load, fault_at: float, whole_from: float) -> dict[str, Any]:
    """Counts of hops, the polite window, and when the service was whole again."""
    hops = sorted(load.hops, key=lambda h: h.at)
    bad = [h for h in hops if h.outcome != "ok" and h.at >= fault_at - 1]
    after = [h for h in hops if h.at >= fault_at]
    last_bad = max((h.at + h.seconds for h in bad), default=None)
    latencies = sorted(h.seconds for h in hops if h.outcome == "ok")
    return {
        "hops": len(hops),
        "ok": sum(h.outcome == "ok" for h in hops),
        "polite": sum(h.outcome == "polite" for h in hops),
        "hops_lost": sum(h.outcome == "lost" for h in hops),
        "hops_per_s": len(hops) / max(h.at for h in hops) if hops else 0.0,
        "polite_from_s": min((h.at for h in bad), default=None),
        "polite_until_s": last_bad,
        "polite_window_s": (last_bad - min(h.at for h in bad)) if bad and last_bad else 0.0,
        "whole_after_fault_s": (last_bad - fault_at) if last_bad else 0.0,
        "whole_after_promotion_s": (last_bad - whole_from) if last_bad and whole_from > fault_at
        else None,
        "slowest_after_fault_s": max((h.seconds for h in after), default=0.0),
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
        "sessions_cut": load.cut,
        "sessions_cut_worth_resuming": sum(load.cut_at[n] for n in WORTH_RESUMING),
        "sessions_cut_at": dict(sorted(load.cut_at.items())),
        "sessions_resumed": load.resumed,
        "sessions_restarted": load.restarted,
    }


def sms_figures(url: str, fake: FakeAT, load: Load) -> dict[str, Any]:
    """The outbox against what the provider received: lost, twice, unsent, no final report."""
    from sqlalchemy import select

    from models import Database, OutboxMessage

    received: collections.Counter[tuple[str, str]] = collections.Counter()
    for request in fake.messages:
        for recipient in request.get("recipients", []):
            if str(recipient.get("status", "")).lower() == "success":
                received[(recipient["number"], request["message"])] += 1
    db = Database(url)
    try:
        with db.session() as s:
            rows = s.execute(select(OutboxMessage.recipient, OutboxMessage.text, OutboxMessage.status,
                                    OutboxMessage.purpose, OutboxMessage.dedupe_key,
                                    OutboxMessage.dup_risk)).all()
    finally:
        db.dispose()
    meant = [r for r in rows if r.status != "skipped"]
    pairs = {(r.recipient, r.text) for r in meant}
    status = collections.Counter(r.status for r in rows)
    replies = collections.Counter(r.dedupe_key for r in rows
                                  if (r.dedupe_key or "").startswith("reply:fo-in-"))
    inbound_ok = sum(1 for _, code in load.inbound.values() if code == 200)
    return {
        "outbox": dict(status),
        "meant": len(meant),
        "received": sum(received.values()),
        "sms_lost": sum(1 for p in pairs if received[p] == 0),
        "twice": sum(n - 1 for n in received.values() if n > 1),
        "twice_flagged_dup_risk": sum(1 for r in meant if r.dup_risk),
        "unsent": status.get("pending", 0) + status.get("sending", 0),
        "failed": status.get("failed", 0),
        "no_final_report": status.get("submitted", 0),
        "inbound_posted": len(load.inbound),
        "inbound_200": inbound_ok,
        "inbound_replied_once": sum(1 for sms_id in load.inbound if replies[f"reply:{sms_id}"] == 1),
        "inbound_replied_twice": sum(1 for sms_id in load.inbound if replies[f"reply:{sms_id}"] > 1),
    }


def wave_done(url: str, inbound: int) -> bool:
    """Nothing left to send, and every inbound SMS has its reply row."""
    from sqlalchemy import func, select

    from models import Database, OutboxMessage

    db = Database(url)
    try:
        with db.session() as s:
            left = s.scalar(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.status.in_(("pending", "sending"))))
            replies = s.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.dedupe_key.like("reply:fo-in-%")))
    except Exception:
        return False
    finally:
        db.dispose()
    return left == 0 and replies >= inbound


def run(fault: str, args: argparse.Namespace) -> dict[str, Any]:
    root = Path("/tmp") / f"mj-failover-{os.getpid()}-{fault}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.chown(root, "postgres")
    stack = Stack(root, args.households, args.sms_rate, args.synchronous)
    try:
        stack.start()
        say(f"planning the wave: {stack.plan()}")
        stack.start_processes()
        phones, _ = sample_identities(stack.pg.url, args.callers)
        texters = stranger_phones(stack.pg.url, int(args.seconds) + 5)
        load, stop = Load(), threading.Event()
        started = time.monotonic()
        pace = args.callers / args.rate
        threads = [threading.Thread(target=caller, args=(n, phone, stack.base, started, stop, pace,
                                                         load), daemon=True)
                   for n, phone in enumerate(phones)]
        threads.append(threading.Thread(target=sms_sender, args=(texters, stack.base, stop, load),
                                        daemon=True))
        for t in threads:
            t.start()
        say(f"{fault}: {len(phones)} callers at {args.rate} hops/s, an inbound SMS a second, the "
            f"wave at {args.sms_rate} SMS/s; the fault at {args.fault_at:.0f} s")
        time.sleep(args.fault_at)
        sent_before = stack.fake.stats["accepted"] if stack.fake else 0
        fault_at = time.monotonic() - started
        whole_from = fault_at
        if fault == "redis":
            old = stack.redis.primary
            stack.redis.kill_primary()
            say(f"  {fault_at:.1f} s: Redis primary (port {old}) killed with SIGKILL")
        else:
            stack.pg.stop_primary()
            say(f"  {fault_at:.1f} s: PostgreSQL primary stopped (immediate)")
            time.sleep(args.promote_after)
            stack.pg.promote()
            whole_from = time.monotonic() - started
            say(f"  {whole_from:.1f} s: standby promoted")
        time.sleep(max(0.0, args.seconds - (time.monotonic() - started)))
        stop.set()
        for t in threads:
            t.join(timeout=AGGREGATOR_TIMEOUT + 2)
        say(f"  load stopped at {time.monotonic() - started:.1f} s; waiting for the wave to finish")
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline and not wave_done(stack.pg.url, len(load.inbound)):
            time.sleep(1)
        assert stack.fake is not None
        stack.fake.wait_for_deliveries(30)
        time.sleep(3)  # the last delivery reports applied
        figures = {
            "fault": fault, "synchronous": args.synchronous, "households": args.households,
            "fault_at_s": fault_at, "promoted_at_s": whole_from if fault == "postgres" else None,
            "sms_accepted_before_fault": sent_before,
            "drained_s": time.monotonic() - started,
            "processes_alive": stack.alive(),
            "new_redis_primary": stack.redis.current_primary() if fault == "redis" else None,
            **hop_figures(load, fault_at, whole_from),
            **sms_figures(stack.pg.url, stack.fake, load),
        }
        return figures
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            say(f"  logs kept in {root}")


def show(f: dict[str, Any]) -> None:
    say(f"{f['fault']}{' (synchronous standby)' if f['synchronous'] else ''}: "
        f"{f['hops']} hops at {f['hops_per_s']:.1f}/s: {f['ok']} answered, {f['polite']} polite END, "
        f"{f['hops_lost']} lost; polite window {f['polite_window_s']:.1f} s; whole again "
        f"{f['whole_after_fault_s']:.1f} s after the fault"
        + (f" ({f['whole_after_promotion_s']:.1f} s after the promotion)"
           if f.get("whole_after_promotion_s") is not None else "")
        + f"; slowest hop after the fault {f['slowest_after_fault_s']:.2f} s; p50 {f['p50_ms']:.0f} ms, "
        f"p99 {f['p99_ms']:.0f} ms")
    say(f"  sessions cut {f['sessions_cut']} (by hop {f['sessions_cut_at']}; "
        f"{f['sessions_cut_worth_resuming']} after a screen worth resuming): resumed "
        f"{f['sessions_resumed']}, began anew {f['sessions_restarted']}")
    say(f"  SMS: {f['meant']} meant, {f['received']} received by the provider "
        f"({f['sms_accepted_before_fault']} before the fault); lost {f['sms_lost']}, sent twice "
        f"{f['twice']} (rows flagged dup_risk {f['twice_flagged_dup_risk']}); unsent {f['unsent']}, "
        f"failed {f['failed']}, no final report {f['no_final_report']}; outbox {f['outbox']}")
    say(f"  inbound SMS: {f['inbound_posted']} posted, {f['inbound_200']} answered 200, "
        f"{f['inbound_replied_once']} replied once, {f['inbound_replied_twice']} twice")
    say(f"  processes alive at the end (none restarted): {f['processes_alive']}"
        + (f"; Redis primary now on port {f['new_redis_primary']}" if f["new_redis_primary"] else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault", choices=("redis", "postgres", "both"), default="both")
    parser.add_argument("--households", type=int, default=4000)
    parser.add_argument("--callers", type=int, default=8)
    parser.add_argument("--rate", type=float, default=20.0, help="USSD hops per second, all callers")
    parser.add_argument("--sms-rate", type=int, default=50, help="SMS_RATE_LIMIT for the wave")
    parser.add_argument("--seconds", type=float, default=45.0, help="how long the load runs")
    parser.add_argument("--fault-at", type=float, default=12.0)
    parser.add_argument("--promote-after", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=150.0,
                        help="longest wait for the wave and the replies to finish")
    parser.add_argument("--synchronous", action="store_true",
                        help="the standby confirms every commit (synchronous_standby_names)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folders")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in's request lines
    if not postgres_available():
        say("needs PostgreSQL's server binaries and root (they run as the postgres user)")
        return 2
    faults = ("redis", "postgres") if args.fault == "both" else (args.fault,)
    results = [run(fault, args) for fault in faults]
    say("")
    for figures in results:
        show(figures)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "runs": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
