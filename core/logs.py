"""Log lines without personal data: long digit runs (DNIs, phones, birth dates) are masked."""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar

# The id of the request being served (set by gateway/ops.py and the USSD endpoint), or "-".
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")

# 8 or more digits, possibly with a leading + and single spaces between them: a DNI, a phone,
# a DDMMAAAA date. Timestamps (2026-11-27 13:00:53) have at most 4 digits in a row and survive.
# A long run of digits (a DNI, a phone, a date of birth) is masked. A hexadecimal token of 32 or 16
# characters with letters in it (a provider message id, a worker name, a request id) is kept whole, so an
# operator can still find it; no DNI, phone or date of birth has letters in it.
_DIGIT_RUN = re.compile(
    r"(?P<hex>(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])(?:[0-9a-f]{32}|[0-9a-f]{16})(?![0-9A-Za-z]))"
    r"|\+?\d(?: ?\d){7,}"
)


def _mask(match: re.Match[str]) -> str:
    if match.group("hex"):
        return match.group()
    return "*" * 6 + re.sub(r"\D", "", match.group())[-2:]


def scrub(text: str) -> str:
    """`text` with every long run of digits masked but for its last two digits."""
    return _DIGIT_RUN.sub(_mask, text)


class ScrubbingFormatter(logging.Formatter):
    """A formatter whose output, tracebacks and SQL parameters included, is scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(ScrubbingFormatter):
    """One JSON object per line (time, level, logger, request id, message), scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", ""),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, ensure_ascii=False))


class RequestIdFilter(logging.Filter):
    """Adds the current request's id (or "-") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure_logging(level: str, fmt: str = "text") -> None:
    """Root logging to stderr through a scrubbing formatter (once per process)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, ScrubbingFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonFormatter() if fmt == "json"
        else ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
