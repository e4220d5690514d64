"""The `mijuntos` command: the programme's operations, on top of every other part.

Each command's module is imported when the command runs, not to print `mijuntos --help`: the
listing needs only the names and one-line helps kept here (a test holds them to each command's
own). Development tools (the stand-in provider, demo data, a phone at the terminal,
`mijuntos up`) join from the separate `mijuntos-dev` distribution (devtools/) through the
`mijuntos.commands` entry points; a production install has none of them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click

from core.errors import SettingsError

COMMAND_GROUP = "mijuntos.commands"
DEV_HELP = "A development tool (mijuntos-dev): `mijuntos %s --help` tells more."
# name -> (module:attribute, the command's one-line help as `--help` lists it)
COMMANDS: dict[str, tuple[str, str]] = {
    "admin": ("mijuntos.admin_cli:admin", "Dashboard accounts."),
    "catalogs": ("mijuntos.catalogs_cli:catalogs_command",
                 "How complete each language's texts are: reviewed, draft, missing (then the detail)."),
    "db": ("mijuntos.db_cli:db", "Database schema."),
    "gestores": ("mijuntos.gestores_cli:gestores", "Gestores: their assisted lookups and the anomaly flags."),
    "import": ("mijuntos.data_commands:import_command", "Import the programme's CSV files from DIRECTORY."),
    "phone-changes": ("mijuntos.phone_changes_cli:phone_changes_command",
                      "Every move of a phone of record: household, when (Lima), channel, masked "
                      "phones, undone."),
    "prompts": ("mijuntos.prompts_cli:prompts_command",
                "The voice line's audio prompts: status (synthetic, recorded, missing, stale) and generate."),
    "reminders": ("mijuntos.reminders_cli:reminders", "Payment reminders and no-payment notices."),
    "report": ("mijuntos.report_cli:report_command",
               "Lookups by channel and UT, verifications, households reached, reminders by UT."),
    "scheduler": ("mijuntos.scheduler:scheduler_command",
                  "Run rq's cron scheduler for reminders (the Procfile's `scheduler` process)."),
    "worker": ("mijuntos.worker:worker_command",
               "Run a worker for the SMS queue; REDIS_URL, DATABASE_URL and AT_* from the environment."),
}


def _load(target: str) -> click.Command:
    module, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command), target
    return command


class Commands(click.Group):
    """A group whose commands are imported only when one of them runs (or shows its help).

    A `SettingsError` raised by any command beneath it (a variable `Settings.from_env` refuses,
    or production settings `check_production` refuses) becomes click's error, `Error: settings:
    NAME: ...` on stderr and exit status 1, not a traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc

    def _dev_tools(self) -> dict[str, EntryPoint]:
        return {point.name: point for point in entry_points(group=COMMAND_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self._dev_tools()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            return _load(COMMANDS[cmd_name][0])
        point = self._dev_tools().get(cmd_name)
        return point.load() if point is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        dev = self._dev_tools()
        rows = [(name, COMMANDS[name][1] if name in COMMANDS else DEV_HELP % name)
                for name in self.list_commands(ctx) if name in COMMANDS or name in dev]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=Commands)
def main() -> None:
    """Mi Juntos by USSD and SMS."""


if __name__ == "__main__":
    main()
