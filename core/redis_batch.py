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

from collections.abc import Mapping
from typing import Any

import redis

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

Word = str | bytes | int | float


class Batch:
    """Redis writes collected, then sent by `execute()` as one atomic script call."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
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
        # redis-py's Script sends EVALSHA, and loads the script when the server lacks it (a
        # restarted Redis, or the new primary after a Sentinel failover).
        return self.client.register_script(_RUN)(args=words)
