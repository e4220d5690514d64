"""The voice line through POST /voice: the same dialog as USSD, spoken, with the keypad.

A small driver here plays Africa's Talking's side from the XML the service answers: it says
what `<Say>` says, follows `<GetDigits>` with the digits a test types (None: no key before the
timeout, then AT goes on to the `<Redirect>`), and ends the call when nothing is left.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient

from core.catalogs import load_catalog
from core.settings import Settings
from gateway.app import create_app
from models import Database, Household
from tests.support import JUANA, ROSA, ROSA_PHONE, STRANGER_PHONE

SESSION = iter(range(10**6))


@dataclass
class Call:
    client: FlaskClient
    phone: str
    session: str = field(default_factory=lambda: f"ATVId_{next(SESSION)}")
    said: list[str] = field(default_factory=list)
    next_url: str | None = None  # the GetDigits callback, while the call waits for keys
    timeout_url: str | None = None
    statuses: list[int] = field(default_factory=list)
    done: bool = False

    def post(self, url: str, **extra: str) -> None:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.post(path, data={
            "isActive": "1", "sessionId": self.session, "direction": "Inbound",
            "callerNumber": self.phone, "destinationNumber": "+511880", **extra})
        self.statuses.append(response.status_code)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/xml"
        root = ET.fromstring(response.get_data())
        assert root.tag == "Response"
        self.said, self.next_url, self.timeout_url = [], None, None
        for action in root:
            if action.tag == "GetDigits":
                self.said += [e.text or "" for e in action if e.tag == "Say"]
                self.next_url = action.get("callbackUrl")
            elif action.tag == "Say":
                self.said.append(action.text or "")
            elif action.tag == "Redirect":
                self.timeout_url = action.text
            else:
                raise AssertionError(f"unexpected action {action.tag}")
        if self.next_url is None:
            self.done = True

    def start(self) -> str:
        self.post("/voice")
        return self.heard

    def press(self, digits: str | None) -> str:
        assert self.next_url is not None, "the call is not waiting for keys"
        if digits is None:
            assert self.timeout_url is not None
            self.post(self.timeout_url)
        else:
            self.post(self.next_url, dtmfDigits=digits)
        return self.heard

    @property
    def heard(self) -> str:
        return " ".join(self.said)

    def hang_up(self) -> int:
        response = self.client.post("/voice", data={
            "isActive": "0", "sessionId": self.session, "direction": "Inbound",
            "callerNumber": self.phone, "durationInSeconds": "42", "currencyCode": "PEN",
            "amount": "0.0"})
        return response.status_code


def test_the_phone_of_record_hears_her_menu_and_her_next_payment(app: Flask, seeded: Database) -> None:
    call = Call(app.test_client(), ROSA_PHONE)
    menu = call.start()
    assert menu.startswith("Hola") and "Rosa" in menu
    assert "Para Proximo pago marque uno" in menu and "Para Salir marque cero" in menu
    pay = call.press("1")
    assert "Pago bimestre" in pay and "Lleve su DNI" in pay
    assert "Para volver, marque cero" in pay
    assert "Para Estado del pago" in call.press("0")
    assert "Gracias por usar Mi Juntos" in call.press("0") and call.done
    assert call.hang_up() == 200


def test_a_stranger_verifies_with_dni_and_date_of_birth_on_the_keypad(app: Flask, seeded: Database) -> None:
    call = Call(app.test_client(), STRANGER_PHONE)
    assert "Marque el DNI de la titular" in call.start()
    assert "fecha de nacimiento" in call.press(f"{ROSA['dni']}#")
    menu = call.press(f"{ROSA['dob']}#")
    assert "Rosa" in menu and "Para Proximo pago" in menu
    # Nothing said before verification names an amount, a DNI or a date of birth.
    assert ROSA["dni"] not in menu


def test_wrong_dates_lock_the_dni_for_voice_as_for_ussd(app: Flask, seeded: Database) -> None:
    call = Call(app.test_client(), STRANGER_PHONE)
    call.start()
    call.press(f"{JUANA['dni']}#")
    heard = ""
    for _ in range(5):
        heard = call.press("01011999#")
        if call.done:
            break
    assert call.done and "bloqueado" in heard
    # The same DNI on USSD is locked too: one counter for every channel.
    ussd = app.test_client().post("/ussd", data={
        "sessionId": "after-voice", "serviceCode": "*1880#", "phoneNumber": "+51944444444",
        "text": f"{JUANA['dni']}"}).get_data(as_text=True)
    assert "bloqueado" in ussd


def test_no_key_twice_ends_the_call_politely(app: Flask, seeded: Database) -> None:
    call = Call(app.test_client(), ROSA_PHONE)
    menu = call.start()
    again = call.press(None)
    assert again.startswith("No escuchamos ninguna tecla") and "Para Proximo pago" in again
    assert menu.split("Hola")[1] in again  # the same screen again
    assert "Gracias por llamar" in call.press(None) and call.done


def test_the_final_notification_ends_the_call(app: Flask, seeded: Database) -> None:
    call = Call(app.test_client(), ROSA_PHONE)
    call.start()
    assert call.hang_up() == 200


def test_a_malformed_callback_gets_a_4xx_with_a_reason(app: Flask, seeded: Database) -> None:
    client = app.test_client()
    bad = client.post("/voice", data={"isActive": "1", "sessionId": "x", "callerNumber": "nope"})
    assert bad.status_code == 400 and "callerNumber" in bad.get_data(as_text=True)
    bad = client.post("/voice", data={"isActive": "1", "callerNumber": ROSA_PHONE})
    assert bad.status_code == 400 and "sessionId" in bad.get_data(as_text=True)


def test_the_stand_in_provider_calls_through_voice(app: Flask, seeded: Database) -> None:
    """The development stand-in (what `mijuntos call` uses) against the real endpoint."""
    from mijuntos_dev.fake_voice import Outcome, inbound_call

    call = inbound_call("http://localhost/voice", STRANGER_PHONE,
                        [ROSA["dni"], ROSA["dob"], "1", "0", "0"], client=app.test_client())
    heard = " ".join(call.said)
    assert "Marque el DNI" in heard and "Lleve su DNI" in heard and "Gracias por usar" in heard
    assert call.outcome == Outcome.COMPLETED, call.outcome
    assert call.final is not None and all(p.status == 200 for p in call.posts)


def test_every_menu_option_answers_by_voice(app: Flask, seeded: Database) -> None:
    from mijuntos_dev.fake_voice import Outcome, inbound_call

    for option, expected in (("1", "Lleve su DNI"), ("2", "Pago bimestre"),
                             ("3", "Corresponsabilidades"), ("4", "Avisos por SMS"),
                             ("5", "Idioma")):
        # The option, then * (the main menu, "00") and 0 (goodbye): a whole call each time.
        call = inbound_call("http://localhost/voice", ROSA_PHONE, [option, "*", "0"],
                            client=app.test_client())
        heard = " ".join(call.said)
        assert expected in heard and "Gracias por usar" in heard, (option, heard)
        assert call.outcome == Outcome.COMPLETED


@pytest.mark.parametrize("lang, hello", [("es", "Hola"), ("qu", "Allinllachu"), ("ay", "Kamisaki")])
def test_each_language_is_spoken(settings: Settings, seeded: Database, redis: redis_lib.Redis,
                                 lang: str, hello: str) -> None:
    with seeded.session() as s:
        s.get(Household, ROSA["hogar_id"]).idioma = lang  # type: ignore[union-attr]
    drafts = load_catalog(drafts=True)
    press = drafts.text(lang, "voice_option", label="|", digit="|").split("|")[-1].strip(" .")
    for shown, expected in (("drafts", hello), ("reviewed", "Hola")):
        app = create_app(settings.with_(translations=shown))
        try:
            menu = Call(app.test_client(), ROSA_PHONE).start()
        finally:
            app.extensions["mijuntos"].close()
        assert menu.startswith(expected), (shown, menu)
        if shown == "drafts":  # the menu said in her language: "..., marque uno" in Quechua
            assert press in menu, (press, menu)


def test_the_callback_urls_keep_the_key_encoded(settings: Settings, seeded: Database,
                                                redis: redis_lib.Redis) -> None:
    """A callback key with characters a URL must escape comes back intact in GetDigits' and
    Redirect's URLs (the provider posts to exactly those)."""
    app = create_app(settings.with_(callback_secret="a&b=c d"))
    try:
        call = Call(app.test_client(), ROSA_PHONE)
        call.post("/voice?key=a%26b%3Dc+d")
        assert call.next_url is not None and call.next_url.endswith("/voice?key=a%26b%3Dc+d")
        assert call.timeout_url is not None and call.timeout_url.endswith("key=a%26b%3Dc+d&timeout=1")
        assert "Lleve su DNI" in call.press("1")  # the key reached the service through them
    finally:
        app.extensions["mijuntos"].close()
