"""End to end in headless Chromium against a real running server: a complete session in the
simulator, a login, and a chart with real numbers from this test's own data. Screenshots go to
test-artifacts/ (CI keeps them)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from click.testing import CliRunner
from flask import Flask
from werkzeug.serving import make_server

from core.settings import Settings
from mijuntos.cli import main
from models import Database
from models.base import utcnow
from models.clock import lima_date

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
    from selenium.webdriver.support.ui import Select

    driver.get(f"{server}/simulator?phone=%2B51955555555")  # type: ignore[attr-defined]
    # Juana's household reads Quechua, whose drafts the simulator shows: a reviewer picks the
    # language to read; Spanish here (the "show keys" switch lists the keys of each screen).
    Select(driver.find_element(By.ID, "lang")).select_by_value("es")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "keys").click()  # type: ignore[attr-defined]
    driver.find_element(By.ID, "dial").click()  # type: ignore[attr-defined]
    wait.until(ec.text_to_be_present_in_element((By.ID, "shown-keys"), "screen_dni"))
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
    # The app's "today" is pinned (TEST_TODAY); the session above was recorded on the clock's.
    today = lima_date(utcnow())
    driver.get(f"{server}/admin/?from={today}&to={today}")  # type: ignore[attr-defined]
    wait.until(ec.presence_of_element_located((By.ID, "by-ut")))
    shot(driver, "dashboard")
    totals = driver.find_element(By.ID, "totals").text  # type: ignore[attr-defined]
    assert "Consultas: 1" in totals and "USSD 1" in totals  # the real session's one lookup
    bars = driver.find_elements(By.CSS_SELECTOR, '#by-ut rect[data-series="USSD"]')  # type: ignore[attr-defined]
    assert [b.get_attribute("data-value") for b in bars] == ["1"]
    assert bars[0].size["width"] > 50  # drawn, not just present
    assert "PUNO" in driver.find_element(By.ID, "by-ut").text  # type: ignore[attr-defined]


# The staff pages at a phone's width and a desk's. Each check failed before its fix: the charts
# were drawn in a 640-unit viewBox shrunk to the screen (6 px text at 390 px), a broadcast form's
# checkbox could end a line with its UT's name on the next, the status page of a confirmed
# broadcast stopped following its job once a try failed, and /favicon.ico was a 404.
WIDTHS = [390, 1280]
MORE_UTS = ("AMAZONAS", "ANCASH", "APURIMAC", "AREQUIPA", "AYACUCHO", "CAJAMARCA", "CUSCO",
            "HUANCAVELICA", "HUANUCO", "JUNIN", "LA LIBERTAD", "LAMBAYEQUE", "LORETO", "MADRE DE DIOS")


def at_width(driver: object, width: int) -> None:
    """Chromium's own emulation of a screen `width` CSS pixels wide (a phone below 600)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # type: ignore[attr-defined]
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})


def log_in_staff(driver: object, server: str, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.webdriver.common.by import By

    monkeypatch.setenv("DATABASE_URL", seeded.url)
    created = CliRunner().invoke(main, ["admin", "create-user", "gestora"],
                                 input="clave-de-prueba-1\nclave-de-prueba-1\n")
    assert created.exit_code == 0, created.output
    driver.get(f"{server}/admin/login")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "username").send_keys("gestora")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "password").send_keys("clave-de-prueba-1")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "login").click()  # type: ignore[attr-defined]
    driver.find_element(By.ID, "totals")  # type: ignore[attr-defined]  # on the dashboard


# Every text of every chart: its size as drawn (the computed size times the SVG's scale), whether
# it lies inside its chart, and whether it covers a bar.
CHART_TEXTS = """
return Array.from(document.querySelectorAll("svg.chart")).flatMap(function (svg) {
  var box = svg.getBoundingClientRect();
  var bars = Array.from(svg.querySelectorAll("rect")).map(function (r) { return r.getBoundingClientRect(); });
  return Array.from(svg.querySelectorAll("text")).map(function (t) {
    var r = t.getBoundingClientRect();
    return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
            inside: r.left >= box.left - 0.5 && r.right <= box.right + 0.5,
            covers: bars.some(function (b) {
              return r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom; })};
  });
});
"""
# Each checkbox and its label's text: on one line when their boxes overlap vertically.
CHECKBOXES = """
return Array.from(document.querySelectorAll("label input[type=checkbox]")).map(function (box) {
  var label = box.closest("label"), range = document.createRange();
  range.setStartAfter(box);  // the label's text, after its box
  range.setEndAfter(label.lastChild);
  var b = box.getBoundingClientRect(), rects = Array.from(range.getClientRects()).filter(function (r) {
    return r.width > 0; });
  var t = rects[0];
  return {name: label.textContent.trim(),
          sameLine: rects.length === 1 && t.top < b.bottom && b.top < t.bottom};
});
"""


@pytest.mark.parametrize("width", WIDTHS)
def test_the_staff_pages_fit_a_phone_and_a_desk(browser, server: str, seeded: Database,
                                                monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    import requests
    from selenium.webdriver.common.by import By

    from tests.support import household

    with seeded.session() as s:  # enough UTs for the broadcast form's checkboxes to wrap
        s.add_all([household(f"H7{n:07d}", f"6{n:07d}", "ANA", "PRUEBA", dt.date(1990, 1, 1),
                             unidad_territorial=ut) for n, ut in enumerate(MORE_UTS)])
    for text in ("", "40123456", "40123456*02011985", "40123456*02011985*1"):  # a lookup to draw
        requests.post(f"{server}/ussd", data={"sessionId": "w1", "serviceCode": "*1880#",
                                              "phoneNumber": "+51955555556", "text": text}, timeout=5)
    driver = browser
    at_width(driver, width)
    log_in_staff(driver, server, seeded, monkeypatch)
    driver.get(f"{server}/admin/")  # type: ignore[attr-defined]
    assert driver.execute_script("return window.innerWidth") == width  # type: ignore[attr-defined]
    shot(driver, f"dashboard-{width}")
    texts = driver.execute_script(CHART_TEXTS)  # type: ignore[attr-defined]
    assert len(texts) > 20  # five charts, their labels and numbers
    small = [(t["text"], round(t["px"], 1)) for t in texts if t["px"] < 11]
    assert not small, f"chart text under 11 px at {width} px: {small}"
    assert [t["text"] for t in texts if not t["inside"]] == []  # none cut off at the edge
    assert [t["text"] for t in texts if t["covers"]] == []  # none drawn over a bar
    captions = driver.find_elements(By.CSS_SELECTOR, "figure.chart-box figcaption")  # type: ignore[attr-defined]
    sizes = [float(c.value_of_css_property("font-size").removesuffix("px")) for c in captions]
    assert len(sizes) == 5 and min(sizes) >= 11
    assert driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth") <= width  # no sideways scrolling

    driver.get(f"{server}/admin/broadcast")  # type: ignore[attr-defined]
    shot(driver, f"broadcast-form-{width}")
    boxes = driver.execute_script(CHECKBOXES)  # type: ignore[attr-defined]
    assert len(boxes) == len(MORE_UTS) + 2  # with PIURA and PUNO
    assert [b["name"] for b in boxes if not b["sameLine"]] == []
    assert driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollWidth") <= width

    icon = requests.get(f"{server}/favicon.ico", timeout=5)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/")
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an icon file, not a page
    link = driver.find_element(By.CSS_SELECTOR, 'link[rel="icon"]')  # type: ignore[attr-defined]
    assert link.get_attribute("href") == f"{server}/favicon.ico"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_confirmed_broadcasts_page_follows_its_job_without_a_reload(
        browser, server: str, seeded: Database, settings: Settings, redis_url: str, redis: redis_lib.Redis,
        monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.admin_support import run_jobs
    from workers import broadcast
    from workers.context import configure

    driver = browser
    wait = WebDriverWait(driver, 15)  # type: ignore[arg-type]
    at_width(driver, width)
    log_in_staff(driver, server, seeded, monkeypatch)
    driver.get(f"{server}/admin/broadcast")  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, 'input[name="ut"][value="PIURA"]').click()  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "text").send_keys(  # type: ignore[attr-defined]
        "Mi Juntos: el punto de pago P002 cierra por huaico.")
    driver.find_element(By.ID, "preview-button").click()  # type: ignore[attr-defined]
    driver.find_element(By.ID, "confirm").click()  # type: ignore[attr-defined]
    state = (By.ID, "state")
    wait.until(ec.text_to_be_present_in_element(state, "En cola"))
    driver.execute_script("window.notReloaded = true")  # type: ignore[attr-defined]  # gone on a reload

    ctx = configure(settings, redis_url)  # a worker, in this process
    try:
        real = broadcast.create_rows

        def broken(*args: object, **kwargs: object) -> broadcast.Progress:
            raise ConnectionError("the database went away")

        monkeypatch.setattr(broadcast, "create_rows", broken)
        run_jobs(redis)  # the first try fails; a retry is scheduled
        wait.until(ec.text_to_be_present_in_element(state, "se reintenta solo"))
        assert "esperando un reintento" in driver.find_element(By.ID, "result").text  # type: ignore[attr-defined]
        monkeypatch.setattr(broadcast, "create_rows", real)
        run_jobs(redis)  # the retry makes the rows
        wait.until(ec.text_to_be_present_in_element(state, "Listo: 1 mensajes en cola"))
    finally:
        ctx.db.dispose()
    shot(driver, f"broadcast-done-{width}")
    title = driver.find_element(By.TAG_NAME, "h1")  # type: ignore[attr-defined]  # its long id wraps
    assert driver.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth",  # type: ignore[attr-defined]
                                 title)
    assert driver.execute_script("return window.notReloaded") is True  # type: ignore[attr-defined]
    assert driver.find_element(By.ID, "progress").get_attribute("data-state") == "done"  # type: ignore[attr-defined]
