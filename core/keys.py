"""Redis key naming: every key of the service is made here."""

from __future__ import annotations

from typing import Any

PREFIX = "mijuntos"

Pipeline = Any  # redis.client.Pipeline; kept loose so callers may pass any pipeline


def key_for(kind: str, ident: str) -> str:
    """Every Redis key of the service is made here."""
    return f"{PREFIX}:{kind}:{ident}"
