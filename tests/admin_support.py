"""A logged-in staff member for the /admin tests."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from mijuntos.cli import main
from models import Database

PASSWORD = "una-clave-larga"


def create_user(db: Database, monkeypatch: pytest.MonkeyPatch, name: str = "ana") -> None:
    monkeypatch.setenv("DATABASE_URL", db.url)
    result = CliRunner().invoke(main, ["admin", "create-user", name], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output


def csrf_of(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found[1]


def log_in(app: Flask, db: Database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    create_user(db, monkeypatch)
    client = app.test_client()
    csrf = csrf_of(client, "/admin/login")
    bad = client.post("/admin/login", data={"csrf": csrf, "username": "ana", "password": "nope"})
    assert "Usuario o clave incorrectos" in bad.get_data(as_text=True)
    ok = client.post("/admin/login", data={"csrf": csrf, "username": "ana", "password": PASSWORD})
    assert ok.status_code == 302
    return client
