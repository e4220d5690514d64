"""How the commands start: wrong or unsafe settings end any of them with a clear message."""

from __future__ import annotations

from typing import Any

import click

from core.settings import Settings, SettingsError, check_production


class SettingsGroup(click.Group):
    """The `mijuntos` group: a `SettingsError` raised by any command beneath it (a variable
    `Settings.from_env` refuses, or production settings `check_production` refuses) becomes
    click's error, `Error: settings: NAME: ...` on stderr and exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc


def check_production_or_exit(settings: Settings, *, sends_sms: bool = False) -> None:
    """`check_production` for a command: its problems as a clear error and exit status 1."""
    try:
        check_production(settings, sends_sms=sends_sms)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
