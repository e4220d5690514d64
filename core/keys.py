"""Redis key naming: every key of the service is made here."""

from __future__ import annotations

from typing import Any

PREFIX = "mijuntos"

Pipeline = Any  # redis.client.Pipeline; kept loose so callers may pass any pipeline


def key_for(kind: str, ident: str) -> str:
    """Every Redis key of the service is made here."""
    return f"{PREFIX}:{kind}:{ident}"


# A token the importer sets anew after every batch it commits: web processes drop what they
# keep in memory of the programme's data (gateway/facts.py: ImportedFacts) when it changes.
DATA_GENERATION = key_for("data", "generation")
# How long a web process may keep such a copy at most (seconds), told or not: an import made while
# Redis was unreachable is seen within this.
FACTS_MAX_AGE = 600
