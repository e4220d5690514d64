"""A stand-in Africa's Talking SMS API over HTTP: the real SDK sends through it with no account.

Point an `africastalking.SMS.SMSService` at it with `service._baseUrl = fake.base_url`. It answers
`POST /version1/messaging` as the live API does, posts delivery reports and opt-outs to the
service's callbacks, and injects failures on demand (from Python or `POST /_control/faults`).
It also answers the voice API's `POST /call` (`fake.voice`, a `FakeVoice`: point a
`VoiceService` at `fake.voice_base_url`), ringing each callee back on `voice_url`.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from core.privacy import mask_phone
from mijuntos_dev.fake_at_dlr import Callbacks, dlr_form
from mijuntos_dev.fake_at_state import Faults, Ledger, SendRequest
from mijuntos_dev.fake_voice import FakeVoice

FAILURES = ("Failed", "Rejected")
ACCEPTED = (100, 101, 102)
SHOWN_RECIPIENTS = 3  # a request to more is shown as a count
Step = str | tuple[str, str]


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, content_type="text/plain")


def _json(data: Any, status: int = 200) -> Response:
    # The SDK parses the body only when Content-Type is exactly "application/json".
    return Response(json.dumps(data), status=status, content_type="application/json")


def _numbers(to: str) -> list[str]:
    return [n.strip() for n in to.split(",") if n.strip()]


class FakeAT:
    """The stand-in's state and WSGI app; `FakeAT.running()` serves it from a thread."""

    def __init__(
        self,
        callback_url: str | None = None,
        optout_url: str | None = None,
        log_path: Path | str | None = None,
        dlr_delay: float = 0.2,
        username: str | None = None,
        api_key: str | None = None,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        keep_messages: bool = True,
        voice_url: str | None = None,
        on_voice: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.callback_url = callback_url
        self.optout_url = optout_url
        self.username = username
        self.api_key = api_key
        self.on_message = on_message
        self.ledger = Ledger(log_path, keep_messages=keep_messages)
        self.callbacks = Callbacks(dlr_delay)
        self.voice = FakeVoice(voice_url, username, api_key, on_activity=on_voice)
        self.root_url = ""

    @property
    def base_url(self) -> str:
        """What to set an SMSService's `_baseUrl` to."""
        return self.root_url + "/version1"

    @property
    def voice_base_url(self) -> str:
        """What to set a VoiceService's `_baseUrl` to (the live one is a host of its own)."""
        return self.root_url

    @property
    def messages(self) -> list[dict[str, Any]]:
        """A copy of every request received so far."""
        with self.ledger.lock:
            copy: list[dict[str, Any]] = json.loads(json.dumps(self.ledger.messages))
        return copy

    @property
    def stats(self) -> dict[str, Any]:
        """Requests, recipients and accepted recipients so far, and accepted recipients per second."""
        return self.ledger.stats()

    # -- failure injection ------------------------------------------------------------------

    def fail_next(self, status: int = 500, count: int = 1, body: str | None = None) -> None:
        """Answer the next `count` send requests with HTTP `status` and a text body."""
        with self.ledger.lock:
            f = self.ledger.faults
            f.http_status, f.http_count = status, count
            f.http_body = body or ("Service Unavailable" if status == 503 else "Internal Server Error")

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Sleep `seconds` before answering the next `count` send requests."""
        with self.ledger.lock:
            self.ledger.faults.delay_seconds, self.ledger.faults.delay_count = seconds, count

    def fail_recipients_next(self, code: int = 500, count: int = 1) -> None:
        """Give every recipient of the next `count` requests statusCode `code` (500, 501, 502...)."""
        with self.ledger.lock:
            self.ledger.faults.recipients_status, self.ledger.faults.recipients_count = code, count

    def set_number_status(self, number: str, code: int | None) -> None:
        """Always answer `number` with statusCode `code` (403, 406...); None clears it."""
        with self.ledger.lock:
            if code is None:
                self.ledger.faults.number_status.pop(number, None)
            else:
                self.ledger.faults.number_status[number] = code

    def plan_delivery(self, number: str, *steps: Step) -> None:
        """Reports for `number`, in order: "Submitted", ("Failed", "UserIsInactive")...; none: silence."""
        plan = [(s, "DeliveryFailure" if s in FAILURES else "") if isinstance(s, str) else s for s in steps]
        with self.ledger.lock:
            self.ledger.faults.delivery[number] = plan

    def configure(self, spec: Mapping[str, Any]) -> None:
        """Apply faults given as JSON: the keys of `Faults`, counts defaulting to 1."""
        unknown = set(spec) - set(Faults.__dataclass_fields__)
        if unknown:
            raise ValueError(f"faults: unknown keys {sorted(unknown)}")
        if "http_status" in spec:
            self.fail_next(int(spec["http_status"]), int(spec.get("http_count", 1)), spec.get("http_body"))
        if "delay_seconds" in spec:
            self.delay_next(float(spec["delay_seconds"]), int(spec.get("delay_count", 1)))
        if "recipients_status" in spec:
            self.fail_recipients_next(int(spec["recipients_status"]), int(spec.get("recipients_count", 1)))
        for number, code in dict(spec.get("number_status", {})).items():
            self.set_number_status(str(number), None if code is None else int(code))
        for number, steps in dict(spec.get("delivery", {})).items():
            self.plan_delivery(
                str(number), *(s if isinstance(s, str) else (str(s[0]), str(s[1])) for s in steps)
            )

    def reset(self) -> None:
        """Clear faults, planned delivery reports and recorded messages (and calls)."""
        self.ledger.reset()
        self.callbacks.clear()
        self.voice.reset()

    # -- delivery reports and opt-outs --------------------------------------------------------

    def send_delivery_report(
        self,
        message_id: str,
        status: str = "Success",
        failure_reason: str = "",
        retry_count: int = 0,
        phone: str | None = None,
    ) -> int:
        """POST a delivery report for `message_id` now (repeats and any order allowed); the HTTP status."""
        if not self.callback_url:
            raise RuntimeError("delivery report: no callback_url configured")
        if phone is None:
            recipient = self.ledger.find(message_id)
            if recipient is None:
                raise KeyError(f"delivery report: unknown messageId {message_id}")
            phone = str(recipient["number"])
        form = dlr_form(message_id, phone, status, failure_reason, retry_count)
        return self.callbacks.post(self.callback_url, form)

    def send_optout(self, phone: str, sender_id: str = "MIJUNTOS") -> int:
        """POST a bulk-SMS opt-out notification for `phone` now; the HTTP status."""
        if not self.optout_url:
            raise RuntimeError("opt-out: no optout_url configured")
        return self.callbacks.post(self.optout_url, {"senderId": sender_id, "phoneNumber": phone})

    def wait_for_deliveries(self, timeout: float = 5.0) -> bool:
        """Wait until every delivery report due so far has been posted; False on timeout."""
        return self.callbacks.wait(timeout)

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Every callback posted so far: url, form and the HTTP status it got (0: unreachable)."""
        with self.callbacks.lock:
            return list(self.callbacks.posted)

    def _queue_deliveries(self, recipients: list[dict[str, Any]]) -> None:
        if not self.callback_url:
            return
        forms = [
            dlr_form(r["messageId"], r["number"], status, reason)
            for r in recipients
            if r["messageId"] != "None"
            for status, reason in self.ledger.delivery_plan(r["number"])
        ]
        self.callbacks.later(self.callback_url, forms)

    def close(self) -> None:
        """Stop the delivery-report thread, wake any delayed request, stop ringing."""
        self.callbacks.close()
        self.voice.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """The WSGI entry point."""
        return self._dispatch(Request(environ))(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        route = (request.method, request.path.rstrip("/"))
        if route == ("POST", "/version1/messaging"):
            return self._messaging(request)
        if route in (("POST", "/call"), ("GET", "/_calls")):
            return self.voice.dispatch(request)
        if route == ("GET", "/_messages"):
            return _json(self.messages)
        if route == ("GET", "/_stats"):
            return _json(self.stats)
        if route == ("POST", "/_control/reset"):
            self.reset()
            return _json({"ok": True})
        if route == ("POST", "/_control/faults"):
            spec = request.get_json(force=True, silent=True)
            if not isinstance(spec, dict):
                return _text("faults: expected a JSON object", 400)
            try:
                self.configure(spec)
            except (ValueError, TypeError, IndexError) as exc:
                return _text(f"faults: {exc}", 400)
            return _json({"ok": True})
        return _text("Not Found", 404)

    def _messaging(self, request: Request) -> Response:
        delay, status, body = self.ledger.take_http_fault()
        if delay and self.callbacks.closing.wait(delay):
            return _text("shutting down", 503)
        if status is not None:
            return self._refuse(request, status, body, injected=True)
        form = request.form
        for name in ("username", "to", "message"):
            if not form.get(name, "").strip():
                return self._refuse(request, 400, f"Request is missing required form field '{name}'")
        key = request.headers.get("apiKey", "")
        if not key:
            return self._refuse(request, 400, "Request is missing required header field 'apiKey'")
        if (self.username and form["username"] != self.username) or (self.api_key and key != self.api_key):
            return self._refuse(request, 401, "The supplied authentication is invalid")
        sent = SendRequest(
            form["username"],
            _numbers(form["to"]),
            form["message"],
            form.get("from") or None,
            form.get("enqueue", "0") not in ("", "0"),
        )
        data, entry = self.ledger.accept(sent)
        self._notify(entry)
        self._queue_deliveries(data["Recipients"])
        return _json({"SMSMessageData": data}, 201)

    def _refuse(self, request: Request, status: int, body: str, injected: bool = False) -> Response:
        form = request.form
        entry = {"http_status": status, "error": body, "injected": injected, "from": form.get("from")}
        entry.update(to=_numbers(form.get("to", "")), message=form.get("message"), recipients=[])
        self._notify(self.ledger.record(entry))
        return _text(body, status)

    def _notify(self, entry: dict[str, Any]) -> None:
        if self.on_message is not None:
            self.on_message(entry)

    @classmethod
    @contextmanager
    def running(cls, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> Iterator[FakeAT]:
        """Serve a FakeAT from a background thread (an ephemeral port by default) for the block."""
        fake = cls(**kwargs)
        server = make_server(host, port, fake, threaded=True)
        fake.root_url = f"http://{host}:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield fake
        finally:
            fake.close()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def message_line(entry: dict[str, Any]) -> str:
    """One stdout line for a received request: masked numbers, never a full phone number."""
    if entry["http_status"] != 201:
        kind = "injected" if entry.get("injected") else "refused"
        return f"{entry['time']} {entry['http_status']} {kind}: {entry.get('error', '')}"
    recipients = entry["recipients"]
    if len(recipients) <= SHOWN_RECIPIENTS:
        to = "[" + ", ".join(f"{mask_phone(r['number'])} {r['statusCode']}" for r in recipients) + "]"
    else:  # a bulk call (reminders, notices): one short line, so a reply's line stands out
        accepted = sum(1 for r in recipients if r["statusCode"] in ACCEPTED)
        to = f"{len(recipients)} recipients ({accepted} accepted)"
    text = json.dumps(entry["message"], ensure_ascii=False)
    return f"{entry['time']} from={entry['from'] or '-'} to={to} parts={entry['parts']} {text}"


def voice_line(kind: str, entry: dict[str, Any]) -> str:
    """One stdout line for a voice API request or an outbound call played: masked numbers."""
    if kind == "request":
        if entry["http_status"] != 200:
            return f"{entry['time']} call {entry['http_status']} refused: {entry.get('error', '')}"
        to = ", ".join(f"{mask_phone(e['phoneNumber'])} {e['status']}" for e in entry["entries"])
        return f"{entry['time']} call from={entry['from']} to=[{to}]"
    problem = f" ({'; '.join(entry['errors'])})" if entry["errors"] else ""
    return (f"call to {mask_phone(entry['callerNumber'])} ended: {entry['outcome']}, "
            f"{len(entry['said'])} prompts{problem}")


@click.command("fake-at")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True)
@click.option(
    "--callback-url", default=None, help="delivery reports go here, e.g. http://127.0.0.1:5000/sms/delivery"
)
@click.option("--optout-url", default=None, help="opt-out notifications go here")
@click.option("--voice-url", default=None,
              help="outbound calls (POST /call) ring back here, e.g. http://127.0.0.1:5000/voice")
@click.option(
    "--log",
    "log_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="append every request as a JSON line",
)
@click.option("--dlr-delay", default=0.2, show_default=True, help="seconds before a delivery report")
@click.option(
    "--count-only",
    is_flag=True,
    help="load tests: keep only counters (GET /_stats), print nothing per request, keep no messages",
)
def fake_at_command(
    host: str,
    port: int,
    callback_url: str | None,
    optout_url: str | None,
    voice_url: str | None,
    log_path: Path | None,
    dlr_delay: float,
    count_only: bool,
) -> None:
    """A stand-in Africa's Talking SMS API, for sending with the real SDK and no account."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    def show(entry: dict[str, Any]) -> None:
        click.echo(message_line(entry))
        sys.stdout.flush()

    def show_voice(kind: str, entry: dict[str, Any]) -> None:
        click.echo(voice_line(kind, entry))
        sys.stdout.flush()

    fake = FakeAT(callback_url, optout_url, log_path, dlr_delay, on_message=None if count_only else show,
                  keep_messages=not count_only, voice_url=voice_url,
                  on_voice=None if count_only else show_voice)
    server = make_server(host, port, fake, threaded=True)
    fake.root_url = f"http://{host}:{server.server_port}"
    click.echo(f"fake Africa's Talking listening on {fake.base_url} (set the SDK's _baseUrl to it; "
               f"a VoiceService's to {fake.voice_base_url})")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.close()
        server.server_close()


if __name__ == "__main__":
    fake_at_command()
