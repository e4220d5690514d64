"""USSD load: wrk replays whole sessions against `gunicorn wsgi:app` and a bare Flask baseline.

    .venv/bin/python bench/ussd_load.py                      # 760,000 households on PostgreSQL
    .venv/bin/python bench/ussd_load.py --households 2000 --duration 3 --repeats 1

Both servers run as the Procfile's `web` process does (gunicorn sync workers, as many as its
WEB_CONCURRENCY default), on one PostgreSQL database of demo data (imported once per size) and a
private redis-server. Each connection plays complete sessions in order (wrk -t N -c N); runs of
the two servers alternate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import requests
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support import median, say  # noqa: E402
from ussd_data import BIN, CACHE, ROOT, export_identities, national_pg  # noqa: E402

from core.embedded import EmbeddedRedis  # noqa: E402

LUA = Path(__file__).resolve().parent / "ussd_load.lua"


def ensure_wrk() -> str:
    """The wrk binary, installed from Debian's packages when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    say("installing wrk (apt-get)")
    quiet = {"stdout": subprocess.DEVNULL, "check": True}
    subprocess.run(["apt-get", "update", "-qq"], **quiet)  # type: ignore[call-overload]
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet)  # type: ignore[call-overload]
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk: not found after apt-get install")
    return found


def procfile_workers() -> int:
    """WEB_CONCURRENCY, or the default the Procfile's `web` line gives it."""
    if os.environ.get("WEB_CONCURRENCY"):
        return int(os.environ["WEB_CONCURRENCY"])
    found = re.search(r"WEB_CONCURRENCY:-(\d+)", (ROOT / "Procfile").read_text())
    return int(found.group(1)) if found else 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A gunicorn process as the Procfile starts `web`."""

    name: str
    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, name: str, app: str, workers: int, env: dict[str, str], cwd: Path,
              log: Path) -> Server:
        port = free_port()
        cmd = [str(BIN / "gunicorn"), app, "--workers", str(workers),
               "--bind", f"127.0.0.1:{port}", "--timeout", "30", "--graceful-timeout", "20",
               # Its own control socket: the default path is shared by every gunicorn on the machine.
               "--control-socket", str(log.parent / f"{name}.ctl")]
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=out)
        server = cls(name, proc, port)
        server.wait_ready()
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        form = {"sessionId": "ready", "phoneNumber": "+51910000000", "text": "", "serviceCode": "*1880#"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name}: gunicorn exited with {self.process.returncode}")
            try:
                if requests.post(self.url + "/ussd", data=form, timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name}: not answering after 60 s")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(25)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User and system CPU time each process has used so far."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


@dataclass
class Meter:
    """CPU used by the serving side: gunicorn workers, redis-server, this database's backends."""

    redis_pid: int
    db_url: str

    def pids(self, server: Server) -> dict[str, list[int]]:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.db_url, poolclass=NullPool)
        with engine.connect() as conn:
            backends = list(conn.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid()")))
        engine.dispose()
        return {"web": server.worker_pids(), "redis": [self.redis_pid], "postgres": backends}

    def snapshot(self, server: Server) -> dict[str, dict[int, float]]:
        return {part: cpu_seconds(pids) for part, pids in self.pids(server).items()}

    @staticmethod
    def delta(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
              ) -> dict[str, float]:
        return {part: sum(v - before[part].get(pid, 0.0) for pid, v in now.items())
                for part, now in after.items()}


def run_wrk(wrk: str, server: Server, connections: int, seconds: float, ids: Path,
            run_tag: str, bare: bool, meter: Meter | None = None) -> dict[str, float]:
    """One closed-loop wrk run; its figures as a dict (latencies in ms)."""
    env = {**os.environ, "USSD_IDS": str(ids), "USSD_RUN": run_tag, "USSD_BARE": "1" if bare else "0"}
    cmd = [wrk, "-t", str(connections), "-c", str(connections), "-d", f"{max(round(seconds), 1)}s",
           "--timeout", "10s", "-s", str(LUA), server.url]
    before = meter.snapshot(server) if meter else None
    web_before = cpu_seconds(server.worker_pids())
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    web_after = cpu_seconds(server.worker_pids())
    cpu = {"web": sum(v - web_before.get(p, 0.0) for p, v in web_after.items())}
    if meter and before:
        cpu = Meter.delta(before, meter.snapshot(server))
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    out = done.stdout
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk: no RESULT line in its output:\n{out}")
    raw = json.loads(line.removeprefix("RESULT "))
    secs = raw["duration_us"] / 1e6
    return {
        "hops_s": raw["requests"] / secs,
        "sessions_s": raw["sessions"] / secs,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["errors"],
        "hops": raw["requests"],
        **{f"{part}_cpu_ms_hop": 1000 * secs_ / max(raw["requests"], 1) for part, secs_ in cpu.items()},
    }


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = [k for k in runs[0] if k not in ("errors", "hops")]
    out = {k: median([r[k] for r in runs]) for k in keys}
    out["errors"] = sum(r["errors"] for r in runs)
    out["hops"] = sum(r["hops"] for r in runs)
    return out


def profile(server: Server, wrk: str, ids: Path, seconds: int, out: Path) -> None:
    """py-spy on one gunicorn worker while wrk loads the service at 16 connections."""
    spy = BIN / "py-spy"
    if not spy.exists():
        subprocess.run([str(BIN / "pip"), "install", "-q", "py-spy"], check=True)
    pid = server.worker_pids()[0]
    rec = subprocess.Popen([str(spy), "record", "-p", str(pid), "-d", str(seconds), "-r", "200",
                            "--format", "raw", "-o", str(out), "--nonblocking", "--gil"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    run_wrk(wrk, server, 16, seconds, ids, f"prof{int(time.time())}", bare=False)
    rec.wait(30)
    say(f"py-spy collapsed stacks of worker {pid}: {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--households", type=int, default=760_000)
    ap.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", default="16,64")
    ap.add_argument("--repeats", type=int, default=3, help="runs per server and connection count")
    ap.add_argument("--workers", type=int, default=procfile_workers(),
                    help="gunicorn workers of both servers (default: the Procfile's web)")
    ap.add_argument("--identities", type=int, default=5000, help="callers of each kind to replay")
    ap.add_argument("--profile", type=int, default=0, help="also py-spy a worker for N seconds")
    ap.add_argument("--json", type=Path, help="write the medians here")
    ap.add_argument("--compare-root", type=Path,
                    help="also serve the app from this checkout (e.g. `git archive REV | tar -x`), "
                         "measured in the same rotation as 'compare'")
    args = ap.parse_args(argv)
    conns = [int(c) for c in args.connections.split(",")]

    wrk = ensure_wrk()
    url = national_pg(args.households)
    ids = CACHE / f"ids-h{args.households}.lua"
    phones, dnis = export_identities(url, ids, min(args.identities, max(args.households // 4, 1)))
    say(f"replaying {phones} phones of record and {dnis} DNI callers")

    run_dir = CACHE / f"ussd-run-{os.getpid()}"
    rserver = EmbeddedRedis(run_dir / "redis")
    servers: list[Server] = []
    try:
        redis_url = rserver.start()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-ussd-load-secret",
            "MAX_DNIS_PER_PHONE_PER_DAY": "1000000",
            "PYTHONPATH": str(ROOT),
        }
        log = run_dir / "gunicorn.log"
        app = Server.start("mijuntos", "wsgi:app", args.workers, env, ROOT, log)
        servers.append(app)
        bare = Server.start("bare", "ussd_bare:app", args.workers, env, LUA.parent, log)
        servers.append(bare)
        apps = [app]
        if args.compare_root:
            other_env = {**env, "PYTHONPATH": str(args.compare_root.resolve())}
            apps.append(Server.start("compare", "wsgi:app", args.workers, other_env,
                                     args.compare_root.resolve(), log))
            servers.append(apps[-1])
        flush = redis.Redis.from_url(redis_url)
        assert rserver.process is not None
        meter = Meter(rserver.process.pid, url)
        say(f"warming up ({args.workers} workers each)")
        for server in (bare, *apps):
            run_wrk(wrk, server, conns[0], min(2, args.duration), ids, f"w{os.getpid()}", server is bare)
        results: dict[tuple[str, int], list[dict[str, float]]] = {}
        for rep in range(args.repeats):
            for c in conns:
                for server in (bare, *apps):
                    flush.flushdb()  # no guard counts or resume offers left from the last run
                    tag = f"{os.getpid()}r{rep}c{c}{server.name[:2]}"
                    r = run_wrk(wrk, server, c, args.duration, ids, tag, server is bare,
                                None if server is bare else meter)
                    results.setdefault((server.name, c), []).append(r)
                    say(f"  run {rep + 1} {server.name:8} c={c:<3} {r['hops_s']:7.0f} hops/s "
                        f"p50 {r['p50_ms']:6.1f} ms p99 {r['p99_ms']:6.1f} ms "
                        f"CPU ms/hop {cpu_text(r)} errors {r['errors']:.0f}")
        if args.profile:
            profile(app, wrk, ids, args.profile, run_dir / "py-spy.txt")
        medians = {f"{name}@{c}": summarise(runs) for (name, c), runs in results.items()}
        report(medians, conns, args)
        if args.json:
            args.json.write_text(json.dumps(medians, indent=2) + "\n")
    finally:
        for server in servers:
            server.stop()
        rserver.stop()
    return 0


def cpu_text(r: dict[str, float]) -> str:
    parts = [(k.removesuffix("_cpu_ms_hop"), v) for k, v in r.items() if k.endswith("_cpu_ms_hop")]
    return " ".join(f"{name} {v:.2f}" for name, v in parts)


def report(medians: dict[str, dict[str, float]], conns: list[int], args: argparse.Namespace) -> None:
    say(f"\nmedians of {args.repeats} runs of {args.duration:g} s, {args.households} households, "
        f"gunicorn --workers {args.workers}")
    say(f"{'server':10} {'conns':>5} {'hops/s':>8} {'sess/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'vs bare':>7}  CPU ms/hop")
    for c in conns:
        base = medians[f"bare@{c}"]["hops_s"]
        for name in ("bare", "mijuntos", "compare"):
            if f"{name}@{c}" not in medians:
                continue
            m = medians[f"{name}@{c}"]
            say(f"{name:10} {c:>5} {m['hops_s']:8.0f} {m['sessions_s']:7.0f} {m['p50_ms']:7.1f} "
                f"{m['p99_ms']:7.1f} {m['errors']:6.0f} {m['hops_s'] / base:7.2f}  {cpu_text(m)}")


if __name__ == "__main__":
    sys.exit(main())
