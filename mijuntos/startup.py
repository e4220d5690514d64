"""What every long-running command checks before it starts."""

from __future__ import annotations

import click

from core.settings import ConfigError, Settings, check_production


def check_production_or_exit(settings: Settings, *, sends_sms: bool = False) -> None:
    """`check_production` for a command: its problems as a clear error and exit status 1."""
    try:
        check_production(settings, sends_sms=sends_sms)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
