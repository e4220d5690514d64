"""The real high-availability engines on loopback, for the HA tests and the failover benchmark.

`SentinelSet`: a Redis primary, its replicas and three Sentinels (redis-server, the binary the
embedded Redis uses). `PostgresPair`: a PostgreSQL primary and a streaming standby made with
`pg_basebackup -R`, run as the `postgres` user (PostgreSQL refuses to run as root). Both keep
their files under a folder of the caller's and are stopped with `stop()`.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis as redis_lib

from core.embedded import redis_server_binary

SERVICE = "mj"  # the Sentinels' name for the primary
PG_BIN = next((p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
               if (p / "pg_ctl").exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], object], seconds: float) -> bool:
    """True once `check()` is truthy (Redis and network errors count as not yet)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except (redis_lib.RedisError, OSError):
            pass
        time.sleep(0.1)
    return False


def _in_sync(replica: redis_lib.Redis) -> bool:
    return bool(replica.info("replication")["master_link_status"] == "up")


def _knows_replicas(sentinel: redis_lib.Redis, count: int) -> bool:
    return len(sentinel.execute_command("SENTINEL", "REPLICAS", SERVICE)) == count


class SentinelSet:
    """A primary, `replicas` replicas and three Sentinels (ports on loopback, files under `root`)."""

    def __init__(self, root: Path, replicas: int = 1, down_after_ms: int = 1000,
                 failover_timeout_ms: int = 4000) -> None:
        self.root = root
        self.binary = redis_server_binary()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.primary = free_port()
        self.replicas = [free_port() for _ in range(replicas)]
        self.sentinels = [free_port() for _ in range(3)]
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms

    @property
    def replica(self) -> int:
        """The first replica's port."""
        return self.replicas[0]

    def _start(self, name: str, lines: list[str], *extra: str) -> None:
        directory = self.root / name
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "redis.conf"
        conf.write_text("\n".join([*lines, f'dir "{directory}"', 'save ""', "appendonly no",
                                   "bind 127.0.0.1", ""]))
        log = (directory / "log").open("wb")
        self.procs[name] = subprocess.Popen([self.binary, str(conf), *extra], stdout=log,
                                            stderr=subprocess.STDOUT)

    def start(self) -> None:
        self._start("primary", [f"port {self.primary}"])
        for n, port in enumerate(self.replicas):
            self._start(f"replica{n}", [f"port {port}", f"replicaof 127.0.0.1 {self.primary}"])
        for n, port in enumerate(self.sentinels):
            self._start(f"sentinel{n}", [
                f"port {port}", f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary} 2",
                f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}",
                f"sentinel failover-timeout {SERVICE} {self.failover_timeout_ms}",
                f"sentinel parallel-syncs {SERVICE} 1"], "--sentinel")
        for port in self.replicas:
            if not wait_for(functools.partial(_in_sync, redis_lib.Redis(port=port)), 20):
                raise RuntimeError(f"redis replica on {port}: not in sync with the primary")
        for port in self.sentinels:
            if not wait_for(functools.partial(_knows_replicas, redis_lib.Redis(port=port),
                                              len(self.replicas)), 20):
                raise RuntimeError(f"sentinel on {port}: has not found every replica")

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinels) + f"/{SERVICE}"

    def current_primary(self) -> int | None:
        """The port the Sentinels name as primary now (None if none answers)."""
        for port in self.sentinels:
            try:
                _, found = redis_lib.Redis(port=port, socket_timeout=0.5).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
                return int(found)
            except (redis_lib.RedisError, OSError, TypeError, ValueError):
                continue
        return None

    def kill_primary(self) -> None:
        """SIGKILL the primary's process: its machine is gone."""
        self.procs["primary"].kill()
        self.procs["primary"].wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def postgres_available() -> bool:
    """PostgreSQL's server binaries are here and this process may run them as `postgres`."""
    return PG_BIN is not None and os.geteuid() == 0 and shutil.which("runuser") is not None


class PostgresPair:
    """A primary and its streaming standby, run as the postgres user under `root`.

    `synchronous`: the primary waits for the standby to flush each commit
    (`synchronous_standby_names`), so a promotion loses no acknowledged commit.
    """

    def __init__(self, root: Path, database: str = "mj", synchronous: bool = False) -> None:
        self.root = root
        self.database = database
        self.synchronous = synchronous
        self.ports = {"primary": free_port(), "standby": free_port()}

    def run(self, *args: str) -> None:
        if PG_BIN is None:
            raise RuntimeError("PostgreSQL's server binaries are not installed")
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / args[0]), *args[1:]],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def ctl(self, node: str, *args: str) -> None:
        self.run("pg_ctl", "-D", str(self.root / node), *args)

    def start(self, node: str) -> None:
        options = (f"-p {self.ports[node]} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c wal_level=replica -c max_wal_senders=5 -c fsync=off -c max_connections=200"
                   " -c cluster_name=" + node)
        if self.synchronous and node == "primary":  # the promoted standby has no standby to wait for
            options += " -c synchronous_standby_names=standby"
        self.ctl(node, "-o", options, "-l", str(self.root / f"{node}.log"), "-w", "start")

    def create(self) -> None:
        self.root.mkdir(parents=True)
        shutil.chown(self.root, "postgres")
        self.run("initdb", "-D", str(self.root / "primary"), "-A", "trust", "-U", "postgres")
        self.start("primary")
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.ports["primary"]), "-U", "postgres",
                 self.database)
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.ports["primary"]), "-U",
                 "postgres", "-D", str(self.root / "standby"), "-R", "-X", "stream", "-c", "fast")
        self.start("standby")

    @property
    def url(self) -> str:
        hosts = "&".join(f"host=127.0.0.1:{p}" for p in self.ports.values())
        return f"postgresql+psycopg://postgres@/{self.database}?{hosts}&target_session_attrs=read-write"

    def stop_primary(self) -> None:
        """`pg_ctl -m immediate stop` of the primary: no checkpoint, as if its machine were gone."""
        self.ctl("primary", "-m", "immediate", "stop")

    def promote(self) -> None:
        self.ctl("standby", "-w", "promote")

    def stop(self) -> None:
        for node in self.ports:
            try:
                self.ctl(node, "-m", "immediate", "stop")
            except subprocess.CalledProcessError:
                pass  # not running
