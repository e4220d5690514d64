"""Enumeration guards: one phone may ask about only a few distinct DNIs a day (USSD and SMS), and
a gestor about no more than their daily cap (GESTOR_DAILY_CAP) in assisted consultations."""

from __future__ import annotations

import time

import redis
from limits import RateLimitItemPerDay
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from core.connections import limits_url
from core.keys import Pipeline, key_for
from core.privacy import phone_key

DAY = 24 * 3600
# Atomic: a DNI already counted today passes; a new one is counted only while under the cap, so
# two hops of one gestor at the same moment cannot both slip past it.
_ASSIST = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


# `allowed` in one round trip: a DNI the phone already asked about today passes; else the moving
# window of the `limits` library (its acquire_moving_window.lua, on the key it names) takes the
# new DNI while under the limit. Atomic, as the two were: two sessions of one phone cannot both
# slip under it. KEYS: the phone's DNIs of the day, its window; ARGV: dni key, limit, window
# seconds, now.
_ALLOWED = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
local limit, expiry, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local entry = redis.call('LINDEX', KEYS[2], limit - 1)
if entry and tonumber(entry) >= now - expiry then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[4])
redis.call('LTRIM', KEYS[2], 0, limit - 1)
redis.call('EXPIRE', KEYS[2], expiry)
return 1
"""


class DniGuard:
    """Counts the distinct DNIs each phone asks about in a moving 24-hour window."""

    def __init__(self, client: redis.Redis, redis_url: str, secret: str, per_day: int) -> None:
        self.client = client
        self.secret = secret
        self.item = RateLimitItemPerDay(max(per_day, 1))
        self.limiter = MovingWindowRateLimiter(storage_from_string(limits_url(redis_url)))
        self._allowed = client.register_script(_ALLOWED)

    def _keys(self, phone: str) -> tuple[str, str]:
        pkey = phone_key(self.secret, phone)
        return pkey, key_for("dnis", pkey)

    def allowed(self, phone: str, dni_key: str) -> bool:
        """A DNI already asked about today is always allowed; a new one while under the limit.

        A yes for a new DNI takes its place in the window at once, in the same script as the
        test of the day's DNIs (`_ALLOWED`): two sessions of one phone cannot both slip under
        the limit, and the hop makes one round trip for both. Every caller tries the DNI after
        a yes (`DniTried` then marks it as seen for the day).
        """
        pkey, seen = self._keys(phone)
        window = self.limiter.storage.prefixed_key(self.item.key_for("dni", pkey))  # type: ignore[attr-defined]
        return bool(self._allowed(keys=[seen, window],
                                  args=[dni_key, self.item.amount, self.item.get_expiry(), time.time()]))

    def record(self, phone: str, dni_key: str, pipeline: Pipeline | None = None) -> None:
        """Mark `dni_key` as asked about by `phone` today (counted by `allowed`)."""
        _pkey, seen = self._keys(phone)
        pipe = pipeline if pipeline is not None else self.client.pipeline(transaction=False)
        pipe.sadd(seen, dni_key)
        pipe.expire(seen, DAY)
        if pipeline is None:
            pipe.execute()

    # --- assisted consultations: per gestor (not per phone), per Lima day.
    @staticmethod
    def _assist_key(gestor_id: str, day: str) -> str:
        return key_for("gestor_dnis", f"{gestor_id}:{day}")

    def assist(self, gestor_id: str, dni_key: str, cap: int, day: str) -> bool:
        """True for a DNI the gestor already asked about on `day`, or a new one under `cap`
        (then counted at once); False once the day's cap of distinct DNIs is reached."""
        script = self.client.register_script(_ASSIST)
        return bool(script(keys=[self._assist_key(gestor_id, day)],
                           args=[dni_key, max(cap, 1), 2 * DAY]))

    def assisted(self, gestor_id: str, day: str) -> int:
        """The distinct DNIs the gestor asked about on `day`."""
        return int(self.client.scard(self._assist_key(gestor_id, day)))
