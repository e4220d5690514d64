"""CPU per USSD hop in one process: the service's own cost, without gunicorn, wrk or the network.

Replays the load benchmark's sessions (bench/ussd_load.lua's flows: phones of record and DNI
callers) through the WSGI app, called as gunicorn calls it, against demo data on PostgreSQL
(imported once per size, as bench/ussd_load.py does) and a private redis-server, and prints the
CPU time (this process only: the Redis and PostgreSQL servers are not counted) and wall time per
hop, median of the runs.
`--cprofile N` prints the N most expensive functions of one more run.

`--instructions` counts instead the machine instructions a hop costs, under valgrind's callgrind
(the difference between a run of SESSIONS and one of 3 x SESSIONS, divided by the hops between):
the same figure whatever else the machine is doing, so two trees compare in one try on a noisy
machine. `--compare-root DIR` also counts a checkout of other code, with this script and data.

    .venv/bin/python bench/ussd_profile.py --households 20000
    .venv/bin/python bench/ussd_profile.py --households 20000 --cprofile 40
    .venv/bin/python bench/ussd_profile.py --households 20000 --instructions --sessions 100 \
        --compare-root /work/wt/base
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The code measured: this checkout, or the one --compare-root names (run as a child process).
sys.path.insert(0, os.environ.get("MIJUNTOS_CODE_ROOT") or str(Path(__file__).resolve().parent.parent))

from support import median, say  # noqa: E402
from ussd_data import CACHE, national_pg, sample_identities, stranger_phones  # noqa: E402

from core.embedded import EmbeddedRedis  # noqa: E402
from gateway.app import create_app  # noqa: E402

# The flows of bench/ussd_load.lua ("D" and "B": the DNI caller's DNI and birth date).
RECORD_FLOWS = (["1", "0", "2", "00", "0"], ["2", "98", "0", "3", "0", "0"], ["1", "00", "0"])
DNI_FLOWS = (
    ["D", "B", "1", "0", "0"],
    ["D", "B", "2", "00", "3", "0", "0"],
    ["D", "0", "D", "B", "1", "00", "0"],
)


def sessions(count: int, phones: list[str], dnis: list[tuple[str, str]], strangers: list[str],
             tag: str) -> list[tuple[str, str, list[str]]]:
    """(sessionId, phone, texts of each hop) for `count` sessions, half of each kind."""
    rng = random.Random(7)
    out = []
    for i in range(count):
        if i % 2 == 0:
            phone, flow, ident = phones[i // 2 % len(phones)], rng.choice(RECORD_FLOWS), ("", "")
        else:
            phone, flow = strangers[i // 2 % len(strangers)], rng.choice(DNI_FLOWS)
            ident = dnis[i // 2 % len(dnis)]
        typed: list[str] = []
        texts = [""]
        for step in flow:
            typed.append({"D": ident[0], "B": ident[1]}.get(step, step))
            texts.append("*".join(typed))
        out.append((f"ATUid_{tag}_{i}", phone, texts))
    return out


class Wsgi:
    """Calls the app as gunicorn would, with a minimal environ (the test client's request
    building cost more than some of what is measured)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def post(self, form: dict[str, str]) -> str:
        body = urlencode(form).encode()
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/ussd", "QUERY_STRING": "",
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body), "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "bench",
            "SERVER_PORT": "80", "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1",
        }
        status: list[str] = []
        chunks = self.app(environ, lambda s, _headers, _exc=None: status.append(s))
        reply = b"".join(chunks).decode()
        if not status or not status[0].startswith("200"):
            raise SystemExit(f"HTTP {status}: {reply[:70]!r}")
        return reply


def replay(client: Wsgi, plan: list[tuple[str, str, list[str]]]) -> int:
    hops = 0
    for sid, phone, texts in plan:
        for i, text in enumerate(texts):
            body = client.post({"sessionId": sid, "serviceCode": "*1880#", "phoneNumber": phone,
                                "networkCode": "71610", "text": text})
            last = i == len(texts) - 1
            if not body.startswith("END " if last else "CON "):
                raise SystemExit(f"{sid} hop {i}: unexpected reply {body[:70]!r}")
            hops += 1
    return hops


def instructions(households: int, sessions: int, code_root: Path) -> tuple[float, int]:
    """(instructions a hop, hops counted) of `code_root`'s app, under callgrind."""
    counted = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (sessions, 3 * sessions):
            out = Path(tmp) / f"callgrind.{n}"
            run = subprocess.run(
                ["valgrind", "--tool=callgrind", "--fair-sched=yes", f"--callgrind-out-file={out}",
                 sys.executable,
                 __file__, "--households", str(households), "--sessions", str(n), "--runs", "1"],
                env=dict(os.environ, MIJUNTOS_CODE_ROOT=str(code_root)), cwd=code_root,
                capture_output=True, text=True, check=False)
            hops = re.search(r"(\d+) hops a run", run.stdout)
            total = re.search(r"^(?:summary|totals): (\d+)", out.read_text() if out.exists() else "", re.M)
            if run.returncode or not hops or not total:
                raise SystemExit(f"callgrind run failed ({code_root}):\n"
                                 f"{run.stdout[-800:]}{run.stderr[-800:]}")
            counted.append((int(total[1]), int(hops[1])))
    (i1, h1), (i3, h3) = counted
    return (i3 - i1) / (h3 - h1), h3 - h1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--sessions", type=int, default=600, help="sessions per run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cprofile", type=int, default=0, help="print this many top functions")
    ap.add_argument("--instructions", action="store_true",
                    help="count instructions a hop under callgrind instead of timing")
    ap.add_argument("--compare-root", type=Path, action="append", default=[],
                    help="with --instructions: also count the code of this checkout")
    args = ap.parse_args(argv)
    if args.instructions:
        if not shutil.which("valgrind"):
            raise SystemExit("valgrind is not installed (apt-get install valgrind)")
        national_pg(args.households)  # imported once, before any count
        for root in [Path(__file__).resolve().parent.parent, *args.compare_root]:
            per_hop, hops = instructions(args.households, args.sessions, root.resolve())
            say(f"{root}: {per_hop / 1e6:.3f} million instructions a hop ({hops} hops counted)")
        return 0

    url = national_pg(args.households)
    count = max(args.sessions // 2, 1)
    phones, dnis = sample_identities(url, count)
    strangers = stranger_phones(url, count)
    rserver = EmbeddedRedis(CACHE / f"profile-redis-{os.getpid()}")
    redis_url = rserver.start()
    try:
        app = create_app({"database_url": url, "redis_url": redis_url,
                          "secret_key": "bench-ussd-profile", "max_dnis_per_phone_per_day": 1_000_000,
                          "log_level": "WARNING"})
        client = Wsgi(app)
        replay(client, sessions(50, phones, dnis, strangers, f"warm{os.getpid()}"))
        cpu, wall = [], []
        for run in range(args.runs):
            plan = sessions(args.sessions, phones, dnis, strangers, f"r{run}p{os.getpid()}")
            c0, w0 = time.process_time(), time.perf_counter()
            hops = replay(client, plan)
            cpu.append((time.process_time() - c0) * 1000 / hops)
            wall.append((time.perf_counter() - w0) * 1000 / hops)
        say(f"{args.sessions} sessions x {args.runs} runs, {hops} hops a run, {args.households} households")
        say(f"CPU ms/hop median {median(cpu):.3f} (runs: {', '.join(f'{c:.3f}' for c in cpu)})")
        say(f"wall ms/hop median {median(wall):.3f}")
        if args.cprofile:
            plan = sessions(args.sessions, phones, dnis, strangers, f"prof{os.getpid()}")
            profiler = cProfile.Profile(time.process_time)
            profiler.runcall(replay, client, plan)
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(args.cprofile)
            stats.sort_stats("cumulative").print_stats(args.cprofile)
        app.extensions["mijuntos"].close()
    finally:
        rserver.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
