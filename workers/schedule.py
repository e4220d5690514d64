"""The reminder clock from the settings."""

from __future__ import annotations

from core.settings import Settings
from dialogs.reminders import Clock


def clock_for(settings: Settings) -> Clock:
    """The Lima clock (by default) with the configured send window and send hour."""
    return Clock.from_strings(settings.timezone, settings.send_window, settings.send_start)
