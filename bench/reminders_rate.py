"""Benchmark: does the shared send-rate limit hold? Dispatchers send under SMS_RATE_LIMIT for a while.

    .venv/bin/python bench/reminders_rate.py --rate 100 --seconds 120

Plans a wave with more due rows than `rate x seconds`, runs the dispatcher processes (sharing the
limit through Redis) for `seconds`, and reads from the stand-in provider how many recipients it
accepted in each wall-clock second: the median of those per-second counts and the mean over the
window, and how far each is from the limit.
"""

from __future__ import annotations

import argparse
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
    prepare_database,
    reset_outbox,
    say,
    self_peak_kib,
    start_redis,
)

from core.settings import Settings  # noqa: E402


def dispatch_process(settings: Settings, seconds: float, out: Any) -> None:
    """Child: one dispatcher, sending for `seconds` (a claim in flight is finished)."""
    from workers.context import configure
    from workers.dispatch import Dispatcher

    report = Dispatcher(configure(settings, settings.redis_url)).run(budget_seconds=seconds)
    out.put({"submitted": report.submitted, "api_calls": report.api_calls, "peak_kib": self_peak_kib()})


def plan(settings: Settings) -> int:
    from core.catalogs import load_catalog
    from models import Database
    from workers.planner import plan_reminders

    db = Database(settings.database_url)
    try:
        return plan_reminders(db, load_catalog(), settings).created
    finally:
        db.dispose()


def window(per_second: list[list[int]], seconds: int) -> list[int]:
    """Accepted recipients in each whole second of the first `seconds` after sending began.

    The first second seen is partial (sending began inside it) and is left out.
    """
    counts = dict((s, n) for s, n in per_second)
    if not counts:
        return []
    first = min(counts) + 1
    return [counts.get(s, 0) for s in range(first, first + seconds)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=100, help="SMS_RATE_LIMIT, messages per second")
    parser.add_argument("--seconds", type=int, default=120, help="how long to send")
    parser.add_argument("--dispatchers", type=int, default=2, help="processes sharing the limit")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--households", type=int, default=0,
                        help="data set size (default: enough for rate x seconds, twice over)")
    args = parser.parse_args(argv)
    # About 85% of demo households get a message; aim for twice what the window can send.
    households = args.households or max(200, int(args.rate * (args.seconds + 15) * 2 / 0.85))

    url = prepare_database(args.db, households)
    redis = start_redis()
    fake = FakeProcess.start()
    try:
        # The budget is checked between claims; a short run wants short claims (at most ~10 s).
        claim = args.rate * min(10, max(1, args.seconds // 3))
        settings = bench_settings(url, redis.url, fake.base_url, sms_rate_limit=args.rate,
                                  sms_claim_size=claim)
        reset_outbox(url)
        due = plan(settings)
        say(f"rate: limit {args.rate}/s for {args.seconds} s, {args.dispatchers} dispatcher(s), "
            f"{due} rows due ({households} households, {args.db})")
        if due < args.rate * (args.seconds + 1):
            say(f"  warning: only {due} rows due; the window may run dry")
        fake.reset()
        spawn = mp.get_context("spawn")
        out = spawn.Queue()
        # A dispatcher stops at a claim boundary once its budget is spent: a budget a little
        # longer than the measured window keeps the window's last seconds sending.
        procs = [spawn.Process(target=dispatch_process, args=(settings, args.seconds + 3, out), daemon=True)
                 for _ in range(args.dispatchers)]
        started = time.monotonic()
        for p in procs:
            p.start()
        reports = [out.get(timeout=args.seconds + 600) for _ in procs]
        for p in procs:
            p.join()
        elapsed = time.monotonic() - started
        stats = fake.stats()
        fake_peak = fake.peak_kib() / 1024
    finally:
        fake.stop()
        redis.stop()

    counts = window(stats["per_second"], args.seconds)
    med = median([float(n) for n in counts])
    mean = sum(counts) / len(counts) if counts else 0.0
    seen = [n for _, n in stats["per_second"]]
    say(f"  {len(counts)} whole seconds measured; per-second counts min {min(counts, default=0)}, "
        f"max {max(counts, default=0)}")
    say(f"  per second: {' '.join(str(n) for n in counts)}")
    say(f"  median {med:.1f}/s ({(med - args.rate) / args.rate:+.1%} from {args.rate}), "
        f"mean {mean:.2f}/s ({(mean - args.rate) / args.rate:+.2%})")
    say(f"  all sending: {stats['accepted']} SMS accepted over {len(seen)} seconds seen "
        f"(dispatchers ran {elapsed:.1f} s incl. start-up), {stats['requests']} API calls, "
        f"rows submitted {sum(r['submitted'] for r in reports)}")
    peaks = ", ".join(f"dispatcher{i + 1} {r['peak_kib'] / 1024:.0f}" for i, r in enumerate(reports))
    say(f"  peak RSS MiB: {peaks}, fake {fake_peak:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
