"""The reminder benchmarks run end to end at a tiny size, so they cannot rot (no timing asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bench(script: str, tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "MIJUNTOS_BENCH_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_wave_benchmark_plans_and_sends_every_reminder(tmp_path: Path) -> None:
    out = run_bench("reminders_wave.py", tmp_path, "--households", "50", "--db", "sqlite",
                    "--dispatchers", "1,2")
    runs = re.findall(r"planned (\d+) rows .* sent (\d+) SMS \((\d+) rows\)", out)
    assert len(runs) == 2, out
    for planned, _sms, submitted in runs:
        assert int(planned) > 0 and submitted == planned, out
    assert re.search(r"\d+ SMS/s, \d+ API calls", out), out
    assert "peak RSS MiB: planner" in out and "fake provider peak RSS" in out, out


def test_the_rate_benchmark_reports_median_and_mean(tmp_path: Path) -> None:
    out = run_bench("reminders_rate.py", tmp_path, "--seconds", "3", "--rate", "20")
    assert re.search(r"3 whole seconds measured", out), out
    assert re.search(r"median [\d.]+/s \([+-][\d.]+% from 20\), mean [\d.]+/s", out), out


def test_the_cli_start_benchmark_times_help_and_sees_no_flask(tmp_path: Path) -> None:
    out = run_bench("cli_start.py", tmp_path, "--runs", "2")
    assert "over 2 runs; Flask loaded: False, SQLAlchemy loaded: False" in out
