"""End to end in headless Chromium against a real running server: a complete session in the
simulator, a login, and a chart with real numbers from this test's own data. Screenshots go to
test-artifacts/ (CI keeps them)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from werkzeug.serving import make_server

from mijuntos.cli import main
from models import Database

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
REQUIRED = os.environ.get("E2E_REQUIRED") == "1"


@pytest.fixture
def server(app: Flask, seeded: Database, db: Database) -> Iterator[str]:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the browser test runs once, on SQLite")
    if not (CHROMIUM and DRIVER):
        if REQUIRED:
            pytest.fail("chromium and chromedriver are required (E2E_REQUIRED=1)")
        pytest.skip("chromium or chromedriver not installed")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def browser(server: str, tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--window-size=1000,1200", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def shot(driver: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))  # type: ignore[attr-defined]


def test_simulator_session_login_and_dashboard_chart(browser, server: str, seeded: Database,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, 10)  # type: ignore[arg-type]
    screen = (By.ID, "screen")
    driver.get(f"{server}/simulator?phone=%2B51955555555")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "dial").click()  # type: ignore[attr-defined]
    wait.until(ec.text_to_be_present_in_element(screen, "Ingrese el DNI"))
    for value, expected in (("40123456", "fecha de nacimiento"), ("02011985", "Hola Juana"),
                            ("1", "controles de salud"), ("00", "Hola Juana"), ("0", "Gracias")):
        box = driver.find_element(By.ID, "answer")  # type: ignore[attr-defined]
        box.send_keys(value)
        driver.find_element(By.ID, "send").click()  # type: ignore[attr-defined]
        wait.until(ec.text_to_be_present_in_element(screen, expected))
        if value == "1":
            shot(driver, "simulator-reason")
    assert "sesion terminada" in driver.find_element(*screen).text  # type: ignore[attr-defined]
    # The same session from a real phone, through POST /ussd as the aggregator sends it: the
    # dashboard counts this one; the simulator's is training, recorded under its own channel.
    import requests

    for text in ("", "40123456", "40123456*02011985", "40123456*02011985*1"):
        hop = requests.post(f"{server}/ussd", data={"sessionId": "real1", "serviceCode": "*1880#",
                                                   "phoneNumber": "+51955555556", "text": text},
                            timeout=5)
        assert hop.status_code == 200 and hop.text.startswith("CON"), hop.text

    monkeypatch.setenv("DATABASE_URL", seeded.url)
    created = CliRunner().invoke(main, ["admin", "create-user", "gestora"],
                                 input="clave-de-prueba-1\nclave-de-prueba-1\n")
    assert created.exit_code == 0, created.output
    driver.get(f"{server}/admin/")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "username").send_keys("gestora")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "password").send_keys("clave-de-prueba-1")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "login").click()  # type: ignore[attr-defined]
    wait.until(ec.presence_of_element_located((By.ID, "by-ut")))
    shot(driver, "dashboard")
    totals = driver.find_element(By.ID, "totals").text  # type: ignore[attr-defined]
    assert "Consultas: 1" in totals and "USSD 1" in totals  # the real session's one lookup
    bars = driver.find_elements(By.CSS_SELECTOR, '#by-ut rect[data-series="USSD"]')  # type: ignore[attr-defined]
    assert [b.get_attribute("data-value") for b in bars] == ["1"]
    assert bars[0].size["width"] > 50  # drawn, not just present
    assert "PUNO" in driver.find_element(By.ID, "by-ut").text  # type: ignore[attr-defined]
