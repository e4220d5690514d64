"""Every phone and identity the README quotes works on a fresh demo, whatever day it is run."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis as redis_lib
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from mijuntos_dev.demo_data import write_demo_data
from werkzeug.serving import make_server

from core.catalogs import load_catalog
from core.settings import Settings
from dialogs.gsm import gsm_safe
from mijuntos.cli import main
from mijuntos.importer import import_dir
from models import Database
from tests.support import TEST_TODAY, Phone, sms_reply

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
DEMO_HOUSEHOLDS = 2000  # what `mijuntos up` (./scripts/demo) writes on first run
OF_RECORD = re.findall(r"mijuntos dial --phone (\+51\d{9}) +# a phone of record", README)
OTHER = re.findall(r"mijuntos dial --phone (\+51\d{9}) +# any other phone", README)
SMS_IDENTITY = re.findall(r'mijuntos sms --from (\+51\d{9}) "(\d{8}) (\d{8})"', README)
TYPED = re.findall(r"^> (\S+)$", README, flags=re.M)  # what the README's transcript types
SCRIPTED = re.findall(r"mijuntos dial --phone (\+51\d{9})((?: --send \S+)+)\n", README)
VOICE_CALL = re.findall(r"mijuntos call --phone (\+51\d{9})((?: --send \S+)+) +# a voice call", README)
GESTOR_DIAL = re.findall(r"mijuntos dial --phone (\+51\d{9})((?: --send \S+)+) +# a gestor's phone", README)
# The transcript: the code block whose lines are screens and "> " inputs.
TRANSCRIPT = next((b for b in re.findall(r"^```\n(.*?)^```$", README, flags=re.M | re.S)
                   if "\n> " in b), "")


# The demo's texts: `mijuntos up` shows the Quechua and Aymara drafts (TRANSLATIONS=drafts).
DRAFTS = load_catalog(drafts=True)
PARAMS = {"code": "*1880#", "helpline": "1880"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The demo's settings: the drafts shown, as `mijuntos up` shows them."""
    return settings.with_(translations="drafts")


@pytest.fixture
def client(app: Flask, db: Database, tmp_path: Path) -> FlaskClient:
    write_demo_data(tmp_path / "demo", DEMO_HOUSEHOLDS, today=TEST_TODAY)
    report = import_dir(db, tmp_path / "demo")
    assert not report.errors, report.errors[:3]
    return app.test_client()


def test_the_readme_quotes_phones_and_an_identity() -> None:
    assert OF_RECORD and OTHER and SMS_IDENTITY and len(TYPED) >= 3, "README examples moved?"
    assert SCRIPTED and TRANSCRIPT, "README's scripted dial or transcript moved?"
    assert GESTOR_DIAL, "README's gestor session moved?"
    assert VOICE_CALL, "README's voice call moved?"


def test_the_demo_identities_do_not_depend_on_the_day(tmp_path: Path) -> None:
    # The README is read on other days than it was written: its DNI and date must still match.
    write_demo_data(tmp_path / "a", 50, today=dt.date(2026, 12, 2))
    write_demo_data(tmp_path / "b", 50, today=dt.date(2027, 3, 15))
    padron = [(tmp_path / d / "padron.csv").read_text(encoding="utf-8") for d in ("a", "b")]
    assert padron[0] == padron[1]


def test_the_readme_phone_of_record_is_recognised(
    client: FlaskClient, redis: redis_lib.Redis
) -> None:
    for number in OF_RECORD:
        screen = Phone(client, number, redis=redis).dial()
        assert screen.startswith("CON Hola ") and "1 Proximo pago" in screen, (number, screen)


def test_the_readme_transcript_verifies_and_answers(
    client: FlaskClient, redis: redis_lib.Redis
) -> None:
    phone = Phone(client, OTHER[0], redis=redis)
    assert "Ingrese el DNI" in phone.dial()
    dni, dob, choice = TYPED[:3]
    assert "fecha de nacimiento" in phone.send(dni)
    menu = phone.send(dob)
    # Lucia's household reads Aymara: its drafts, in the demo.
    assert menu == "CON " + gsm_safe(DRAFTS.text("ay", "main_menu", name="Lucia")), menu
    answer = phone.send(choice)
    reason = DRAFTS.text("ay", "reason_INC_SALUD")
    assert "2026-6" in answer and reason.split()[0] in answer, answer


def test_the_readme_sms_identity_verifies(client: FlaskClient, db: Database) -> None:
    for number, dni, dob in SMS_IDENTITY:
        reply = sms_reply(client, db, number, f"{dni} {dob}")
        category = DRAFTS.text("ay", "category_corresponsabilidades")
        assert reply == gsm_safe(DRAFTS.text("ay", "sms_no_pay", periodo="2026-6",
                                             category=category, **PARAMS)), reply


@contextmanager
def dialing(app: Flask) -> Iterator[Callable[[str, str], str]]:
    """The app served on a port, and `dial(phone, sends)`: `mijuntos dial` run against it twice,
    as a newcomer would, with the same output both times; the output."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def dial(phone: str, sends: str) -> str:
        args = ["dial", "--phone", phone, "--url", f"http://127.0.0.1:{server.server_port}/ussd",
                *sends.split()]
        outputs = []
        for _ in range(2):
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
        assert outputs[0] == outputs[1], outputs
        return outputs[0]

    try:
        yield dial
    finally:
        server.shutdown()


def test_the_readme_scripted_dial_gives_its_transcript_every_time(
    client: FlaskClient, app: Flask
) -> None:
    # Run twice: the first run must not leave the second one a "continue where you left off"
    # offer that swallows its inputs.
    with dialing(app) as dial:
        for phone, sends in SCRIPTED:
            out = dial(phone, sends)
            assert out == TRANSCRIPT + "(hung up: session ended)\n", out


def test_the_readme_gestor_session_consults_for_the_titular(client: FlaskClient, app: Flask) -> None:
    menu = gsm_safe(DRAFTS.text("ay", "main_menu_assist", name="Lucia"))
    with dialing(app) as dial:
        for phone, sends in GESTOR_DIAL:
            out = dial(phone, sends)  # the same every time: no resume offer on a gestor's phone
            for shown in ("Modo gestor", "1 Consultar para una usuaria", "Consulta asistida",
                          "fecha de nacimiento", *menu.splitlines(), "2026-6"):
                assert shown in out, (shown, out)


def test_the_readme_voice_call_verifies_and_answers_in_aymara(client: FlaskClient, app: Flask) -> None:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for phone, sends in VOICE_CALL:
            result = CliRunner().invoke(main, ["call", "--phone", phone, "--url",
                                               f"http://127.0.0.1:{server.server_port}/voice",
                                               *sends.split()])
            assert result.exit_code == 0, result.output
            out = " ".join(result.output.split())
            said = " ".join(line for line in result.output.splitlines()
                            if not line.lstrip().startswith(">"))  # not what she typed
            # The DNI asked for on the keypad, then Lucia's menu in Aymara (the demo's drafts).
            assert "Marque el DNI de la titular" in out and "Kamisaki Lucia" in out, out
            reason = DRAFTS.text("ay", "reason_INC_SALUD").rstrip(".")
            assert "bimestre suxta" in out and reason in out, out  # 2026-6, said as words
            assert "27000020" not in said and "25061977" not in said  # nothing said back
    finally:
        server.shutdown()
