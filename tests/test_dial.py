"""`mijuntos dial` drives a server over real HTTP exactly as the aggregator does."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from flask import Flask
from mijuntos_dev.dial import screen_box
from werkzeug.serving import make_server

from mijuntos.cli import main
from models import Database
from tests.support import JUANA, STRANGER_PHONE


@pytest.fixture
def server_url(app: Flask, seeded: Database) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/ussd"
    server.shutdown()


def test_dial_walks_a_household_through_the_menu(server_url: str) -> None:
    sends = [JUANA["dni"], JUANA["dob"], "1", "00", "2", "98", "00", "3", "00", "4", "0", "5", "0",
             "0"]
    args = ["dial", "--phone", STRANGER_PHONE, "--url", server_url]
    for value in sends:
        args += ["--send", value]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = result.output
    for fragment in ("Ingrese el DNI", "Hola Juana", "controles de salud", "Periodos anteriores",
                     "NO cumple", "no tiene celular", "Aymar aru", "Gracias por usar",
                     "(session closed)"):
        assert fragment in out, fragment


def test_dial_reports_an_unreachable_server() -> None:
    result = CliRunner().invoke(main, ["dial", "--phone", STRANGER_PHONE,
                                       "--url", "http://127.0.0.1:1/ussd"])
    assert result.exit_code != 0 and "could not reach" in result.output


def test_screen_box_wraps_long_lines_inside_the_frame() -> None:
    box = screen_box("CON " + "palabra " * 12 + "\n1 Si")
    lines = box.splitlines()
    assert all(len(line) == 34 for line in lines[:-1])
    assert lines[-1] == "(reply, or Ctrl-D to hang up)"
