"""How long `mijuntos --help` takes to print, and whether it loads Flask (issue 12).

    .venv/bin/python bench/cli_start.py                          # this checkout, 21 runs
    .venv/bin/python bench/cli_start.py --compare-root /tmp/before   # and another, interleaved

Each run is a fresh `python -m mijuntos.cli --help` of the checkout's own .venv (its Python
start-up included, as a person typing the command sees it). Runs of the two checkouts alternate.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = ("import sys, runpy\nsys.argv = ['mijuntos', '--help']\ntry:\n"
         "    runpy.run_module('mijuntos.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         "print('flask' in sys.modules, 'sqlalchemy' in sys.modules, file=sys.stderr)")


def python_of(root: Path) -> str:
    return str(root / ".venv" / "bin" / "python")


def once(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run([python_of(root), "-m", "mijuntos.cli", "--help"], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def loads(root: Path) -> str:
    out = subprocess.run([python_of(root), "-c", PROBE], cwd=root, check=True, text=True,
                         capture_output=True).stderr.split()
    return f"Flask loaded: {out[0]}, SQLAlchemy loaded: {out[1]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--compare-root", type=Path, help="another checkout with its own .venv")
    args = ap.parse_args()
    roots = [ROOT] + ([args.compare_root.resolve()] if args.compare_root else [])
    times: dict[Path, list[float]] = {root: [] for root in roots}
    for root in roots:
        once(root)  # warm the page cache and the bytecode
    for _ in range(args.runs):
        for root in roots:
            times[root].append(once(root))
    for root in roots:
        runs = sorted(times[root])
        print(f"{root}: median {statistics.median(runs) * 1000:.0f} ms, "
              f"min {runs[0] * 1000:.0f} ms, max {runs[-1] * 1000:.0f} ms over {len(runs)} runs; "
              f"{loads(root)}")
    if len(roots) == 2:
        ratio = statistics.median(times[roots[1]]) / statistics.median(times[roots[0]])
        print(f"the other checkout takes {ratio:.1f}x as long")


if __name__ == "__main__":
    main()
