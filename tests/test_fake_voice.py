"""The stand-in voice provider plays Africa's Talking's side of calls to a tiny IVR (voice_support.py)."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService
from africastalking.Voice import VoiceService
from click.testing import CliRunner
from flask import Flask
from mijuntos_dev.fake_at import FakeAT, voice_line
from mijuntos_dev.fake_voice import (
    DESTINATION,
    CallFailed,
    FakeVoice,
    GetDigits,
    Outcome,
    VoiceError,
    VoiceXMLError,
    inbound_call,
    keys_sent,
    parse_response,
)

from mijuntos.cli import main
from tests.voice_support import (
    ASK_DNI,
    CALLER,
    CALLING_BACK,
    KEY,
    MENU,
    NEXT_PAYMENT,
    NO_DNI,
    PROMPTS,
    REJECTED_CALLER,
    WELCOME,
    ivr_app,
    served,
)

DNI = "12345678"
MISMATCH = "wide.wav is 16-bit mono 16000 Hz but welcome.wav is 16-bit mono 8000 Hz"


@pytest.fixture
def app() -> Flask:
    return ivr_app()


@pytest.fixture
def root(app: Flask) -> Iterator[str]:
    with served(app) as url:
        yield url


@pytest.fixture
def voice_url(root: str) -> str:
    return f"{root}/voice?key={KEY}"


def finals(app: Flask) -> list[dict[str, str]]:
    found: list[dict[str, str]] = app.config["FINALS"]
    return found


def test_a_call_through_both_menus_is_heard_in_order(app: Flask, voice_url: str, root: str) -> None:
    call = inbound_call(voice_url, CALLER, [DNI, "1"])
    assert call.said == [WELCOME, ASK_DNI, MENU, "date.wav", NEXT_PAYMENT]
    assert call.digits == [DNI, "1"]
    assert call.outcome == Outcome.COMPLETED
    # The DNI goes to the GetDigits' callbackUrl; the menu has none, so its key goes to the call's URL.
    assert [(p.url.split("?")[0], p.status) for p in call.posts] == [
        (f"{root}/voice", 200), (f"{root}/voice/dni", 200), (f"{root}/voice", 200), (f"{root}/voice", 200)]
    first = call.posts[0].form
    assert first == {"isActive": "1", "sessionId": call.session_id, "direction": "Inbound",
                     "callerNumber": CALLER, "destinationNumber": DESTINATION}
    assert call.session_id.startswith("ATVId_")
    assert {p.form["sessionId"] for p in call.posts} == {call.session_id}
    assert [[p.label for p in step.prompts] for step in call.steps] == [
        [WELCOME, ASK_DNI], [MENU], ["date.wav", NEXT_PAYMENT]]
    assert call.audio == [PROMPTS["welcome.wav"][0], PROMPTS["menu.wav"][0], PROMPTS["date.wav"][0]]


def test_the_final_notification_carries_duration_and_cost(app: Flask, voice_url: str) -> None:
    call = inbound_call(voice_url, CALLER, [DNI, "1"])
    assert finals(app) == [call.final]
    final = call.final
    assert (final["isActive"], final["sessionId"], final["callerNumber"]) == ("0", call.session_id, CALLER)
    assert (final["currencyCode"], final["amount"]) == ("PEN", "0.0800")
    assert final["hangupCause"] == "NORMAL_CLEARING"
    # 1.5 s of audio, 13 words read (0.4 s each), 9 keys (0.5 s): the stand-in's clock, not the test's.
    assert final["durationInSeconds"] == "12"


def test_no_keys_times_out_and_goes_on_with_the_actions_after_get_digits(
        app: Flask, voice_url: str) -> None:
    call = inbound_call(voice_url, CALLER, [None])
    assert call.said == [WELCOME, ASK_DNI, NO_DNI]
    assert call.digits == [] and len(call.posts) == 2  # no dtmfDigits callback, then the final one
    assert call.outcome == Outcome.COMPLETED
    assert int(call.final["durationInSeconds"]) >= 5  # the GetDigits' timeout="5" went by
    assert call.steps[0].keys is not None and call.steps[0].keys.sent == ""


def test_a_redirect_hands_the_call_on_and_later_keys_go_to_the_redirected_url(
        voice_url: str, root: str) -> None:
    call = inbound_call(voice_url, CALLER, [DNI, "9", "4"])
    assert call.said[-3:] == ["Otra vez.", "Marque una tecla.", "Desde el desvio."]
    assert [p.url.split("?")[0] for p in call.posts[3:5]] == [f"{root}/voice/again"] * 2
    assert call.posts[4].form["dtmfDigits"] == "4"
    assert call.posts[5].url == voice_url  # the final notification: the number's URL


def test_reject_ends_the_call_with_only_the_final_notification(app: Flask, voice_url: str) -> None:
    call = inbound_call(voice_url, CALLER, ["00000000", "1"])
    assert call.outcome == Outcome.REJECTED
    assert len(call.posts) == 3 and call.final["hangupCause"] == "CALL_REJECTED"
    # Rejected as it rings, a call is never answered and costs nothing.
    rejected = inbound_call(voice_url, REJECTED_CALLER, [DNI])
    assert rejected.outcome == Outcome.REJECTED and rejected.said == []
    assert (rejected.final["durationInSeconds"], rejected.final["amount"]) == ("0", "0.0000")
    assert finals(app) == [call.final, rejected.final]


def test_a_missed_call_rings_then_hangs_up_unless_the_service_rejects_it(voice_url: str) -> None:
    missed = inbound_call(voice_url, CALLER, missed=True)
    assert missed.outcome == Outcome.MISSED and missed.said == []
    assert [p.form["isActive"] for p in missed.posts] == ["1", "0"]  # the service saw it ring
    assert (missed.final["hangupCause"], missed.final["durationInSeconds"], missed.final["amount"]) == (
        "ORIGINATOR_CANCEL", "0", "0.0000")
    rejected = inbound_call(voice_url, REJECTED_CALLER, missed=True)
    assert rejected.outcome == Outcome.REJECTED and rejected.final["hangupCause"] == "CALL_REJECTED"


def test_the_caller_hangs_up_after_some_prompts_or_when_her_script_runs_out(voice_url: str) -> None:
    early = inbound_call(voice_url, CALLER, [DNI, "1"], hang_up_after=1)
    assert early.said == [WELCOME] and early.outcome == Outcome.CALLER_HUNG_UP
    assert [p.form["isActive"] for p in early.posts] == ["1", "0"]
    assert early.final["hangupCause"] == "NORMAL_CLEARING"
    ran_out = inbound_call(voice_url, CALLER, [DNI])
    assert ran_out.said == [WELCOME, ASK_DNI, MENU] and ran_out.outcome == Outcome.CALLER_HUNG_UP


@pytest.mark.parametrize(("typed", "finish", "num", "sent"), [
    ("12345678", "#", 8, "12345678"),
    ("123456789", "#", 8, "12345678"),  # keys past numDigits are not sent
    ("12#34", "#", None, "12"),
    ("1234#", "#", None, "1234"),
    ("#", "#", None, ""),  # the finish key alone: nothing keyed, a timeout
    ("", "#", 8, ""),
    ("42", None, None, "4"),  # no finishOnKey, no numDigits: AT sends the first key
    ("123", None, 8, ""),  # fewer than numDigits and no finish key: it times out
    ("12345678", None, 8, "12345678"),
])
def test_keys_sent_follow_finish_on_key_and_num_digits(
        typed: str, finish: str | None, num: int | None, sent: str) -> None:
    assert keys_sent(typed, GetDigits((), finish_on_key=finish, num_digits=num)) == sent


def test_keys_a_phone_does_not_have_are_refused() -> None:
    with pytest.raises(ValueError, match="0-9"):
        keys_sent("12a", GetDigits(()))


@pytest.mark.parametrize(("digits", "problem"), [
    ("11111111", "malformed XML"),
    ("22222222", "unknown element <Speak>"),
    ("33333333", "HTTP 500, expected 200"),
    ("55555555", "missing.wav: HTTP 404"),
    ("66666666", "Content-Type 'text/plain', expected audio/wav"),
])
def test_a_service_fault_fails_the_call_and_says_why(
        app: Flask, voice_url: str, digits: str, problem: str) -> None:
    with pytest.raises(CallFailed, match=problem) as raised:
        inbound_call(voice_url, CALLER, [digits])
    call = raised.value.call
    assert call.outcome == Outcome.FAILED and KEY not in str(raised.value)
    assert call.final["hangupCause"] == "NORMAL_TEMPORARY_FAILURE" and finals(app) == [call.final]
    unchecked = inbound_call(voice_url, CALLER, [digits], check=False)
    assert unchecked.errors and problem in unchecked.errors[0]


def test_a_callback_refused_is_reported_with_its_status(root: str) -> None:
    with pytest.raises(CallFailed, match=r"callback .*/voice: HTTP 403") as raised:
        inbound_call(f"{root}/voice?key=wrong", CALLER, [DNI])
    assert [p.status for p in raised.value.call.posts] == [403, 403]
    assert "final notification" in str(raised.value)


@pytest.mark.parametrize(("body", "problem"), [
    ('<Response><Play url="/prompts/a.wav"/></Response>', "absolute"),
    ("<Response><Say>  </Say></Response>", "no text"),
    ('<Response><GetDigits finishOnKey="##"/></Response>', "finishOnKey"),
    ('<Response><GetDigits finishonkey="#"/></Response>', "unknown attribute"),
    ('<Response><GetDigits numDigits="0"/></Response>', "numDigits"),
    ("<Response><GetDigits><GetDigits/></GetDigits></Response>", "only Say and Play"),
    ('<Response><Dial phoneNumbers="+51987654321"/></Response>', "does not play"),
    ("<Response>hola<Say>x</Say></Response>", "text outside"),
    ("<Say>hola</Say>", "must be <Response>"),
    ("", "empty reply"),
    ("<Response><Redirect>voice</Redirect></Response>", "absolute"),
])
def test_voice_xml_the_live_api_would_not_run_as_meant_is_refused(body: str, problem: str) -> None:
    with pytest.raises(VoiceXMLError, match=problem):
        parse_response(body)


def test_the_played_files_join_into_one_wav(voice_url: str, tmp_path: Path) -> None:
    call = inbound_call(voice_url, CALLER, [DNI, "1"])
    seconds = call.write_wav(tmp_path / "call.wav")
    assert seconds == pytest.approx(1.5)
    with wave.open(str(tmp_path / "call.wav")) as joined:
        assert (joined.getnchannels(), joined.getsampwidth(), joined.getframerate()) == (1, 2, 8000)
        frames = joined.readframes(joined.getnframes())
    expected = b""
    for name in ("welcome.wav", "menu.wav", "date.wav"):
        with wave.open(io.BytesIO(PROMPTS[name][0])) as part:
            expected += part.readframes(part.getnframes())
    assert frames == expected


def test_files_of_different_rates_are_not_joined(voice_url: str, tmp_path: Path) -> None:
    call = inbound_call(voice_url, CALLER, ["44444444"])
    assert call.said == [WELCOME, ASK_DNI, "Otro formato"]
    with pytest.raises(VoiceError, match=MISMATCH):
        call.write_wav(tmp_path / "call.wav")
    assert not (tmp_path / "call.wav").exists()


def test_a_flask_test_client_plays_the_same_call_with_no_port(app: Flask, voice_url: str) -> None:
    in_process = inbound_call(f"http://localhost/voice?key={KEY}", CALLER, [DNI, "1"],
                              client=app.test_client())
    assert in_process.said == inbound_call(voice_url, CALLER, [DNI, "1"]).said


def _sdk(base_url: str, api_key: str = "test") -> VoiceService:
    service = VoiceService("sandbox", api_key)
    service._baseUrl = base_url
    return service


def test_an_outbound_call_through_the_sdk_rings_the_callee_back(app: Flask, voice_url: str) -> None:
    with FakeVoice.running(ring_url=voice_url) as fake:
        fake.answer(CALLER, "1")
        answer = _sdk(fake.base_url).call(DESTINATION, [CALLER])
        assert isinstance(answer, dict), answer
        [entry] = answer["entries"]
        assert (answer["errorMessage"], entry["status"], entry["phoneNumber"]) == ("None", "Queued", CALLER)
        [call] = fake.wait_for_calls(1)
    assert call.posts[0].form == {"isActive": "1", "sessionId": entry["sessionId"], "direction": "Outbound",
                                  "callerNumber": CALLER, "destinationNumber": DESTINATION}
    assert call.said == [CALLING_BACK, "date.wav", NEXT_PAYMENT] and call.outcome == Outcome.COMPLETED
    assert finals(app) == [call.final] and call.final["direction"] == "Outbound"
    [request] = fake.requests
    assert (request["http_status"], request["username"], request["from"], request["to"]) == (
        200, "sandbox", DESTINATION, [CALLER])


def test_an_outbound_call_nobody_answers_posts_only_the_final_notification(voice_url: str) -> None:
    with FakeVoice.running(ring_url=voice_url) as fake:
        fake.answer(CALLER, picked_up=False)
        _sdk(fake.base_url).call(DESTINATION, [CALLER])
        [call] = fake.wait_for_calls(1)
    assert call.outcome == Outcome.NOT_ANSWERED and call.said == []
    assert [(p.form["isActive"], p.form.get("hangupCause")) for p in call.posts] == [("0", "NO_ANSWER")]


def test_the_call_api_refuses_as_the_live_one_does() -> None:
    with FakeVoice.running(api_key="right") as fake:
        with pytest.raises(AfricasTalkingException, match="authentication is invalid"):
            _sdk(fake.base_url, api_key="wrong").call(DESTINATION, [CALLER])
        fake.fail_next(500)
        with pytest.raises(AfricasTalkingException, match="Internal Server Error"):
            _sdk(fake.base_url, api_key="right").call(DESTINATION, [CALLER])
        answer = _sdk(fake.base_url, api_key="right").call(DESTINATION, [CALLER])
        assert answer["entries"][0]["status"] == "Queued"
        assert [r["http_status"] for r in fake.requests] == [401, 500, 200]
        assert fake.calls == []  # no ring_url: nobody is rung


def test_the_sms_stand_in_also_serves_the_call_api(voice_url: str) -> None:
    with FakeAT.running(voice_url=voice_url, dlr_delay=0.01) as fake:
        fake.voice.answer(CALLER, "1")
        _sdk(fake.voice_base_url).call(DESTINATION, [CALLER])
        [call] = fake.voice.wait_for_calls(1)
        sms = SMSService("sandbox", "test")
        sms._baseUrl = fake.base_url
        sent = sms.send("Juntos: prueba", [CALLER])
    assert call.said[0] == CALLING_BACK and call.outcome == Outcome.COMPLETED
    assert sent["SMSMessageData"]["Recipients"][0]["statusCode"] == 101


def _run(root: str, *args: str, input: str | None = None) -> tuple[int, str]:
    # The service as `mijuntos up` runs it: $PORT and $CALLBACK_SECRET give the default URL.
    port = root.rsplit(":", 1)[1]
    result = CliRunner().invoke(main, ["call", "--phone", CALLER, *args], input=input,
                                env={"PORT": port, "CALLBACK_SECRET": KEY})
    return result.exit_code, result.output


def test_mijuntos_call_prints_the_call_and_writes_its_audio(root: str, tmp_path: Path) -> None:
    code, out = _run(root, "--send", DNI, "--send", "1", "--wav", str(tmp_path / "out.wav"))
    assert code == 0, out
    assert out.splitlines() == [
        f"ringing {root}/voice", f"  {WELCOME}", f"  {ASK_DNI}", f"> {DNI}", f"  {MENU}", "> 1",
        "  [date.wav]", f"  {NEXT_PAYMENT}", "(the service hung up: call over after 12 s, PEN 0.0800)",
        f"wrote {tmp_path / 'out.wav'}: 1.5 s from 3 played files"]
    with wave.open(str(tmp_path / "out.wav")) as written:
        assert written.getnframes() == 12000


def test_mijuntos_call_asks_for_keys_and_an_empty_line_times_out(root: str) -> None:
    code, out = _run(root, input=f"{DNI}\n\n")
    assert code == 0, out
    assert "(no keys sent: it timed out after 30 s)" in out
    assert out.index(MENU) < out.index("(no keys sent")
    assert out.strip().endswith("(the service hung up: call over after 38 s, PEN 0.0800)")


def test_mijuntos_call_shows_a_missed_call_and_a_rejected_one(root: str) -> None:
    code, out = _run(root, "--missed")
    assert code == 0 and "(missed call: you hung up before it was answered)" in out, out
    port = root.rsplit(":", 1)[1]
    rejected = CliRunner().invoke(main, ["call", "--phone", REJECTED_CALLER, "--missed"],
                                  env={"PORT": port, "CALLBACK_SECRET": KEY})
    assert "(the service rejected the call: it costs the caller nothing)" in rejected.output


def test_mijuntos_call_reports_what_went_wrong(root: str, tmp_path: Path) -> None:
    code, out = _run(root, "--send", "11111111")
    assert code == 1 and "malformed XML" in out, out
    code, out = _run(root, "--send", "44444444", "--wav", str(tmp_path / "x.wav"))
    assert code == 1 and MISMATCH in out, out
    assert not (tmp_path / "x.wav").exists()
    code, out = _run(root, "--key", "wrong", "--url", f"{root}/voice")
    assert code == 1 and "HTTP 403" in out and "wrong" not in out, out
    code, out = _run(root, "--url", "http://127.0.0.1:1/voice")
    assert code == 1 and "could not reach http://127.0.0.1:1/voice" in out, out
    code, out = _run(root, "--send", "12a")
    assert code == 2 and "0-9 * #" in out, out


def test_the_stand_in_prints_voice_activity_with_masked_numbers() -> None:
    request = {"time": "t", "http_status": 200, "from": DESTINATION,
               "entries": [{"phoneNumber": CALLER, "status": "Queued", "sessionId": "ATVId_1"}]}
    ended = {"callerNumber": CALLER, "outcome": "completed", "said": ["a", "b"], "errors": []}
    lines = [voice_line("request", request), voice_line("call", ended)]
    assert lines == [f"t call from={DESTINATION} to=[+51 9** *** 321 Queued]",
                     "call to +51 9** *** 321 ended: completed, 2 prompts"]
    assert not any(CALLER in line for line in lines)
