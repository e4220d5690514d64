"""Plain-text answers to the aggregator, and the one way a malformed callback is refused."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from flask import Response

from gateway.hops import CallbackError

T = TypeVar("T")


def plain(body: str, status: int = 200) -> Response:
    """A text/plain response, as Africa's Talking expects."""
    return Response(body, status=status, mimetype="text/plain")


def parse_or_400(
    parse: Callable[[Mapping[str, str]], T], form: Mapping[str, str], what: str, log: logging.Logger
) -> T | Response:
    """The parsed callback, or a 400 naming the field and the reason (and a log line)."""
    try:
        return parse(form)
    except CallbackError as exc:
        log.warning("%s rejected: %s", what, exc)
        return plain(f"bad request: {exc}", 400)
