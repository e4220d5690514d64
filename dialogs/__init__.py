"""The USSD menu as a pure state machine: step(state, input, facts) -> Reply.

Nothing here imports Flask, Redis, SQLAlchemy, requests or rq (tests/test_purity.py).
"""

from __future__ import annotations

from dialogs.effects import (
    DobCleared,
    DobFailed,
    Effect,
    RecordQuery,
    SetLanguage,
    SetPhoneOfRecord,
    SetReminders,
)
from dialogs.engine import Context, Reply, feed, start
from dialogs.facts import CoRespFacts, Facts, HouseholdFacts, SettlementFacts
from dialogs.state import SessionState
from dialogs.texts import Catalog

__all__ = [
    "Catalog",
    "Context",
    "CoRespFacts",
    "DobCleared",
    "DobFailed",
    "Effect",
    "Facts",
    "HouseholdFacts",
    "RecordQuery",
    "Reply",
    "SessionState",
    "SetLanguage",
    "SetPhoneOfRecord",
    "SetReminders",
    "SettlementFacts",
    "feed",
    "start",
]
