"""The one session store: USSD sessions, resume snapshots and lockout counters in Redis."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import redis

from core.keys import DATA_GENERATION, Pipeline, key_for
from core.redis_batch import HotLine
from dialogs.state import SessionState

_STATE_DEFAULTS = dict(vars(SessionState()))


def _compact(state: SessionState) -> dict[str, Any]:
    """The state's non-default fields, as `SessionState.to_dict` gives them.

    Written here because `to_dict` goes through `dataclasses.asdict`, a recursive deep copy and
    the largest CPU item of the service's own code on every hop; the result is only serialised.
    """
    return {k: v for k, v in vars(state).items() if v != _STATE_DEFAULTS[k]}


def _snapshot(state: SessionState, session_id: str) -> str:
    """What a phone's resume key holds for `state`: its fields but the offers made on top of it,
    and a short mark of the session that left it (`SessionState.from_dict` ignores it)."""
    snapshot = _compact(state)
    snapshot.pop("saved", None)
    snapshot.pop("notice", None)
    if session_id:
        snapshot["_session"] = hashlib.blake2b(session_id.encode(), digest_size=6).hexdigest()
    return json.dumps(snapshot, separators=(",", ":"))


# Deletes the key only if it still holds the value given: a newer session's snapshot stays.
_DELETE_IF_EQUAL = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


@dataclass
class StoredSession:
    """A session as kept between hops: its state and the last hop it answered."""

    state: SessionState
    text: str  # a keyed digest of the last hop's `text` (which may hold a DNI and a birth date)
    reply: str  # what was answered, for resent hops
    inputs: int  # how many inputs of `text` were processed
    # A keyed hash of the phone that started the session (`privacy.phone_key`), never the number:
    # a hop of this session id from another phone must not continue it.
    phone: str = ""

    def dumps(self) -> str:
        return json.dumps(
            {"s": _compact(self.state), "t": self.text, "r": self.reply, "n": self.inputs,
             "p": self.phone},
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, raw: bytes | str) -> StoredSession:
        data = json.loads(raw)
        return cls(SessionState.from_dict(data["s"]), data["t"], data["r"], int(data["n"]),
                   data.get("p", ""))

    def belongs_to(self, phone_key: str) -> bool:
        """True when the hop's phone is the one that started this session."""
        return bool(self.phone) and hmac.compare_digest(self.phone, phone_key)



class SessionStore:
    """Reads and writes the service's Redis keys; every write sets a TTL."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        session_ttl: int,
        resume_ttl: int,
        lock_ttl: int,
    ) -> None:
        self.client = client
        self.line = HotLine(client)  # the hop's own connection per thread (core/redis_batch.py)
        self.session_ttl = session_ttl
        self.resume_ttl = resume_ttl
        self.lock_ttl = lock_ttl

    def load(self, session_id: str) -> StoredSession | None:
        raw = self.client.get(key_for("ussd", session_id))
        return StoredSession.loads(raw) if raw else None

    def load_hop(
        self, session_id: str, phone_key: str, dni_keys: tuple[str, ...] = ()
    ) -> tuple[StoredSession | None, SessionState | None, bytes | None, dict[str, int]]:
        """A session, its phone's resumable state, the data generation (core/keys.py:
        DATA_GENERATION) and the wrong dates counted for `dni_keys` (as `dob_failures`), in
        one round trip (MGET)."""
        raw, saved, generation, *counts = self.line.read(
            key_for("ussd", session_id), key_for("resume", phone_key), DATA_GENERATION,
            *(key_for("dobfail", k) for k in dni_keys))
        return (
            StoredSession.loads(raw) if raw else None,
            SessionState.from_dict(json.loads(saved)) if saved else None,
            generation,
            {k: int(n) if n else 0 for k, n in zip(dni_keys, counts, strict=True)},
        )

    def save(self, session_id: str, stored: StoredSession, pipeline: Pipeline | None = None) -> None:
        (pipeline or self.client).set(key_for("ussd", session_id), stored.dumps(), ex=self.session_ttl)

    def resumable(self, phone_key: str) -> SessionState | None:
        """The state of this phone's dropped session, if it is recent enough to resume."""
        raw = self.client.get(key_for("resume", phone_key))
        return SessionState.from_dict(json.loads(raw)) if raw else None

    def keep_for_resume(
        self, phone_key: str, state: SessionState, pipeline: Pipeline | None = None,
        session_id: str = "",
    ) -> None:
        (pipeline or self.client).set(
            key_for("resume", phone_key), _snapshot(state, session_id), ex=self.resume_ttl,
        )

    def forget_resume(self, phone_key: str, pipeline: Pipeline | None = None) -> None:
        (pipeline or self.client).delete(key_for("resume", phone_key))

    def ended_on_purpose(self, session_id: str, phone_key: str | None) -> bool:
        """A session the aggregator reports as ended with `Success`: its phone is not offered to
        resume it. Only this session's own snapshot goes (a newer session of the phone may have
        written its own since), and only for the phone that started it; True when one went."""
        stored = self.load(session_id)
        if stored is None or not stored.phone:
            return False
        if phone_key is not None and not stored.belongs_to(phone_key):
            return False
        key = key_for("resume", stored.phone)
        return bool(self.client.eval(_DELETE_IF_EQUAL, 1, key, _snapshot(stored.state, session_id)))

    # Wrong dates of birth are counted per DNI across channels: USSD and SMS share one lock.
    def dob_failures(self, dni_key: str) -> int:
        raw = self.client.get(key_for("dobfail", dni_key))
        return int(raw) if raw else 0

    def fail_dob(self, dni_key: str, pipeline: Pipeline | None = None) -> None:
        """Count a wrong date of birth; the count (and so the lock) lasts the cooling-off period."""
        key = key_for("dobfail", dni_key)
        pipe = pipeline or self.client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, self.lock_ttl)
        if pipeline is None:
            pipe.execute()

    def clear_dob(self, dni_key: str, pipeline: Pipeline | None = None) -> None:
        (pipeline or self.client).delete(key_for("dobfail", dni_key))
