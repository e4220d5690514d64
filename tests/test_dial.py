"""`mijuntos dial` drives a server over real HTTP exactly as the aggregator does."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from mijuntos_dev.dial import screen_box
from werkzeug.serving import make_server

from mijuntos.cli import main
from models import Database
from tests.support import JUANA, STRANGER_PHONE, Phone


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


def _dial(server_url: str, *sends: str, drop: bool = False) -> str:
    args = ["dial", "--phone", STRANGER_PHONE, "--url", server_url]
    for value in sends:
        args += ["--send", value]
    result = CliRunner().invoke(main, args + (["--drop"] if drop else []))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_scripted_dial_hangs_up_so_it_can_be_repeated(server_url: str) -> None:
    # It stops on an open screen (CON): without its hang-up the second run would land on
    # "Tiene una consulta sin terminar" and its DNI would go astray.
    first = _dial(server_url, JUANA["dni"], JUANA["dob"], "1")
    second = _dial(server_url, JUANA["dni"], JUANA["dob"], "1")
    assert first == second
    assert "consulta sin terminar" not in second and "controles de salud" in second, second
    assert f"> {JUANA['dni']}" in first and "(hung up: session ended)" in first


def test_a_dropped_call_is_still_offered_to_resume(server_url: str) -> None:
    _dial(server_url, JUANA["dni"], JUANA["dob"], "1", drop=True)
    again = _dial(server_url, "1", JUANA["dob"])  # 1 Continuar, then her date of birth again
    screens = again.split("> ")
    assert "Tiene una consulta sin" in screens[0], again
    assert "controles de salud" in screens[-1], again


def _event(client: FlaskClient, session_id: str, status: str) -> None:
    response = client.post("/ussd/events", data={
        "sessionId": session_id, "phoneNumber": STRANGER_PHONE, "status": status,
        "serviceCode": "*1880#", "networkCode": "71610", "hopsCount": "3"})
    assert response.status_code == 200


def test_only_a_session_ended_on_purpose_loses_its_resume_offer(
    app: Flask, seeded: Database
) -> None:
    client = app.test_client()

    def midway() -> Phone:
        phone = Phone(client, STRANGER_PHONE)
        if "consulta sin terminar" in phone.dial():
            phone.send("2")  # Empezar de nuevo
        phone.send(JUANA["dni"])
        assert "Hola Juana" in phone.send(JUANA["dob"])
        assert "controles de salud" in phone.send("1")
        return phone

    for status in ("Incomplete", "Failed"):  # a call dropped, timed out or failed
        _event(client, midway().session_id, status)
        assert "consulta sin terminar" in Phone(client, STRANGER_PHONE).dial(), status
    older = midway()
    newer = midway()  # the same phone dialed again (and left it open) before the first's event
    _event(client, older.session_id, "Success")
    assert "consulta sin terminar" in Phone(client, STRANGER_PHONE).dial()  # the newer one's
    newest = midway()
    _event(client, newest.session_id, "Success")
    assert "Ingrese el DNI" in Phone(client, STRANGER_PHONE).dial()
    assert newer.session_id != newest.session_id
