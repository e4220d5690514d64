"""The process's counters: requests, USSD hops, lookups, lockouts (Prometheus).

No Flask here: a parked callback replayed on a worker counts its lookups the same way.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Histogram

from dialogs.effects import DobFailed, Effect, RecordQuery

# Counted where they happen, in the process that serves the request. Under gunicorn every worker
# writes its own file in PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py makes one) and /metrics sums
# them; without that directory a scrape would see one worker's counts. Labels stay few: no
# phone, DNI or household.
REQUESTS = Counter("mijuntos_http_requests", "HTTP requests by route and status", ["route", "status"])
LATENCY = Histogram("mijuntos_http_request_seconds", "Request latency by route", ["route"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
HOPS = Counter("mijuntos_ussd_hops", "USSD hops by screen answered, CON/END and outcome "
               "(answered, failed: a polite END after an error, refused: 403, invalid: 4xx)",
               ["screen", "kind", "outcome"])
LOOKUPS = Counter("mijuntos_lookups", "Lookups and verifications by channel, kind and outcome",
                  ["channel", "kind", "outcome"])
LOCKOUTS = Counter("mijuntos_dob_lockouts", "DNIs locked by a wrong date of birth reaching "
                   "DOB_MAX_ATTEMPTS", ["channel"])
DNI_LIMIT = Counter("mijuntos_dni_limit_refusals", "Phones refused a new DNI over "
                    "MAX_DNIS_PER_PHONE_PER_DAY", ["channel"])
VOICE = Counter("mijuntos_voice_callbacks", "Voice call callbacks by outcome (answered, ended: the "
                "final notification, failed: the spoken 'service unavailable', missed: a missed call "
                "rejected, invalid: 4xx)",
                ["outcome"])
PROCESS_METRICS = (REQUESTS, LATENCY, HOPS, LOOKUPS, LOCKOUTS, DNI_LIMIT, VOICE)
USSD_ROUTE = "/ussd"


def request_id(given: str | None) -> str:
    """The caller's X-Request-Id (cut to 64 characters), or a new one: 16 hex digits, a random
    prefix drawn once per process and a count (a uuid4 per request asked the kernel for random
    bytes every time: 2 % of a hop's CPU under load)."""
    return (given or "")[:64] or f"{_ids.prefix}{next(_ids.count) & 0xFFFFFFFF:08x}"


class _RequestIds:
    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.prefix = uuid.uuid4().hex[:8]
        self.count = itertools.count()


_ids = _RequestIds()
os.register_at_fork(after_in_child=_ids.renew)  # a forked worker never repeats its parent's ids


@functools.lru_cache(maxsize=1024)
def _child(metric: Counter | Histogram, *labels: str) -> Any:
    # Resolving a metric's labels on every request was ~2 % of a USSD hop's CPU.
    return metric.labels(*labels)


def observe(route: str, status: int, started: float, screen: str | None = None,
            reply: str | None = None) -> None:
    """Count a request and its latency; a USSD hop by screen, CON/END and outcome.

    The USSD endpoint passes the screen and the reply of a hop it answered (screen "failed" when
    the answer is the polite END of an internal error, "deadline" when HOP_DEADLINE_MS was
    spent), neither for a refused or malformed one.
    """
    _child(REQUESTS, route, str(status)).inc()
    _child(LATENCY, route).observe(time.perf_counter() - started)
    if route == USSD_ROUTE:
        _child(HOPS, *_hop_labels(status, screen, reply)).inc()


def _hop_labels(status: int, screen: str | None, reply: str | None) -> tuple[str, str, str]:
    if status == 200 and screen in ("failed", "deadline"):
        return "-", "END", screen  # an internal error, or the hop's deadline spent
    if status == 200 and screen is not None:
        return screen, (reply or "")[:3] or "-", "answered"
    return "-", "-", "refused" if status == 403 else "invalid"


def count_effects(effects: Iterable[Effect], channel: str) -> None:
    """Count a hop's or an SMS's lookups, new DNI locks and DNI-limit refusals.

    Called once its effects are durable. A lock is the wrong date that reaches the limit: the
    dialog records it as a `locked` verification right after its `DobFailed`; a `locked` alone
    is a refusal of a DNI already locked (a lookup, not a new lock).
    """
    previous: Effect | None = None
    for effect in effects:
        if isinstance(effect, RecordQuery):
            _child(LOOKUPS, channel, effect.kind, effect.outcome[:24]).inc()
            if effect.kind == "verify" and effect.outcome == "locked" and isinstance(previous, DobFailed):
                _child(LOCKOUTS, channel).inc()
            elif effect.kind == "verify" and effect.outcome == "dni_limit":
                _child(DNI_LIMIT, channel).inc()
        previous = effect
