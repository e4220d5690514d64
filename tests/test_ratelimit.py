"""The shared send-rate limit on a real Redis: never more than the limit in a second, and the
room the window frees in pieces is used, not left idle."""

from __future__ import annotations

import time

import redis as redis_lib

from workers.ratelimit import SendRateLimit


def test_a_call_takes_the_room_there_is_now(redis: redis_lib.Redis, redis_url: str) -> None:
    limit = SendRateLimit(redis_url, 10, name="test")
    assert limit.acquire_up_to(7) == 7
    started = time.monotonic()
    assert limit.acquire_up_to(5) == 3  # room for 3 now: take them, the rest waits for later
    assert time.monotonic() - started < 0.2
    assert limit.acquire_up_to(2) == 2  # nothing left: waits until the first 7 age out
    assert time.monotonic() - started >= 0.8


def test_never_more_than_the_limit_in_any_second(redis: redis_lib.Redis, redis_url: str) -> None:
    limit = SendRateLimit(redis_url, 20, name="test2")
    # Each take happened somewhere between `before` and `after` (a loaded machine may pause this
    # process on either side of the call): only takes certainly inside one second count together.
    takes: list[tuple[float, float, int]] = []
    started = time.monotonic()
    while time.monotonic() - started < 2.5:
        before = time.monotonic()
        took = limit.acquire_up_to(6)
        takes.append((before, time.monotonic(), took))
    for i, (first_before, _, _) in enumerate(takes):
        together = sum(n for _, after, n in takes[i:] if after < first_before + 1.0)
        assert together <= 20
    assert sum(n for _, _, n in takes) >= 20 * 2  # and the limit is used, not just respected


def test_no_limit_takes_everything_at_once(redis_url: str) -> None:
    assert SendRateLimit(redis_url, 0).acquire_up_to(500) == 500
