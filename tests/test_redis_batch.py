"""core/redis_batch.py: a hop's writes as one script call, in order and all of them."""

from __future__ import annotations

import threading

import pytest
import redis as redis_lib

from core.redis_batch import Batch, HotLine, pack


def test_the_writes_land_in_order_with_their_ttls(redis: redis_lib.Redis) -> None:
    batch = Batch(HotLine(redis))
    batch.set("t:s", "state", ex=300).set("t:plain", b"x").incr("t:n").expire("t:n", 60)
    batch.sadd("t:set", "a", "b").delete("t:gone").xadd("t:stream", {"kind": "next", "n": 1})
    redis.set("t:gone", "old")
    batch.execute()
    assert redis.get("t:s") == b"state" and 290 < redis.ttl("t:s") <= 300
    assert redis.get("t:plain") == b"x" and redis.ttl("t:plain") == -1
    assert redis.get("t:n") == b"1" and 0 < redis.ttl("t:n") <= 60
    assert redis.smembers("t:set") == {b"a", b"b"} and not redis.exists("t:gone")
    entries: list[tuple[bytes, dict[bytes, bytes]]] = redis.xrange("t:stream")  # type: ignore[assignment]
    ((_, fields),) = entries
    assert fields == {b"kind": b"next", b"n": b"1"}
    assert batch.words == [] and batch.execute() is None  # sent once; an empty batch sends nothing


def test_a_redis_that_lost_its_scripts_loads_it_again(redis: redis_lib.Redis) -> None:
    line = HotLine(redis)
    Batch(line).set("t:a", "1").execute()
    redis.script_flush()  # as a restarted Redis, or a new primary after a failover
    Batch(line).set("t:a", "2").execute()
    assert redis.get("t:a") == b"2"


def test_a_failing_command_is_an_error_not_a_silence(redis: redis_lib.Redis) -> None:
    redis.set("t:text", "not a number")
    with pytest.raises(redis_lib.ResponseError):
        Batch(HotLine(redis)).set("t:before", "1").incr("t:text").execute()
    assert redis.get("t:before") == b"1"  # the commands before it stand, as in MULTI/EXEC


def test_the_hop_line_reads_again_on_a_connection_the_server_closed(redis: redis_lib.Redis) -> None:
    line = HotLine(redis)
    redis.set("t:k", "v")
    assert line.read("t:k", "t:none") == [b"v", None]
    redis.client_kill_filter(_type="normal", skipme=True)  # as a restart or a failover does
    assert line.read("t:k") == [b"v"]  # the dead connection dropped, a new one made, read again


def test_a_write_on_a_lost_connection_fails_once_and_is_not_repeated(redis: redis_lib.Redis) -> None:
    line = HotLine(redis)
    line.read("t:k")  # the thread's connection exists
    redis.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(redis_lib.ConnectionError):
        Batch(line).incr("t:n").execute()
    assert redis.get("t:n") is None  # not sent twice (nor once: the connection was gone)
    Batch(line).incr("t:n").execute()  # the next hop's write goes on a new connection
    assert redis.get("t:n") == b"1"


def test_each_thread_has_its_own_connection(redis: redis_lib.Redis) -> None:
    line = HotLine(redis)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(line._connection())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(conn) for conn in seen}) == 3
    Batch(line).set("t:s", "1").execute()  # the script loaded on this thread's connection
    assert redis.get("t:s") == b"1"


def test_a_command_is_packed_as_redis_py_packs_it() -> None:
    words = ("EVALSHA", "ab12", 0, 3, "SET", "mijuntos:ussd:ATUid_1", "Añaños ¿qué? ñ €",
             b"\x00\xffraw", -17, 2.5, 1e-7, "", 10**20)
    theirs = b"".join(redis_lib.Connection().pack_command(*words))
    assert pack(words) == theirs
    assert pack(["PING"]) == b"*1\r\n$4\r\nPING\r\n"
    for wrong in (True, None, object()):
        with pytest.raises(redis_lib.DataError):
            pack(("SET", "k", wrong))  # type: ignore[arg-type]
