"""Failed staff logins, throttled per username and per client address (the `limits` library on Redis).

A staff account can send SMS to every household: guessing its password must be slow. Only
failures count; a success clears its username's count. The address limit is looser, since
an office may share one address.
"""

from __future__ import annotations

import hashlib
import hmac

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

WINDOW_SECONDS = 15 * 60
PER_USERNAME = 5
PER_ADDRESS = 20


class LoginGuard:
    """Counts failed logins in a moving window of `WINDOW_SECONDS`."""

    def __init__(self, client: redis.Redis, secret: str) -> None:
        # The service's own client: it gives up in half a second when Redis is down.
        storage = RedisStorage("redis://", connection_pool=client.connection_pool)
        self.limiter = MovingWindowRateLimiter(storage)
        self.secret = secret.encode()
        self.user_item = RateLimitItemPerSecond(PER_USERNAME, WINDOW_SECONDS)
        self.address_item = RateLimitItemPerSecond(PER_ADDRESS, WINDOW_SECONDS)

    def _id(self, value: str) -> str:
        # Keys name no username or address in the clear.
        return hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()[:24]

    def _limits(self, username: str, address: str) -> list[tuple[RateLimitItemPerSecond, str]]:
        return [(self.user_item, self._id("u:" + username.strip().lower())),
                (self.address_item, self._id("a:" + address))]

    def blocked(self, username: str, address: str) -> bool:
        """True when this username or this address has used up its failures for now."""
        return not all(self.limiter.test(item, "login", ident)
                       for item, ident in self._limits(username, address))

    def failed(self, username: str, address: str) -> None:
        for item, ident in self._limits(username, address):
            self.limiter.hit(item, "login", ident)

    def succeeded(self, username: str) -> None:
        item, ident = self._limits(username, "")[0]
        self.limiter.clear(item, "login", ident)
