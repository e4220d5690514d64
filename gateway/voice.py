"""POST /voice: Africa's Talking's Voice callbacks, the same dialog as USSD, spoken (docs/VOICE.md).

A call is a USSD session whose inputs come from the keypad: each `GetDigits` answer is one
input, the dialog (phone of record, or DNI then date of birth; lockouts and limits shared with
USSD and SMS) answers it exactly as `/ussd` does (nothing typed is kept, only the session's
state, as for USSD), and its reply is spoken
(dialogs/speech.py) as `<Play>` of the prompt files, or `<Say>` where a file is missing or the
text is a person's name. A screen that waits for an option takes one key (`*` is "00", the main
menu; `9` is "98", more); one that waits for a DNI, a date or a phone takes digits ended by `#`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from flask import Blueprint, Response, current_app, request

from core.keys import key_for
from core.privacy import mask_phone
from dialogs.screens import SCREENS
from dialogs.speech import ONE_KEY, Phrase, Prompt, SpeechIndex, required_prompts
from gateway.hops import UssdHop, normalize_phone
from gateway.metrics import VOICE
from gateway.prompts import PlayUrls
from gateway.services import Services
from gateway.ussd import HopDeadline, answer
from workers.api import queue_call_back

log = logging.getLogger("mijuntos.voice")
bp = Blueprint("voice", __name__)

CALL_TTL = 3600  # a call's keypad inputs, kept while it lasts
MENU_TIMEOUT, ENTRY_TIMEOUT = 10, 20  # seconds GetDigits waits
MAX_SILENCES = 2  # no key twice in a row: goodbye
_SESSION = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_DIGITS = re.compile(r"^[0-9*#]{0,32}$")


class PromptUrls(Protocol):
    """Where the provider fetches a prompt's audio; None: say it instead."""

    def phrase(self, lang: str, name: str) -> str | None: ...

    def text(self, lang: str, value: str) -> str | None: ...


class NoFiles:
    """No audio files: every prompt is said with the provider's voice."""

    def phrase(self, lang: str, name: str) -> str | None:
        return None

    def text(self, lang: str, value: str) -> str | None:
        return None


@dataclass
class Voice:
    """What the voice channel keeps per process: the speech index and the phrases' texts."""

    index: SpeechIndex
    said: dict[tuple[str, str], str]
    urls: PromptUrls = field(default_factory=NoFiles)

    @classmethod
    def build(cls, services: Services, urls: PromptUrls | None = None) -> Voice:
        catalog = services.catalog
        said = {(r.lang, r.name): r.text for r in required_prompts(catalog)}
        return cls(SpeechIndex(catalog), said, urls or NoFiles())

    def xml(self, prompts: list[Prompt]) -> str:
        """Prompts as AT's actions: `<Play>` of each file, `<Say>` of what has none."""
        out: list[str] = []
        saying: list[str] = []  # consecutive words said in one <Say>, as one sentence sounds

        def said() -> None:
            if saying:
                out.append(f'<Say voice="woman">{escape(" ".join(saying))}</Say>')
                saying.clear()

        for prompt in prompts:
            if isinstance(prompt, Phrase):
                url = self.urls.phrase(prompt.lang, prompt.name)
                words = self.said.get((prompt.lang, prompt.name), "")
            else:
                url = None if prompt.person else self.urls.text(prompt.lang, prompt.value)
                words = prompt.value
            if url is not None:
                said()
                out.append(f"<Play url={quoteattr(url)}/>")
            elif words:
                saying.append(words)
        said()
        return "".join(out)


def voice_of(services: Services) -> Voice:
    found = current_app.extensions.get("mijuntos_voice")
    if found is None:
        found = current_app.extensions["mijuntos_voice"] = Voice.build(services, PlayUrls())
    return found  # type: ignore[no-any-return]


@dataclass
class Call:
    """A call's progress (Redis, by the provider's sessionId): how many keys it has had and
    how many silences in a row. Never what was typed: a DNI or a date of birth is in no key."""

    steps: int = 0
    silences: int = 0

    @classmethod
    def load(cls, raw: bytes | str | None) -> Call:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(int(data.get("steps", 0)), int(data.get("silences", 0)))

    def dumps(self) -> str:
        return json.dumps({"steps": self.steps, "silences": self.silences})


def hop_text(step: int, typed: str) -> str:
    """The USSD text for a call's `step`-th key answer, `typed`: the dialog takes only its
    newest input once the text does not extend the last one (gateway/ussd.converse). The step
    number ahead of it makes each answer's text its own (so "0" then "0" are two inputs, not a
    resend), and the same text again is a resend, answered from the stored reply."""
    clean = typed.replace("*", "").replace("#", "") if len(typed) > 1 else typed
    return clean if step == 1 else f"{step}*{clean}"


def _field(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def _response(body: str, status: int = 200) -> Response:
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
                    status=status, mimetype="application/xml")


@bp.post("/voice")
def voice() -> Response:
    """One callback of a call: the next thing it says, or the end of it."""
    started = time.perf_counter()
    services: Services = current_app.extensions["mijuntos"]
    form = request.form
    session_id = _field(form, "sessionId")
    if not _SESSION.match(session_id):
        VOICE.labels("invalid").inc()
        return Response("bad request: sessionId missing or malformed", 400, mimetype="text/plain")
    outbound = _field(form, "direction").lower() == "outbound"
    # callerNumber is the phone user's in both directions; destinationNumber is the line's.
    phone = normalize_phone(_field(form, "callerNumber")[:32])
    if phone is None:
        VOICE.labels("invalid").inc()
        return Response("bad request: callerNumber is not a phone number", 400, mimetype="text/plain")
    digits = _field(form, "dtmfDigits")
    if not _DIGITS.match(digits):
        VOICE.labels("invalid").inc()
        return Response("bad request: dtmfDigits holds other than keys", 400, mimetype="text/plain")
    key = key_for("voice", session_id)
    if _field(form, "isActive") == "0":
        return _ended(services, key, session_id, phone, form)
    missed = services.settings.voice_missed_call_number
    if missed and not outbound and _field(form, "destinationNumber") == missed:
        return _missed(services, session_id, phone)
    try:
        # The keys of a GetDigits answer ("" for a bare #); None: no GetDigits answered this.
        typed = digits if "dtmfDigits" in form else None
        body = _step(services, key, session_id, phone, typed, request.args.get("timeout") == "1",
                     outbound)
    except Exception as exc:  # a caller never hears a crash, whatever broke
        if not isinstance(exc, HopDeadline):
            log.exception("voice callback failed session=%s phone=%s", session_id, mask_phone(phone))
        else:
            log.warning("voice callback over its deadline session=%s phone=%s", session_id,
                        mask_phone(phone))
        services.db.drop_read_connection()
        VOICE.labels("failed").inc()
        return _response(_sorry(services))
    VOICE.labels("answered").inc()
    log.debug("voice callback session=%s phone=%s ms=%.1f", session_id, mask_phone(phone),
              (time.perf_counter() - started) * 1000)
    return _response(body)


def _missed(services: Services, session_id: str, phone: str) -> Response:
    """The missed-call line: rejected (free for her), and called back once per phone an hour."""
    try:
        queued = queue_call_back(services.redis, services.queue, services.settings, phone)
    except Exception:
        log.exception("missed call: the call back could not be queued session=%s phone=%s",
                      session_id, mask_phone(phone))
        queued = False
    VOICE.labels("missed").inc()
    log.info("missed call session=%s phone=%s call back %s", session_id, mask_phone(phone),
             "queued" if queued else "not queued (one an hour)")
    return _response("<Reject/>")


def _sorry(services: Services) -> str:
    """The spoken "service unavailable": said by the provider's voice, nothing of ours needed."""
    text = services.catalog.text("es", "service_down", helpline=services.settings.helpline)
    return f'<Say voice="woman">{escape(text)}</Say>'


def _ended(services: Services, key: str, session_id: str, phone: str,
           form: Mapping[str, str]) -> Response:
    """The final notification: the call is over (logged and counted; its inputs forgotten)."""
    try:
        services.redis.delete(key)
    except Exception:
        log.warning("voice call ended: its inputs could not be deleted (they expire)")
    VOICE.labels("ended").inc()
    log.info("voice call ended session=%s phone=%s seconds=%s cost=%s %s", session_id,
             mask_phone(phone), _field(form, "durationInSeconds") or "-",
             _field(form, "amount") or "-", _field(form, "currencyCode") or "")
    return _response("")


def _step(services: Services, key: str, session_id: str, phone: str, typed: str | None,
          timed_out: bool, outbound: bool) -> str:
    voice = voice_of(services)
    call = Call.load(services.redis.get(key))
    lead: list[Prompt] = []
    stored = services.store.load(f"voice-{session_id}")
    if timed_out or (typed is None and call.steps and stored is not None):
        # No key (or the first callback posted again): the same screen, from its stored reply.
        if timed_out:
            call.silences += 1
        lang = stored.state.lang if stored is not None else "es"
        if call.silences >= MAX_SILENCES or stored is None:
            services.redis.delete(key)
            return voice.xml(voice.index.say(lang, "voice_goodbye"))
        wire, screen = stored.reply, stored.state.screen
    else:
        text = ""
        if typed is not None:
            keys = typed.rstrip("#")
            call.steps += 1
            call.silences = 0
            text = hop_text(call.steps, ONE_KEY.get(keys, keys) if len(keys) == 1 else keys)
        hop = UssdHop(session_id=f"voice-{session_id}", service_code="voice", phone=phone,
                      network_code="", text=text)
        wire, screen = answer(services, hop, channel="voice")
        lang = _lang_of(services, session_id)  # the state the hop just stored
    if timed_out:
        lead = voice.index.say(lang, "voice_no_input")
    elif outbound and not call.steps:  # a missed call called back: she hears who calls first
        lead = voice.index.say(lang, "voice_call_back")
    services.redis.set(key, call.dumps(), ex=CALL_TTL)
    spoken = voice.xml(lead + voice.index.speak(lang, wire[4:]))
    if wire.startswith("END"):
        return spoken  # the call ends once it is said
    accepts = SCREENS[screen].accepts if screen in SCREENS else None
    url = _callback_url()
    if accepts is not None:
        gather = (f'<GetDigits timeout="{ENTRY_TIMEOUT}" finishOnKey="#" '
                  f"callbackUrl={quoteattr(url)}>")
    else:
        gather = (f'<GetDigits timeout="{MENU_TIMEOUT}" numDigits="1" finishOnKey="#" '
                  f"callbackUrl={quoteattr(url)}>")
    redirect = f"<Redirect>{escape(_callback_url(timeout=True))}</Redirect>"
    return f"{gather}{spoken}</GetDigits>{redirect}"


def _lang_of(services: Services, session_id: str) -> str:
    """The language the call's dialog speaks now (Spanish before it knows the household)."""
    stored = services.store.load(f"voice-{session_id}")
    return stored.state.lang if stored is not None else "es"


def _callback_url(*, timeout: bool = False) -> str:
    """This endpoint's URL for the provider (the callback key kept), `timeout=1` after a
    GetDigits that got no key."""
    base = request.base_url
    params = {k: v for k, v in request.args.items() if k != "timeout"}
    if timeout:
        params["timeout"] = "1"
    return f"{base}?{urlencode(params)}" if params else base

