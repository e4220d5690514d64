"""Log lines without personal data: long digit runs (DNIs, phones, birth dates) are masked."""

from __future__ import annotations

import logging
import re

# 8 or more digits, possibly with a leading + and single spaces between them: a DNI, a phone,
# a DDMMAAAA date. Timestamps (2026-11-27 13:00:53) have at most 4 digits in a row and survive.
_DIGIT_RUN = re.compile(r"\+?\d(?: ?\d){7,}")


def scrub(text: str) -> str:
    """`text` with every long run of digits masked but for its last two digits."""
    return _DIGIT_RUN.sub(lambda m: "*" * 6 + re.sub(r"\D", "", m.group())[-2:], text)


class ScrubbingFormatter(logging.Formatter):
    """A formatter whose output, tracebacks and SQL parameters included, is scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def configure_logging(level: str) -> None:
    """Root logging to stderr through the scrubbing formatter (once per process)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, ScrubbingFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
