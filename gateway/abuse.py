"""Enumeration guard: one phone may ask about only a few distinct DNIs a day (USSD and SMS)."""

from __future__ import annotations

import redis
from limits import RateLimitItemPerDay
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from core.connections import limits_url
from core.keys import Pipeline, key_for
from core.privacy import phone_key

DAY = 24 * 3600


class DniGuard:
    """Counts the distinct DNIs each phone asks about in a moving 24-hour window."""

    def __init__(self, client: redis.Redis, redis_url: str, secret: str, per_day: int) -> None:
        self.client = client
        self.secret = secret
        self.item = RateLimitItemPerDay(max(per_day, 1))
        self.limiter = MovingWindowRateLimiter(storage_from_string(limits_url(redis_url)))

    def _keys(self, phone: str) -> tuple[str, str]:
        pkey = phone_key(self.secret, phone)
        return pkey, key_for("dnis", pkey)

    def allowed(self, phone: str, dni_key: str) -> bool:
        """A DNI already asked about today is always allowed; a new one while under the limit.

        A yes for a new DNI takes its place in the window at once (the `limits` library's
        test-and-hit is one atomic script): two sessions of one phone cannot both slip under
        the limit, and the hop makes one round trip instead of a test and a later hit. Every
        caller tries the DNI after a yes (`DniTried` then marks it as seen for the day).
        """
        pkey, seen = self._keys(phone)
        if self.client.sismember(seen, dni_key):
            return True
        return bool(self.limiter.hit(self.item, "dni", pkey))

    def record(self, phone: str, dni_key: str, pipeline: Pipeline | None = None) -> None:
        """Mark `dni_key` as asked about by `phone` today (counted by `allowed`)."""
        _pkey, seen = self._keys(phone)
        pipe = pipeline if pipeline is not None else self.client.pipeline(transaction=False)
        pipe.sadd(seen, dni_key)
        pipe.expire(seen, DAY)
        if pipeline is None:
            pipe.execute()
