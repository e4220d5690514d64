"""A stand-in Africa's Talking voice provider: plays calls against the service's voice callback.

Inbound: `inbound_call(url, phone, ["12345678", None, "1"])` rings the service at `url` (its
`/voice?key=...`), answers each GetDigits with the next input (None: no keys, a timeout),
fetches every Play, and returns the `Call` with its transcript (`said`, `posts`, `digits`,
`final`, `audio`). Pass `client=app.test_client()` to play it in-process, with no port.

Outbound: `FakeVoice` answers `POST /call` as the live voice API does, so the SDK's
`VoiceService.call(callFrom, [callTo])` works with `service._baseUrl = fake.base_url`; each
call queued then rings back on `ring_url` (the service's voice callback) as an Outbound call,
answered as `answer(phone, ...)` planned. `FakeAT` serves the same at its root (`/call`).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mijuntos_dev.fake_voice_call import DESTINATION, Call, CallFailed, Keys, Outcome, Post, Prompt, Step
from mijuntos_dev.fake_voice_http import ClientTransport, HTTPTransport, Transport
from mijuntos_dev.fake_voice_xml import KEYS, GetDigits, VoiceError, VoiceXMLError, keys_sent, parse_response

__all__ = [
    "DESTINATION", "Call", "CallFailed", "FakeVoice", "GetDigits", "Keys", "Outcome", "Post", "Prompt",
    "Step", "VoiceError", "VoiceXMLError", "inbound_call", "keys_sent", "parse_response",
]

_PHONE = re.compile(r"^\+\d{1,3}\d{3,}$")  # the SDK's own check (africastalking.Service.validate_phone)


def _transport(client: Any | None) -> Transport:
    return ClientTransport(client) if client is not None else HTTPTransport()


def inbound_call(
    url: str,
    phone: str,
    inputs: Iterable[str | None] = (),
    *,
    client: Any | None = None,
    check: bool = True,
    **options: Any,
) -> Call:
    """Ring `url` from `phone` and play the call to its end; CallFailed (with `.call`) if it went wrong.

    `options` are `Call`'s: destination, hang_up_after, missed, on_event, session_id.
    """
    return Call(url, phone, inputs, transport=_transport(client), **options).run(check=check)


@dataclass(frozen=True)
class Plan:
    """How a phone answers the service's outbound calls."""

    inputs: tuple[str | None, ...] = ()
    picked_up: bool = True
    hang_up_after: int | None = None


def _json(data: Any, status: int = 200) -> Response:
    # The SDK parses the body only when Content-Type is exactly "application/json".
    return Response(json.dumps(data), status=status, content_type="application/json")


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, content_type="text/plain")


class FakeVoice:
    """The voice API's state and WSGI app; `FakeVoice.running()` serves it from a thread."""

    def __init__(
        self,
        ring_url: str | None = None,
        username: str | None = None,
        api_key: str | None = None,
        ring_delay: float = 0.05,
        client: Any | None = None,
        on_activity: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.ring_url = ring_url
        self.username = username
        self.api_key = api_key
        self.ring_delay = ring_delay
        self.client = client
        # ("request", entry) per POST /call received, ("call", summary) per outbound call ended
        self.on_activity = on_activity
        self.root_url = ""
        self.lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._calls: list[Call] = []
        self._plans: dict[str, Plan] = {}
        self._fail: tuple[int, int] = (500, 0)
        self._threads: list[threading.Thread] = []
        self.closing = threading.Event()

    @property
    def base_url(self) -> str:
        """What to set a VoiceService's `_baseUrl` to."""
        return self.root_url

    def call(self, url: str, phone: str, inputs: Iterable[str | None] = (), **options: Any) -> Call:
        """An inbound call from `phone` to `url`, played now (see `inbound_call`); kept in `calls`."""
        options.setdefault("client", self.client)
        call = inbound_call(url, phone, inputs, **options)
        with self.lock:
            self._calls.append(call)
        return call

    def answer(self, phone: str, *inputs: str | None, picked_up: bool = True,
               hang_up_after: int | None = None) -> None:
        """How `phone` answers every outbound call from now: these inputs, or not at all."""
        for typed in inputs:
            if typed is not None and set(typed) - KEYS:
                raise ValueError(f"keys: a phone has only 0-9 * #, got {typed!r}")
        with self.lock:
            self._plans[phone] = Plan(tuple(inputs), picked_up, hang_up_after)

    def fail_next(self, status: int = 500, count: int = 1) -> None:
        """Answer the next `count` POST /call with HTTP `status`."""
        with self.lock:
            self._fail = (status, count)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of every POST /call received so far."""
        with self.lock:
            copy: list[dict[str, Any]] = json.loads(json.dumps(self._requests))
        return copy

    @property
    def calls(self) -> list[Call]:
        """Every call played so far: inbound ones from `call`, outbound ones once they ended."""
        with self.lock:
            return list(self._calls)

    def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[Call]:
        """The calls once `count` have ended, or those ended when `timeout` runs out."""
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.calls

    def reset(self) -> None:
        """Forget requests, calls, plans and faults."""
        with self.lock:
            self._requests, self._calls, self._plans, self._fail = [], [], {}, (500, 0)

    def close(self) -> None:
        """Stop ringing: calls not yet started are dropped, calls under way end."""
        self.closing.set()
        for thread in list(self._threads):
            thread.join(timeout=10)

    # -- HTTP --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """The WSGI entry point."""
        return self.dispatch(Request(environ))(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        route = (request.method, request.path.rstrip("/"))
        if route == ("POST", "/call"):
            return self.handle_call(request)
        if route == ("GET", "/_calls"):
            return _json(self.requests)
        return _text("Not Found", 404)

    def handle_call(self, request: Request) -> Response:
        """POST /call, as the SDK's VoiceService.call sends it: queue each callee, then ring them."""
        form = request.form
        with self.lock:
            status, count = self._fail
            if count > 0:
                self._fail = (status, count - 1)
        if count > 0:
            return self._refuse(form, status, "Internal Server Error" if status == 500 else "Error")
        for name in ("username", "from", "to"):
            if not form.get(name, "").strip():
                return self._refuse(form, 400, f"Request is missing required form field '{name}'")
        key = request.headers.get("apiKey", "")
        if not key:
            return self._refuse(form, 400, "Request is missing required header field 'apiKey'")
        if (self.username and form["username"] != self.username) or (self.api_key and key != self.api_key):
            return self._refuse(form, 401, "The supplied authentication is invalid")
        entries = [self._entry(n.strip()) for n in form["to"].split(",") if n.strip()]
        self._record(form, 200, entries=entries)
        for entry in entries:
            if entry["status"] == "Queued" and self.ring_url:
                self._ring(form["from"], entry)
        return _json({"entries": entries, "errorMessage": "None"})

    @staticmethod
    def _entry(number: str) -> dict[str, str]:
        if not _PHONE.match(number):
            return {"phoneNumber": number, "status": "InvalidPhoneNumber", "sessionId": "None"}
        return {"phoneNumber": number, "status": "Queued", "sessionId": f"ATVId_{uuid.uuid4().hex}"}

    def _refuse(self, form: Any, status: int, body: str) -> Response:
        self._record(form, status, error=body)
        return _text(body, status)

    def _record(self, form: Any, status: int, **fields: Any) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "http_status": status,
            "username": form.get("username"),
            "from": form.get("from"),
            "to": [n.strip() for n in form.get("to", "").split(",") if n.strip()],
            **fields,
        }
        with self.lock:
            self._requests.append(entry)
        if self.on_activity is not None:
            self.on_activity("request", entry)

    def _ring(self, line: str, entry: dict[str, str]) -> None:
        callee = entry["phoneNumber"]
        with self.lock:
            plan = self._plans.get(callee, Plan())
        assert self.ring_url is not None
        # AT's callerNumber is always the phone user's number, destinationNumber ours.
        call = Call(self.ring_url, callee, plan.inputs, destination=line, direction="Outbound",
                    session_id=entry["sessionId"], transport=_transport(self.client),
                    hang_up_after=plan.hang_up_after, picked_up=plan.picked_up)
        thread = threading.Thread(target=self._play, args=(call,), name="fake-voice-ring", daemon=True)
        with self.lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _play(self, call: Call) -> None:
        if self.closing.wait(self.ring_delay):
            return
        try:
            call.run(check=False)
        except Exception as exc:  # a ringing thread must not die unseen
            call.errors.append(f"{type(exc).__name__}: {exc}")
        with self.lock:
            self._calls.append(call)
        if self.on_activity is not None:
            self.on_activity("call", {"callerNumber": call.caller, "outcome": str(call.outcome),
                                   "said": call.said, "errors": call.errors})

    @classmethod
    @contextmanager
    def running(cls, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> Iterator[FakeVoice]:
        """Serve a FakeVoice from a background thread (an ephemeral port by default) for the block."""
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
