"""The stand-in Africa's Talking SMS server, driven through the real `africastalking` SDK over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService
from mijuntos_dev.fake_at import FakeAT, message_line
from mijuntos_dev.fake_at_state import NETWORKS, network_code, sms_parts
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from models.operators import operator_name

ROOT = Path(__file__).resolve().parent.parent
PHONES = ["+51987654321", "+51912345678", "+51900000406"]
TEXT = "Juntos: su pago del bimestre es el 12/05 en Agencia BN Huanta."


class Receiver:
    """A small local server that records the form POSTs it gets, like the service's callbacks."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.posts.append((request.path, dict(request.form)))
        return Response("ok", content_type="text/plain")(environ, start_response)

    def wait(self, count: int, timeout: float = 3.0) -> list[tuple[str, dict[str, str]]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        with self.lock:
            return list(self.posts)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    thread = threading.Thread(target=rec.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture
def fake(receiver: Receiver, tmp_path: Path) -> Iterator[FakeAT]:
    with FakeAT.running(
        callback_url=receiver.url + "/sms/delivery",
        optout_url=receiver.url + "/sms/optout",
        log_path=tmp_path / "at.jsonl",
        dlr_delay=0.01,
    ) as running:
        yield running


@pytest.fixture
def sms(fake: FakeAT) -> SMSService:
    service = SMSService(username="sandbox", api_key="test")
    service._baseUrl = fake.base_url
    return service


def recipients(response: Any) -> list[dict[str, Any]]:
    assert isinstance(response, dict), f"the SDK did not parse JSON: {response!r}"
    found: list[dict[str, Any]] = response["SMSMessageData"]["Recipients"]
    return found


def test_bulk_send_answers_each_recipient_as_the_live_api_does(
    fake: FakeAT, sms: SMSService, tmp_path: Path
) -> None:
    response = sms.send(TEXT, PHONES, sender_id="MIJUNTOS")
    rows = recipients(response)
    assert [r["number"] for r in rows] == PHONES
    assert {(r["statusCode"], r["status"], r["cost"]) for r in rows} == {(101, "Success", "PEN 0.0300")}
    ids = [r["messageId"] for r in rows]
    assert len(set(ids)) == 3 and all(i.startswith("ATXid_") for i in ids)
    assert response["SMSMessageData"]["Message"] == "Sent to 3/3 Total Cost: PEN 0.0900"
    [entry] = fake.messages
    assert (entry["from"], entry["to"], entry["message"], entry["parts"]) == ("MIJUNTOS", PHONES, TEXT, 1)
    logged = [json.loads(line) for line in (tmp_path / "at.jsonl").read_text().splitlines()]
    assert logged == fake.messages


def test_enqueued_send_is_queued(sms: SMSService) -> None:
    assert {r["statusCode"] for r in recipients(sms.send(TEXT, PHONES[:1], enqueue=True))} == {102}


def test_a_ucs2_text_costs_more_parts_than_the_same_length_in_gsm7(sms: SMSService) -> None:
    gsm = recipients(sms.send("a" * 100, PHONES[:1]))
    ucs2 = recipients(sms.send("á" * 100, PHONES[:1]))
    assert (gsm[0]["cost"], ucs2[0]["cost"]) == ("PEN 0.0300", "PEN 0.0600")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("[" * 80, 1),
        ("[" * 81, 2),
        ("ñ" * 160, 1),
        ("á" * 70, 1),
        ("á" * 71, 2),
        ("á" * 134, 2),
        ("á" * 135, 3),
        ("😀" * 35, 1),
        ("😀" * 36, 2),
    ],
)
def test_parts_follow_the_gsm7_and_ucs2_limits(text: str, parts: int) -> None:
    assert sms_parts(text) == parts


def test_an_injected_http_500_raises_then_the_next_send_succeeds(fake: FakeAT, sms: SMSService) -> None:
    fake.fail_next(500)
    with pytest.raises(AfricasTalkingException, match="Internal Server Error"):
        sms.send(TEXT, PHONES[:1])
    assert recipients(sms.send(TEXT, PHONES[:1]))[0]["statusCode"] == 101
    assert [(m["http_status"], m["to"]) for m in fake.messages] == [(500, PHONES[:1]), (201, PHONES[:1])]


def test_faults_can_be_set_over_http(fake: FakeAT, sms: SMSService) -> None:
    answer = requests.post(
        fake.root_url + "/_control/faults", json={"http_status": 503, "http_count": 2}, timeout=2
    )
    assert answer.status_code == 200
    for _ in range(2):
        with pytest.raises(AfricasTalkingException, match="Service Unavailable"):
            sms.send(TEXT, PHONES[:1])
    sms.send(TEXT, PHONES[:1])
    bad = requests.post(fake.root_url + "/_control/faults", json={"http_stauts": 503}, timeout=2)
    assert bad.status_code == 400 and "http_stauts" in bad.text


def test_an_injected_delay_makes_the_sdk_time_out(fake: FakeAT, sms: SMSService) -> None:
    fake.delay_next(1.0)
    with pytest.raises(requests.exceptions.Timeout):
        sms.send(TEXT, PHONES[:1], timeout=(1, 0.3))
    assert recipients(sms.send(TEXT, PHONES[:1], timeout=(1, 0.3)))[0]["statusCode"] == 101


def test_per_number_codes_fail_only_those_recipients(fake: FakeAT, sms: SMSService) -> None:
    fake.set_number_status(PHONES[1], 403)
    requests.post(fake.root_url + "/_control/faults", json={"number_status": {PHONES[2]: 406}}, timeout=2)
    response = sms.send(TEXT, PHONES)
    rows = recipients(response)
    assert [(r["statusCode"], r["status"]) for r in rows] == [
        (101, "Success"),
        (403, "InvalidPhoneNumber"),
        (406, "UserInBlacklist"),
    ]
    assert [(r["cost"], r["messageId"]) for r in rows[1:]] == [("0", "None"), ("0", "None")]
    assert response["SMSMessageData"]["Message"] == "Sent to 1/3 Total Cost: PEN 0.0300"


def test_a_recipients_level_failure_hits_one_whole_request(fake: FakeAT, sms: SMSService) -> None:
    fake.fail_recipients_next(501)
    assert {(r["statusCode"], r["status"]) for r in recipients(sms.send(TEXT, PHONES))} == {
        (501, "GatewayError")
    }
    assert {r["statusCode"] for r in recipients(sms.send(TEXT, PHONES))} == {101}


def test_the_api_refuses_requests_missing_a_field(fake: FakeAT) -> None:
    url = fake.base_url + "/messaging"
    form = {"username": "sandbox", "to": PHONES[0], "message": TEXT}
    assert requests.post(url, data=form, timeout=2).status_code == 400
    for field in form:
        answer = requests.post(url, data={**form, field: ""}, headers={"apiKey": "k"}, timeout=2)
        assert (answer.status_code, field in answer.text) == (400, True)


def test_wrong_credentials_are_refused_when_the_fake_expects_some() -> None:
    with FakeAT.running(username="mijuntos", api_key="secret") as fake:
        sms = SMSService(username="mijuntos", api_key="wrong")
        sms._baseUrl = fake.base_url
        with pytest.raises(AfricasTalkingException, match="authentication"):
            sms.send(TEXT, PHONES[:1])


def test_delivery_reports_reach_the_callback(fake: FakeAT, sms: SMSService, receiver: Receiver) -> None:
    fake.plan_delivery(PHONES[1], ("Failed", "UserIsInactive"))
    fake.set_number_status(PHONES[2], 406)
    rows = recipients(sms.send(TEXT, PHONES))
    assert fake.wait_for_deliveries()
    posts = receiver.wait(2)
    assert [path for path, _ in posts] == ["/sms/delivery"] * 2, "no report for a refused recipient"
    by_id = {form["id"]: form for _, form in posts}
    ok, failed = by_id[rows[0]["messageId"]], by_id[rows[1]["messageId"]]
    assert (ok["status"], ok["phoneNumber"], ok["retryCount"]) == ("Success", PHONES[0], "0")
    assert operator_name(ok["networkCode"]) and "failureReason" not in ok  # a Peruvian network
    assert (failed["status"], failed["failureReason"], failed["phoneNumber"]) == (
        "Failed",
        "UserIsInactive",
        PHONES[1],
    )


def test_planned_and_on_demand_reports_repeat_and_come_out_of_order(
    fake: FakeAT, sms: SMSService, receiver: Receiver
) -> None:
    fake.plan_delivery(PHONES[0], "Submitted", "Success")
    [row] = recipients(sms.send(TEXT, PHONES[:1]))
    assert fake.wait_for_deliveries()
    mid = row["messageId"]
    assert fake.send_delivery_report(mid, "Success") == 200
    assert fake.send_delivery_report(mid, "Buffered", retry_count=2) == 200
    statuses = [(form["id"], form["status"]) for _, form in receiver.wait(4)]
    assert statuses == [(mid, "Submitted"), (mid, "Success"), (mid, "Success"), (mid, "Buffered")]
    assert receiver.posts[-1][1]["retryCount"] == "2"
    with pytest.raises(KeyError):
        fake.send_delivery_report("ATXid_unknown")


def test_a_number_planned_with_no_reports_gets_none(
    fake: FakeAT, sms: SMSService, receiver: Receiver
) -> None:
    fake.plan_delivery(PHONES[0])
    sms.send(TEXT, PHONES[:2])
    assert fake.wait_for_deliveries()
    assert [form["phoneNumber"] for _, form in receiver.wait(1)] == [PHONES[1]]


def test_an_opt_out_is_posted(fake: FakeAT, receiver: Receiver) -> None:
    assert fake.send_optout(PHONES[0], sender_id="MIJUNTOS") == 200
    assert receiver.wait(1) == [("/sms/optout", {"senderId": "MIJUNTOS", "phoneNumber": PHONES[0]})]


def test_messages_are_listed_and_reset_over_http(fake: FakeAT, sms: SMSService) -> None:
    fake.set_number_status(PHONES[0], 403)
    sms.send(TEXT, PHONES[:1])
    listed = requests.get(fake.root_url + "/_messages", timeout=2)
    assert listed.headers["Content-Type"] == "application/json"
    assert [m["to"] for m in listed.json()] == [PHONES[:1]]
    assert requests.post(fake.root_url + "/_control/reset", timeout=2).status_code == 200
    assert fake.messages == []
    assert recipients(sms.send(TEXT, PHONES[:1]))[0]["statusCode"] == 101, "reset clears faults"


def test_a_message_line_masks_every_number() -> None:
    entry = {
        "time": "t",
        "http_status": 201,
        "from": None,
        "message": "Hola\nJuntos",
        "parts": 1,
        "recipients": [{"number": "+51987654321", "statusCode": 101}],
    }
    assert message_line(entry) == 't from=- to=[+51 9** *** 321 101] parts=1 "Hola\\nJuntos"'


def test_a_bulk_request_is_one_short_line() -> None:
    # A wave of reminders is 500 recipients a call: a line of 500 masked numbers each time hid
    # the replies (one recipient each) that a demo looks for.
    numbers = [f"+51987{i:06d}" for i in range(500)]
    entry = {"time": "t", "http_status": 201, "from": None, "message": "Mi Juntos: aviso", "parts": 1,
             "recipients": [{"number": n, "statusCode": 406 if n == numbers[0] else 101}
                            for n in numbers]}
    assert message_line(entry) == 't from=- to=500 recipients (499 accepted) parts=1 "Mi Juntos: aviso"'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_cli_command_serves_and_prints_masked_numbers(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "cli.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mijuntos_dev.fake_at", "--port", str(port), "--log", str(log)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/version1" in banner, banner
        sms = SMSService(username="sandbox", api_key="test")
        sms._baseUrl = f"http://127.0.0.1:{port}/version1"
        assert recipients(sms.send(TEXT, ["+51987654321"]))[0]["statusCode"] == 101
        line = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=5)
    assert "+51 9** *** 321" in line and TEXT in line
    assert "987654321" not in line + out
    assert json.loads(log.read_text())["to"] == ["+51987654321"]


def test_a_count_only_fake_keeps_counters_not_messages() -> None:
    with FakeAT.running(keep_messages=False) as lean:
        lean.set_number_status(PHONES[2], 406)
        sms = SMSService(username="sandbox", api_key="test")
        sms._baseUrl = lean.base_url
        assert [r["statusCode"] for r in recipients(sms.send(TEXT, PHONES))] == [101, 101, 406]
        lean.fail_next(500)
        with pytest.raises(AfricasTalkingException):
            sms.send(TEXT, PHONES[:1])
        stats = requests.get(lean.root_url + "/_stats", timeout=2).json()
        assert lean.messages == []
    assert {k: stats[k] for k in ("requests", "refused", "recipients", "accepted")} == {
        "requests": 2, "refused": 1, "recipients": 4, "accepted": 2,
    }
    assert sum(n for _, n in stats["per_second"]) == 2


def test_the_cli_count_only_mode_prints_nothing_per_request() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mijuntos_dev.fake_at", "--port", str(port), "--count-only"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        sms = SMSService(username="sandbox", api_key="test")
        sms._baseUrl = f"http://127.0.0.1:{port}/version1"
        sms.send(TEXT, PHONES[:2])
        stats = requests.get(f"http://127.0.0.1:{port}/_stats", timeout=2).json()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=5)
    assert stats["accepted"] == 2
    assert "321" not in out and TEXT not in out


def test_the_stand_in_uses_the_network_codes_the_report_names() -> None:
    assert NETWORKS and all(operator_name(code) for code in NETWORKS)
    codes = {network_code(f"+5198765432{d}") for d in range(10)}
    assert codes == set(NETWORKS)  # numbers spread over every network of the table
