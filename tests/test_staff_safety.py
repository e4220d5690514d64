"""The pages' POSTs and the staff login: every POST of a page (staff forms, the simulator's hops)
carries its session's CSRF token, while the callbacks, which authenticate by their key, carry none;
a login lasts a working day from the moment it was made, and a logout ends it on the server, for
every copy of its cookie."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gateway.admin import SESSION_LIFETIME
from gateway.auth import CALLBACK_PREFIXES
from models import Database
from tests.admin_support import PASSWORD, create_user, csrf_of, log_in
from tests.gestor_support import add_gestores
from tests.support import ROSA_PHONE, simulator_token


@pytest.fixture
def staff(app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    return log_in(app, seeded, monkeypatch)


def logged_in(client: FlaskClient) -> bool:
    return client.get("/admin/").status_code == 200


def page_token(client: FlaskClient, path: str) -> str:
    return simulator_token(client) if path.startswith("/simulator") else csrf_of(client, path)


# Every POST route of a page: what it is sent, where its token comes from, and what shows it acted.
Post = tuple[dict[str, object], str, Callable[[FlaskClient, TestResponse], bool]]
POSTS: dict[str, Post] = {
    "/admin/login": ({"username": "ana", "password": PASSWORD}, "/admin/login",
                     lambda client, r: r.status_code == 302 and logged_in(client)),
    "/admin/logout": ({}, "/admin/",
                      lambda client, r: r.status_code == 302 and not logged_in(client)),
    "/admin/broadcast": ({"action": "preview", "ut": "PIURA", "text": "Mi Juntos: prueba."},
                         "/admin/broadcast",
                         lambda client, r: "Destinatarios" in r.get_data(as_text=True)),
    "/admin/gestores/suspension": ({"gestor_id": "G000001", "action": "suspend"}, "/admin/gestores",
                                   lambda client, r: r.status_code == 302
                                   and "hecho=suspendido" in r.headers["Location"]),
    "/simulator/hop": ({"sessionId": "sim-csrf", "phoneNumber": ROSA_PHONE, "text": ""}, "/simulator",
                       lambda client, r: r.status_code == 200 and r.get_data(as_text=True).startswith("CON")),
}


def test_every_post_route_of_a_page_is_checked_here(app: Flask) -> None:
    """A new staff or simulator POST must join POSTS, so the tests below cover it."""
    routes = {rule.rule for rule in app.url_map.iter_rules()
              if "POST" in (rule.methods or ()) and not rule.rule.startswith(CALLBACK_PREFIXES)}
    assert routes == set(POSTS)


@pytest.mark.parametrize("path", sorted(POSTS))
def test_a_page_post_needs_its_sessions_token(app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch,
                                              path: str) -> None:
    data, token_from, acted = POSTS[path]
    add_gestores(seeded)  # what the suspension form acts on
    client = log_in(app, seeded, monkeypatch) if path != "/admin/login" else app.test_client()
    if path == "/admin/login":
        create_user(seeded, monkeypatch)
    was_in = logged_in(client)
    field = "csrf" if token_from.startswith("/admin") else None
    other = app.test_client()  # another browser: its token is worth nothing with this cookie
    foreign = page_token(other, "/admin/login" if field else token_from)

    def post(token: str | None) -> TestResponse:
        if token is None:
            return client.post(path, data=data)
        if field:
            return client.post(path, data={**data, field: token})
        return client.post(path, data=data, headers={"X-CSRFToken": token})

    for token in (None, foreign, "forged"):
        refused = post(token)
        assert refused.status_code == 400, (token, refused.get_data(as_text=True))
        assert logged_in(client) == was_in  # nothing happened
    assert "vencio" in refused.get_data(as_text=True)  # says what to do: reload, try again
    assert acted(client, post(page_token(client, token_from)))


def test_the_simulator_page_hands_its_script_the_token(app: Flask, seeded: Database) -> None:
    page = app.test_client().get("/simulator").get_data(as_text=True)
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', page)
    script = app.test_client().get("/static/simulator.js").get_data(as_text=True)
    assert '"X-CSRFToken": token' in script


def test_callbacks_need_no_token_even_beside_a_staff_session(staff: FlaskClient) -> None:
    """The aggregator has no page: its key (gateway/auth.py) stands in for a token."""
    hop = staff.post("/ussd", data={"sessionId": "cb1", "serviceCode": "*1880#", "phoneNumber": ROSA_PHONE,
                                    "text": ""})
    assert hop.status_code == 200 and hop.get_data(as_text=True).startswith("CON")
    event = staff.post("/ussd/events", data={"sessionId": "cb1", "phoneNumber": ROSA_PHONE,
                                             "status": "Success", "date": "2026-12-02 10:00:00"})
    assert event.status_code == 200
    inbound = staff.post("/sms/inbound", data={"id": "cb2", "from": ROSA_PHONE, "text": "PAGO"})
    assert inbound.status_code == 200
    report = staff.post("/sms/delivery", data={"id": "ATXid_none", "status": "Success"})
    assert report.status_code == 200
    optout = staff.post("/sms/optout", data={"phoneNumber": ROSA_PHONE, "senderId": "MIJUNTOS"})
    assert optout.status_code == 200


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_copied_cookie_is_refused_after_the_logout(app: Flask, staff: FlaskClient) -> None:
    copy = app.test_client()
    copy.set_cookie("session", session_cookie(staff))
    assert logged_in(copy)  # the copy works while the session lasts
    token = csrf_of(copy, "/admin/broadcast")
    assert staff.post("/admin/logout", data={"csrf": csrf_of(staff, "/admin/")}).status_code == 302
    assert not logged_in(staff)
    refused = copy.get("/admin/")
    assert refused.status_code == 302 and "/admin/login" in refused.headers["Location"]
    posted = copy.post("/admin/broadcast", data={"csrf": token, "action": "preview", "ut": "PIURA",
                                                 "text": "Mi Juntos: prueba."})
    assert posted.status_code == 302 and "/admin/login" in posted.headers["Location"]


def test_a_login_lasts_a_working_day(app: Flask, seeded: Database, redis: redis_lib.Redis,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert SESSION_LIFETIME == dt.timedelta(hours=10)
    create_user(seeded, monkeypatch)
    client = app.test_client()
    done = client.post("/admin/login", data={"csrf": csrf_of(client, "/admin/login"), "username": "ana",
                                             "password": PASSWORD})
    assert done.status_code == 302
    expires = re.search(r"Expires=([^;]+)", done.headers["Set-Cookie"])
    assert expires  # a dated cookie, not Flask's 31 days
    until = dt.datetime.strptime(expires[1], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.UTC)
    left = until - dt.datetime.now(dt.UTC)
    assert abs(left - SESSION_LIFETIME) < dt.timedelta(minutes=1)
    [key] = redis.keys("mijuntos:staff-session:*")
    assert abs(redis.ttl(key) - SESSION_LIFETIME.total_seconds()) < 60  # the server forgets it too
    assert logged_in(client)
    with client.session_transaction() as cookie:  # the same session, logged in 10 hours ago
        cookie["at"] = int(time.time() - SESSION_LIFETIME.total_seconds()) - 1
    assert not logged_in(client)


def test_the_lifetime_counts_from_the_login_not_from_the_last_page(app: Flask, seeded: Database,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    app.permanent_session_lifetime = dt.timedelta(seconds=3)  # the login is kept to the second
    client = log_in(app, seeded, monkeypatch)
    time.sleep(1.0)
    assert logged_in(client)  # busy: the page renews the cookie...
    time.sleep(2.3)
    assert not logged_in(client)  # ...and still out once the lifetime has passed since the login
