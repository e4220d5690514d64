"""Voice load: whole calls through POST /voice, beside the same sessions through /ussd.

    .venv/bin/python bench/voice_load.py                       # 2,000 households on SQLite
    .venv/bin/python bench/voice_load.py --db postgresql --households 760000

One gunicorn as the Procfile starts `web` (its default workers), a private redis-server and a
database of demo data. N caller threads run whole calls as Africa's Talking posts them: the first
callback, then the keys of a stranger (DNI #, date of birth #), option 1 (next payment), 0 (back),
0 (exit), then the final notification; and, in an interleaved round, the same session as USSD
hops. Each callback's answer is checked (XML with the words expected, HTTP 200). Printed: callbacks
per second, p50 and p99 latency of each kind, medians over the rounds.

The prompt files are not made here: every phrase is a `<Say>` (the speech is computed just the
same; a `<Play>` would only change the XML's text). The figures are for the callbacks: the
provider's own cost of a call, its audio, is not ours.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support import median, say  # noqa: E402
from ussd_data import BIN, ROOT, demo_sqlite, national_pg, sample_identities, stranger_phones  # noqa: E402
from ussd_load import Server, procfile_workers  # noqa: E402

from core.embedded import EmbeddedRedis  # noqa: E402


def voice_call(base: str, phone: str, dni: str, dob: str, n: int) -> list[float]:
    """One whole call; the latency of each callback (s)."""
    session = f"ATVId_bench_{n}_{time.monotonic_ns()}"
    form = {"isActive": "1", "sessionId": session, "direction": "Inbound", "callerNumber": phone,
            "destinationNumber": "+511880"}
    steps: list[tuple[str, dict[str, str], str]] = [
        ("", {}, "DNI"), ("", {"dtmfDigits": f"{dni}#"}, "nacimiento"),
        ("", {"dtmfDigits": f"{dob}#"}, "Proximo pago"), ("", {"dtmfDigits": "1"}, "volver"),
        ("", {"dtmfDigits": "0"}, "Proximo pago"), ("", {"dtmfDigits": "0"}, "Gracias"),
    ]
    took = []
    for _, extra, expected in steps:
        started = time.perf_counter()
        answer = requests.post(f"{base}/voice", data={**form, **extra}, timeout=10)
        took.append(time.perf_counter() - started)
        if answer.status_code != 200 or expected not in answer.text:
            raise SystemExit(f"voice callback: {answer.status_code} {answer.text[:300]}")
    started = time.perf_counter()
    requests.post(f"{base}/voice", data={**form, "isActive": "0", "durationInSeconds": "60"},
                  timeout=10).raise_for_status()
    took.append(time.perf_counter() - started)
    return took


def ussd_session(base: str, phone: str, dni: str, dob: str, n: int) -> list[float]:
    """The same path as USSD hops; the latency of each hop (s)."""
    session = f"bench_{n}_{time.monotonic_ns()}"
    took = []
    for text in ("", dni, f"{dni}*{dob}", f"{dni}*{dob}*1", f"{dni}*{dob}*1*0",
                 f"{dni}*{dob}*1*0*0"):
        started = time.perf_counter()
        answer = requests.post(f"{base}/ussd", data={"sessionId": session, "serviceCode": "*1880#",
                                                     "phoneNumber": phone, "text": text}, timeout=10)
        took.append(time.perf_counter() - started)
        if answer.status_code != 200 or answer.text.startswith("END Lo sentimos"):
            raise SystemExit(f"ussd hop: {answer.status_code} {answer.text[:200]}")
    return took


def round_of(kind: str, base: str, callers: int, seconds: float, strangers: list[str],
             dnis: list[tuple[str, str]]) -> tuple[float, list[float]]:
    """`callers` threads running whole calls (or sessions) for `seconds`: (per second, latencies)."""
    run = voice_call if kind == "voice" else ussd_session
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def caller(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            phone = strangers[(i * 997 + n) % len(strangers)]
            dni, dob = dnis[(i * 131 + n) % len(dnis)]
            took = run(base, phone, dni, dob, i * 100_000 + n)
            with lock:
                latencies.extend(took)
            n += 1

    started = time.monotonic()
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.monotonic() - started), latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=2000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--callers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=procfile_workers())
    args = ap.parse_args(argv)
    url = demo_sqlite(args.households) if args.db == "sqlite" else national_pg(args.households)
    # A stranger's phone dials many DNIs over the rounds: the daily limit per phone
    # (MAX_DNIS_PER_PHONE_PER_DAY) is raised for the bench, as bench/ussd_load.py's callers vary.
    _, dnis = sample_identities(url, 500)
    strangers = stranger_phones(url, 2000)
    work = Path("/tmp") / f"mj-voice-bench-{time.monotonic_ns()}"
    work.mkdir(parents=True)
    redis = EmbeddedRedis(work / "redis")
    redis.start()
    env = {"DATABASE_URL": url, "REDIS_URL": redis.url, "SECRET_KEY": "bench-secret",
           "MIJUNTOS_VAR_DIR": str(work / "var"), "LOG_LEVEL": "WARNING",
           "MAX_DNIS_PER_PHONE_PER_DAY": "100000", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    server = Server.start("web", "wsgi:app", args.workers, env, ROOT, work / "web.log")
    results: dict[str, list[tuple[float, float, float]]] = {"voice": [], "ussd": []}
    try:
        say(f"voice load: {args.households} households on {args.db}, {args.workers} workers, "
            f"{args.callers} callers, {args.rounds} rounds of {args.seconds:.0f} s each kind")
        for r in range(args.rounds):
            for kind in ("voice", "ussd") if r % 2 == 0 else ("ussd", "voice"):
                rate, latencies = round_of(kind, server.url, args.callers, args.seconds, strangers, dnis)
                results[kind].append((rate, pct(latencies, 0.5), pct(latencies, 0.99)))
                say(f"  round {r + 1} {kind}: {rate:.0f} callbacks/s, p50 {pct(latencies, 0.5):.1f} ms, "
                    f"p99 {pct(latencies, 0.99):.1f} ms ({len(latencies)} requests)")
    finally:
        server.stop()
        redis.stop()
    say("medians over the rounds:")
    for kind, rows in results.items():
        say(f"  {kind}: {median([r[0] for r in rows]):.0f} requests/s, p50 "
            f"{median([r[1] for r in rows]):.1f} ms, p99 {median([r[2] for r in rows]):.1f} ms")
    voice, ussd = (median([r[0] for r in results[k]]) for k in ("voice", "ussd"))
    say(f"  voice / ussd requests per second: {voice / ussd:.2f}" if ussd else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
