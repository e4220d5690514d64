"""Benchmark: plan and send one whole reminder wave, with the stand-in provider in its own process.

    .venv/bin/python bench/reminders_wave.py --households 760000 --db postgresql
    .venv/bin/python bench/reminders_wave.py --households 2000 --db sqlite

Every household gets a phone (the demo data leaves ~15 % without one; --demo-phones keeps that),
so --households 760000 is a wave to 760,000 households with phones.

Each run empties the outbox, plans the wave (one reminder or notice due now per household) in a
planner process, then sends it with N dispatcher processes at no rate limit, and prints planning
and sending time, the send rate, API calls and every process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import (  # noqa: E402
    FakeProcess,
    bench_settings,
    median,
    mib,
    outbox_counts,
    prepare_database,
    reset_outbox,
    say,
    self_peak_kib,
    start_redis,
)

from core.settings import Settings  # noqa: E402


def plan_process(settings: Settings, out: Any) -> None:
    """Child: plan the wave now; report time, rows and peak RSS."""
    from core.catalogs import load_catalog
    from models import Database
    from models.base import utcnow
    from workers.planner import plan_reminders

    db = Database(settings.database_url)
    started = time.monotonic()
    report = plan_reminders(db, load_catalog(), settings, now=utcnow())
    out.put({"seconds": time.monotonic() - started, "created": report.created,
             "households": report.households, "peak_kib": self_peak_kib()})


def dispatch_process(settings: Settings, out: Any) -> None:
    """Child: one dispatcher sending until nothing is due; report what it did and its peak RSS."""
    from workers.context import configure
    from workers.dispatch import Dispatcher

    ctx = configure(settings, settings.redis_url)
    started = time.monotonic()
    report = Dispatcher(ctx).run(budget_seconds=3600)
    out.put({"seconds": time.monotonic() - started, "submitted": report.submitted,
             "failed": report.failed, "retried": report.retried, "api_calls": report.api_calls,
             "stopped": report.stopped, "peak_kib": self_peak_kib()})


def run_children(target: Any, settings: Settings, count: int) -> tuple[float, list[dict[str, Any]]]:
    """Run `count` children of `target` at once; (wall seconds, their reports)."""
    spawn = mp.get_context("spawn")
    out = spawn.Queue()
    started = time.monotonic()
    procs = [spawn.Process(target=target, args=(settings, out), daemon=True) for _ in range(count)]
    for p in procs:
        p.start()
    results = [out.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"{target.__name__}: exit code {p.exitcode}")
    return time.monotonic() - started, results


def one_wave(settings: Settings, fake: FakeProcess, dispatchers: int) -> dict[str, Any]:
    reset_outbox(settings.database_url)
    fake.reset()
    plan_wall, (plan,) = run_children(plan_process, settings, 1)
    due = outbox_counts(settings.database_url).get("pending", 0)
    send_wall, sends = run_children(dispatch_process, settings, dispatchers)
    stats = fake.stats()
    counts = outbox_counts(settings.database_url)
    send_seconds = max(s["seconds"] for s in sends)
    return {
        "dispatchers": dispatchers,
        "households": plan["households"],
        "planned": plan["created"],
        "due": due,
        "plan_s": plan["seconds"],
        "plan_wall_s": plan_wall,
        "send_s": send_seconds,
        "send_wall_s": send_wall,
        "total_wall_s": plan_wall + send_wall,
        "sms_accepted": stats["accepted"],
        "sms_per_s": stats["accepted"] / send_seconds if send_seconds else 0.0,
        "rows_submitted": sum(s["submitted"] for s in sends),
        "api_calls": stats["requests"],
        "outbox": counts,
        "stopped": [s["stopped"] for s in sends],
        "peak_mib": {
            "planner": mib(plan["peak_kib"]),
            **{f"dispatcher{i + 1}": mib(s["peak_kib"]) for i, s in enumerate(sends)},
        },
    }


def show(run: dict[str, Any], fake_peak_mib: float) -> None:
    peaks = ", ".join(f"{k} {v:.0f}" for k, v in run["peak_mib"].items())
    say(f"  {run['dispatchers']} dispatcher(s): planned {run['planned']} rows for "
        f"{run['households']} households in {run['plan_s']:.1f} s (process {run['plan_wall_s']:.1f} s); "
        f"sent {run['sms_accepted']} SMS ({run['rows_submitted']} rows) in {run['send_s']:.1f} s "
        f"(processes {run['send_wall_s']:.1f} s) = {run['sms_per_s']:.0f} SMS/s, "
        f"{run['api_calls']} API calls; total {run['total_wall_s']:.1f} s")
    say(f"    outbox {run['outbox']}; peak RSS MiB: {peaks}, fake so far {fake_peak_mib:.0f}")


def give_every_household_a_phone(url: str) -> int:
    """The demo data leaves ~15 % of households without a phone; the wave is meant for N
    households *with* phones, so those get a synthetic one (kept for later runs). How many."""
    from sqlalchemy import text

    from models import Database

    db = Database(url)
    try:
        with db.engine.begin() as conn:
            # 9 + the household number: outside the demo's phone bijection only by chance, so a
            # few may share a number with another household (the dispatcher then sends once).
            result = conn.execute(text(
                "UPDATE household SET phone = '+519' || substr(hogar_id, 2) WHERE phone IS NULL"))
            return int(result.rowcount or 0)
    finally:
        db.dispose()


def redis_peak_mib(server: Any) -> float:
    """The bench's redis-server: its peak memory as Redis reports it (used_memory_peak)."""
    import redis as redis_lib

    client = redis_lib.Redis.from_url(server.url)
    try:
        return float(client.info("memory")["used_memory_peak"]) / 2**20
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--households", type=int, default=2000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--dispatchers", default="1,2", help="dispatcher processes per run, e.g. 1,2")
    parser.add_argument("--runs", type=int, default=1, help="waves per dispatcher count")
    parser.add_argument("--batch-size", type=int, default=Settings.sms_batch_size,
                        help="recipients per API call (SMS_BATCH_SIZE)")
    parser.add_argument("--claim-size", type=int, default=Settings.sms_claim_size,
                        help="rows one dispatcher claims at a time (SMS_CLAIM_SIZE)")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's figures here")
    parser.add_argument("--demo-phones", action="store_true",
                        help="keep the demo's ~85 %% of households with a phone (default: all have one)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.dispatchers.split(",")]

    url = prepare_database(args.db, args.households)
    if not args.demo_phones:
        given = give_every_household_a_phone(url)
        if given:
            say(f"gave {given} households without a phone a synthetic one")
    redis = start_redis()
    fake = FakeProcess.start()
    runs: list[dict[str, Any]] = []
    try:
        settings = bench_settings(url, redis.url, fake.base_url, sms_batch_size=args.batch_size,
                                  sms_claim_size=args.claim_size)
        say(f"wave: {args.households} households on {args.db}, batch {args.batch_size}, "
            f"claim {args.claim_size}, fake at {fake.root_url}")
        for dispatchers in counts:
            for _ in range(args.runs):
                run = one_wave(settings, fake, dispatchers)
                runs.append(run)
                show(run, fake.peak_kib() / 1024)
        fake_peak = fake.peak_kib() / 1024
        redis_peak = redis_peak_mib(redis)
    finally:
        fake.stop()
        redis.stop()
    say("summary (medians over runs):")
    for dispatchers in counts:
        mine = [r for r in runs if r["dispatchers"] == dispatchers]
        peak = max(max(r["peak_mib"].values()) for r in mine)
        say(f"  {dispatchers} dispatcher(s), {len(mine)} run(s): "
            f"plan {median([r['plan_s'] for r in mine]):.1f} s, "
            f"send {median([r['send_s'] for r in mine]):.1f} s, "
            f"{median([r['sms_per_s'] for r in mine]):.0f} SMS/s, "
            f"{median([r['api_calls'] for r in mine]):.0f} API calls, "
            f"total {median([r['total_wall_s'] for r in mine]):.1f} s, "
            f"peak RSS planner/dispatchers max {peak:.0f} MiB")
    say(f"  fake provider peak RSS {fake_peak:.0f} MiB; redis-server peak {redis_peak:.0f} MiB "
        f"(used_memory_peak); this process {self_peak_kib() / 1024:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "runs": runs,
                                         "fake_peak_mib": fake_peak, "redis_peak_mib": redis_peak},
                                        indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
