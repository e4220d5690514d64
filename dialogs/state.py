"""A USSD session's state: small, JSON-serialisable, kept in Redis between hops."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SessionState:
    screen: str = "dni"
    lang: str = "es"
    hogar_id: str | None = None  # verified household
    name: str = ""
    ut: str | None = None
    pending: str | None = None  # household whose DNI was given, awaiting date of birth
    dni_key: str | None = None
    candidates: list[str] = field(default_factory=list)  # households sharing the caller's phone
    back: list[str] = field(default_factory=list)
    page: int = 0
    invalid: int = 0
    dni_tries: int = 0
    notice: str | None = None
    saved: dict[str, Any] | None = None  # the dropped session offered for resuming
    left: str | None = None  # the household "6 Otro hogar" left: "0"/"00" on the chooser return
    # Assisted mode (dialogs/assisted.py): the gestor consulting from this phone, and the new
    # phone of record typed for the household, kept between its two entries as a keyed hash
    # and its last three digits only (never a phone in clear in Redis).
    gestor: str | None = None
    new_phone_key: str | None = None
    new_last3: str | None = None

    @property
    def verified(self) -> bool:
        return self.hogar_id is not None

    def to_dict(self) -> dict[str, Any]:
        """A compact dict: defaults are left out to keep the Redis value small."""
        default = _DEFAULTS
        return {k: v for k, v in asdict(self).items() if v != default[k]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionState:
        """Rebuild a state, ignoring keys this version does not know."""
        known = {k: v for k, v in data.items() if k in _DEFAULTS}
        return cls(**known)


_DEFAULTS = asdict(SessionState())
