"""Import: a national data set through `mijuntos import` into PostgreSQL and SQLite, timed.

    .venv/bin/python bench/import_national.py                  # 760,000 households, both databases
    .venv/bin/python bench/import_national.py --households 500 --db sqlite

The data set: `mijuntos demo-data --periods 2`, cut to one settlement per household and one
schedule row per pay point (the newest period), with the co-responsibility rows of both periods
(about 2.7 per household: 2 million nationally). Each import starts from an empty database and
runs the operator's command, `mijuntos import DIR --no-plan`, under /usr/bin/time -v.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support import median, say  # noqa: E402
from ussd_data import BIN, CACHE, DB_PREFIX, ROOT, demo_csv, recreate_pg  # noqa: E402

NEWEST_ONLY = ("cronograma.csv", "abonos.csv")


def national_csv(households: int) -> tuple[Path, dict[str, int]]:
    """The cut data set (written once per size and day) and its row counts per file."""
    source = demo_csv(households, periods=2)
    directory = CACHE / f"csv-national-h{households}"
    marker = directory / "source.txt"
    stamp = (source / "written.txt").read_text()
    if not (marker.is_file() and marker.read_text() == stamp):
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("padron.csv", "corresponsabilidades.csv"):
            link = directory / name
            link.unlink(missing_ok=True)
            link.symlink_to(source / name)
        for name in NEWEST_ONLY:
            with open(source / name, encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))
            newest = max(r[0] for r in rows[1:])
            with open(directory / name, "w", encoding="utf-8", newline="") as f:
                csv.writer(f, lineterminator="\n").writerows(
                    [rows[0]] + [r for r in rows[1:] if r[0] == newest])
        marker.write_text(stamp)
    counts = {}
    for name in ("padron.csv", "cronograma.csv", "abonos.csv", "corresponsabilidades.csv"):
        with open(directory / name, "rb") as f:
            counts[name] = sum(1 for _ in f) - 1
    return directory, counts


def timed_import(url: str, directory: Path, batch_size: int | None) -> dict[str, float]:
    """Wall time and peak resident memory of one `mijuntos import`."""
    cmd = [str(BIN / "mijuntos"), "import", str(directory), "--no-plan", "--no-progress"]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    env = {**os.environ, "DATABASE_URL": url}
    started = time.monotonic()
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    cpu = re.search(r"User time \(seconds\): ([\d.]+)", done.stderr)
    say("  " + " | ".join(line.strip() for line in done.stdout.splitlines()[:4]))
    return {
        "seconds": wall,
        "peak_mib": int(peak.group(1)) / 1024 if peak else 0.0,
        "user_cpu_s": float(cpu.group(1)) if cpu else 0.0,
    }


def fresh_database(kind: str, name: str) -> str:
    if kind == "postgresql":
        return recreate_pg(name)
    path = CACHE / f"{name}-sqlite" / "import.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    for extra in ("", "-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--households", type=int, default=760_000)
    ap.add_argument("--db", default="postgresql,sqlite", help="postgresql, sqlite or both")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the command's own")
    ap.add_argument("--database", default=f"{DB_PREFIX}_import",
                    help="PostgreSQL database to drop and fill (also names the SQLite directory)")
    args = ap.parse_args(argv)
    directory, counts = national_csv(args.households)
    say("data set: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    results: dict[str, list[dict[str, float]]] = {}
    for rep in range(args.repeats):
        for kind in args.db.split(","):
            url = fresh_database(kind, args.database)
            say(f"run {rep + 1}: importing into {kind}")
            r = timed_import(url, directory, args.batch_size)
            results.setdefault(kind, []).append(r)
            rows = sum(counts.values())
            say(f"  {kind}: {r['seconds']:.1f} s ({rows / r['seconds']:,.0f} rows/s), "
                f"peak {r['peak_mib']:.0f} MiB, user CPU {r['user_cpu_s']:.0f} s")
    say(f"\nmedians of {args.repeats} run(s), {args.households} households")
    for kind, runs in results.items():
        secs = median([r["seconds"] for r in runs])
        say(f"{kind:10} {int(secs // 60)}:{secs % 60:04.1f} min  "
            f"peak {median([r['peak_mib'] for r in runs]):.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
