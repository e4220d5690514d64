"""How the long-running commands start: unsafe production settings end them with a clear message."""

from __future__ import annotations

import click

from core.settings import Settings, SettingsError, check_production, warn_dev_secret


def check_production_or_exit(settings: Settings, *, sends_sms: bool = False) -> None:
    """`check_production` for a command: its problems as a clear error and exit status 1.

    In development, the warning that the development key is in use, once for this process and
    what it starts (an rq worker's work horses, `mijuntos up`'s children).
    """
    try:
        check_production(settings, sends_sms=sends_sms)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    warn_dev_secret(settings)
