"""A tiny IVR in Flask for the stand-in voice provider's tests: two GetDigits, Play prompts it serves.

It answers Africa's Talking's voice callbacks the way a service would: a welcome and a DNI
request (8 keys and #), then a one-key menu. Some DNIs make it misbehave on purpose (malformed
XML, an element AT does not know, HTTP 500, audio it cannot serve or of another rate).
"""

from __future__ import annotations

import io
import math
import struct
import threading
import wave
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, abort, request
from werkzeug.serving import make_server

KEY = "s3cret"
CALLER = "+51987654321"
REJECTED_CALLER = "+51900000000"  # the IVR rejects her calls (a missed call it would ring back)
WELCOME = "Bienvenido a Mi Juntos"
ASK_DNI = "Marque su DNI y numeral."
NO_DNI = "No recibimos su DNI. Adios."
MENU = "Para su próximo pago, marque 1"  # sent as UTF-8 bytes in the header
NEXT_PAYMENT = "Su proximo pago es el 12 de mayo."
CALLING_BACK = "Le llamamos de Mi Juntos. Marque 1 para su pago."


def tone(seconds: float, rate: int = 8000, hz: int = 440) -> bytes:
    """A 16-bit mono WAV file of a sine tone."""
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
                      for i in range(int(seconds * rate)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


# name -> (the file, its X-Prompt-Text or None)
PROMPTS: dict[str, tuple[bytes, str | None]] = {
    "welcome.wav": (tone(0.5), WELCOME),
    "menu.wav": (tone(0.25, hz=660), MENU),
    "date.wav": (tone(0.75, hz=550), None),
    "wide.wav": (tone(0.5, rate=16000), "Otro formato"),
}


def _xml(body: str) -> Response:
    return Response(f'<?xml version="1.0" encoding="UTF-8"?>\n<Response>{body}</Response>',
                    content_type="application/xml")


def _url(path: str, key: bool = True) -> str:
    return request.host_url.rstrip("/") + path + (f"?key={KEY}" if key else "")


def _menu(digit: str) -> Response:
    if digit == "1":
        return _xml(f'<Play url="{_url("/prompts/es/date.wav", key=False)}"/><Say>{NEXT_PAYMENT}</Say>')
    if digit == "9":
        return _xml(f"<Redirect>{_url('/voice/again')}</Redirect>")
    return _xml("<Say>Opcion no valida.</Say>")


def ivr_app() -> Flask:
    """The IVR; `app.config["FINALS"]` collects the final notifications it got."""
    app = Flask("tiny_ivr")
    finals: list[dict[str, str]] = []
    app.config["FINALS"] = finals

    @app.before_request
    def guard() -> None:
        if request.path.startswith("/voice") and request.args.get("key") != KEY:
            abort(403)

    @app.post("/voice")
    def voice() -> Response:
        form = request.form
        if form["isActive"] == "0":
            finals.append(dict(form))
            return Response("", content_type="text/plain")
        if "dtmfDigits" in form:  # the menu's GetDigits has no callbackUrl: it comes back here
            return _menu(form["dtmfDigits"])
        if form["callerNumber"] == REJECTED_CALLER:
            return _xml("<Reject/>")
        if form["direction"] == "Outbound":
            return _xml(f'<GetDigits numDigits="1" callbackUrl="{_url("/voice/dni")}">'
                        f"<Say>{CALLING_BACK}</Say></GetDigits>")
        return _xml(f'<GetDigits timeout="5" finishOnKey="#" numDigits="8" '
                    f'callbackUrl="{_url("/voice/dni")}">'
                    f'<Play url="{_url("/prompts/es/welcome.wav", key=False)}"/>'
                    f'<Say voice="woman">{ASK_DNI}</Say></GetDigits><Say>{NO_DNI}</Say>')

    @app.post("/voice/dni")
    def dni() -> Response:
        digits = request.form["dtmfDigits"]
        if request.form["direction"] == "Outbound":
            return _menu(digits)
        if digits == "00000000":
            return _xml("<Reject/>")
        if digits == "11111111":
            return Response("<Response><Say>hola</Response>", content_type="application/xml")
        if digits == "22222222":
            return _xml("<Speak>hola</Speak>")
        if digits == "33333333":
            return Response("boom", status=500)
        if digits in ("44444444", "55555555", "66666666"):
            name = {"44444444": "wide.wav", "55555555": "missing.wav", "66666666": "text.wav"}[digits]
            return _xml(f'<Play url="{_url("/prompts/es/" + name, key=False)}"/>')
        return _xml(f'<GetDigits finishOnKey="#" numDigits="1">'
                    f'<Play url="{_url("/prompts/es/menu.wav", key=False)}"/></GetDigits><Say>Adios.</Say>')

    @app.post("/voice/again")
    def again() -> Response:
        if "dtmfDigits" in request.form:  # no callbackUrl after a Redirect: the redirected URL
            return _xml("<Say>Desde el desvio.</Say>")
        return _xml('<Say>Otra vez.</Say><GetDigits numDigits="1"><Say>Marque una tecla.</Say></GetDigits>')

    @app.get("/prompts/<lang>/<name>")
    def prompt(lang: str, name: str) -> Response:
        if name == "text.wav":
            return Response("not audio", content_type="text/plain")
        if name not in PROMPTS:
            abort(404)
        body, text = PROMPTS[name]
        response = Response(body, content_type="audio/wav")
        if text is not None:
            # A header is Latin-1 on the wire: UTF-8 text goes as its bytes.
            response.headers["X-Prompt-Text"] = text.encode("utf-8").decode("latin-1")
        return response

    return app


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """Serve `app` on an ephemeral port for the block; its root URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
