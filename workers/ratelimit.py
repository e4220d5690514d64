"""A messages-per-second limit shared by every worker, on Redis (the `limits` library)."""

from __future__ import annotations

import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from core.connections import limits_url


class SendRateLimit:
    """At most `per_second` messages in any one-second window, across processes."""

    def __init__(self, redis_url: str, per_second: int, name: str = "sms") -> None:
        self.per_second = per_second
        self.name = name
        self.item = RateLimitItemPerSecond(max(per_second, 1))
        self.limiter = (
            MovingWindowRateLimiter(storage_from_string(limits_url(redis_url)))
            if per_second > 0 else None
        )

    @property
    def chunk(self) -> int | None:
        """The most recipients one call may carry so the window is filled smoothly."""
        return max(1, self.per_second // 5) if self.limiter else None

    def acquire_up_to(self, wanted: int) -> int:
        """Take room for up to `wanted` messages; how many may go now (at least one).

        Waits only while less than a small share is free (a fifth of a chunk): the window frees
        room in pieces, as old sends age out, and sending what fits keeps the rate at the limit
        where waiting for a whole chunk would leave those pieces unused.
        """
        if self.limiter is None:
            return wanted
        least = min(wanted, max(1, (self.chunk or 1) // 5))
        while True:
            stats = self.limiter.get_window_stats(self.item, self.name)
            take = min(wanted, stats.remaining)
            if take >= least:
                if self.limiter.hit(self.item, self.name, cost=take):
                    return take
                continue  # another dispatcher took it first
            time.sleep(min(max(stats.reset_time - time.time(), 0.005), 0.25))
