"""`mijuntos --help` lists every command without importing any (issue 12: it took ~1.2 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from mijuntos.cli import COMMANDS, _load, main

ROOT = Path(__file__).resolve().parent.parent


def test_each_listed_help_is_the_commands_own() -> None:
    for name, (target, listed) in COMMANDS.items():
        command = _load(target)
        assert command.name == name
        assert listed == command.get_short_help_str(limit=1000), name


def test_help_lists_the_product_and_the_installed_development_tools() -> None:
    out = CliRunner().invoke(main, ["--help"])
    assert out.exit_code == 0
    rows = out.output.split("Commands:")[1].splitlines()
    listed = {row.split()[0] for row in rows if row.startswith("  ") and not row.startswith("   ")}
    assert set(COMMANDS) <= listed
    assert {"up", "fake-at", "demo-data", "dial", "sms"} <= listed  # devtools/ is installed here


def test_a_command_runs_and_an_unknown_one_is_refused() -> None:
    assert "catalogs" in CliRunner().invoke(main, ["catalogs", "--help"]).output
    out = CliRunner().invoke(main, ["nope"])
    assert out.exit_code == 2 and "No such command 'nope'" in out.output
    assert isinstance(main.get_command(click.Context(main), "up"), click.Command)


def test_help_imports_no_command_module() -> None:
    code = ("import sys\nfrom mijuntos.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "ours = ('core', 'gateway', 'models', 'workers', 'dialogs', 'mijuntos', 'mijuntos_dev')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ours), 'flask' in sys.modules,"
            " 'sqlalchemy' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stderr.strip() == "['core', 'core.errors', 'mijuntos', 'mijuntos.cli'] False False"
