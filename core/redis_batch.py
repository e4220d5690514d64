"""A hop's Redis writes as one command: a script that runs them in order, atomically.

A USSD hop ends with a handful of writes (its session, its phone's resume snapshot, its usage
records, a lockout counter). As a MULTI/EXEC pipeline they were MULTI, each command, EXEC on the
wire and as many replies to read back (QUEUED for each, then EXEC's array): redis-py's work per
reply was most of the write's CPU. Here they go as one EVALSHA whose arguments are the commands,
and one reply comes back. A script runs atomically, as MULTI/EXEC does: no other client sees
half of a hop's writes, and a command that fails leaves the ones before it done, as in EXEC.

`Batch` takes the pipeline methods the hop's writers call (`set`, `delete`, `xadd`, `expire`,
`incr`, `sadd`), so `SessionStore`, `DniGuard` and `usage_stream.stage` write to it unchanged.
The script's keys are not declared in KEYS: the service runs on one Redis (with Sentinel), never
on Redis Cluster, whose slots would need them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from typing import Any

import redis
import redis.exceptions

# ARGV: for each command, its number of words, then the words.
_RUN = """
local i, n = 1, #ARGV
while i <= n do
  local words = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + words))
  i = i + words + 1
end
return n
"""

_RUN_SHA = hashlib.sha1(_RUN.encode()).hexdigest()

Word = str | bytes | int | float


def pack(words: tuple[Word, ...] | list[Word]) -> bytes:
    """One command in Redis's wire format (RESP): what redis-py's `Connection.pack_command` makes
    for these words, in one join. redis-py's went through its encoder word by word and was, in a
    profile of hops, a quarter of the CPU of their Redis round trips (a hop's script call has
    dozens of words)."""
    out = [b"*%d\r\n" % len(words)]
    for word in words:
        if isinstance(word, str):
            data = word.encode()
        elif isinstance(word, bytes):
            data = word
        elif isinstance(word, int) and not isinstance(word, bool):
            data = b"%d" % word
        elif isinstance(word, float):
            data = repr(word).encode()
        else:  # as redis-py: a bool or None is a caller's mistake, not "True" on the server
            raise redis.DataError(f"invalid input of type {type(word).__name__!r} for a Redis command")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Batch:
    """Redis writes collected, then sent by `execute()` as one atomic script call."""

    def __init__(self, line: HotLine) -> None:
        self.line = line
        self.words: list[Word] = []

    def _add(self, *words: Word) -> Batch:
        self.words.append(len(words))
        self.words.extend(words)
        return self

    def set(self, name: str, value: Word, ex: int | None = None) -> Batch:
        return self._add("SET", name, value) if ex is None else self._add("SET", name, value, "EX", ex)

    def delete(self, *names: str) -> Batch:
        return self._add("DEL", *names)

    def expire(self, name: str, time: int) -> Batch:
        return self._add("EXPIRE", name, int(time))

    def incr(self, name: str) -> Batch:
        return self._add("INCR", name)

    def sadd(self, name: str, *values: Word) -> Batch:
        return self._add("SADD", name, *values)

    def xadd(self, name: str, fields: Mapping[str, Word]) -> Batch:
        words: list[Word] = ["XADD", name, "*"]
        for field, value in fields.items():
            words += (field, value)
        return self._add(*words)

    def execute(self) -> Any:
        """Send the writes (nothing when there are none) and start a new batch."""
        words, self.words = self.words, []
        if not words:
            return None
        return self.line.run(words)


class HotLine:
    """The USSD hop's own Redis connection, one per thread, for its read and its writes.

    redis-py's client takes a connection from its pool for every command, checks with a poll()
    that nothing is left unread on it, and gives it back: under load that check and the pool's
    bookkeeping were most of the CPU of a hop's two Redis round trips. A thread here keeps one
    connection of its own, made by the client's pool (same server, timeouts, and Sentinel's
    discovery of the primary) but never shared, so there is nothing another command could have
    left on it: any error or interruption in mid-command drops the connection, and the next
    command opens a new one.

    `read` (MGET) is tried once more on a lost connection: a connection the server closed while
    it was idle (a Redis restart, a failover) shows only when used, and a read may be repeated.
    A write is never repeated: its script may have run before the connection broke.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._local = threading.local()

    def _connection(self) -> Any:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # none yet, or a forked child's copy
            local.conn, local.pid = self.client.connection_pool.make_connection(), os.getpid()
        return local.conn

    def _command(self, *words: Word) -> Any:
        conn = self._connection()
        try:
            # connect() first, as the pool does: a Sentinel-managed connection finds the primary
            # there (a send would connect to the default address instead). Connected, it returns.
            conn.connect()
            conn.send_packed_command([pack(words)], check_health=False)
            return conn.read_response()
        except redis.ResponseError:
            raise  # the server's answer, read whole: the connection is fine
        except BaseException:
            conn.disconnect()
            raise

    def read(self, *keys: str) -> list[bytes | None]:
        try:
            return self._command("MGET", *keys)  # type: ignore[no-any-return]
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return self._command("MGET", *keys)  # type: ignore[no-any-return]

    def run(self, words: list[Word]) -> Any:
        """The batch script over `words`; loaded first when the server lacks it (a restarted
        Redis, or the new primary after a Sentinel failover)."""
        try:
            return self._command("EVALSHA", _RUN_SHA, 0, *words)
        except redis.exceptions.NoScriptError:
            self._command("SCRIPT", "LOAD", _RUN)
            return self._command("EVALSHA", _RUN_SHA, 0, *words)
