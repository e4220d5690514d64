"""The error every process reports when its settings are wrong (no imports: the command line
catches it without loading anything else)."""

from __future__ import annotations


class SettingsError(ValueError):
    """Settings that are wrong, every problem at once: `NAME: what is expected, got 'value'`."""

    def __init__(self, problems: list[str] | tuple[str, ...], heading: str = "settings") -> None:
        self.problems = tuple(problems)
        super().__init__(f"{heading}: " + "; ".join(self.problems))
