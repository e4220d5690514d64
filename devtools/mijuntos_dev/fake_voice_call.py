"""One voice call as Africa's Talking plays it against a service's callback URL, with a transcript.

AT posts the callback when the call comes in (`isActive=1`), runs the reply's actions in order
and posts again whenever the caller keys digits in (`dtmfDigits`, to the GetDigits' callbackUrl,
else the current URL) or a Redirect hands the call on: each such reply replaces whatever was
left of the previous one. A GetDigits that gets no keys goes on with the actions after it. When
the actions run out the call ends, and AT posts its final notification (`isActive=0`, with the
duration and cost) to the number's URL. Duration is the stand-in's own clock, not wall time: a
Say lasts by its words, a Play by its audio, a key half a second, a timeout its seconds.
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mijuntos_dev.fake_voice_http import HTTPTransport, Transport, Unreachable, prompt_text, where
from mijuntos_dev.fake_voice_wav import WAV_TYPES, wav_seconds, write_wav
from mijuntos_dev.fake_voice_xml import (
    Action,
    GetDigits,
    Play,
    Redirect,
    Reject,
    Say,
    VoiceError,
    keys_sent,
    parse_response,
)

DESTINATION = "+511880"  # the stand-in's number for the 1880 line
CURRENCY = "PEN"
PRICE_PER_MINUTE = Decimal("0.0800")  # the stand-in's price per started minute of an answered call
SECONDS_PER_WORD = 0.4
SECONDS_PER_KEY = 0.5
MAX_CALLBACKS = 50  # more in one call is a loop (a Redirect to itself, a menu re-asked forever)


class Outcome(StrEnum):
    COMPLETED = "completed"  # the service's actions ran out: it hung up
    CALLER_HUNG_UP = "caller hung up"
    REJECTED = "rejected"
    MISSED = "missed"  # the caller hung up while it rang
    NOT_ANSWERED = "not answered"  # an outbound call nobody picked up
    FAILED = "failed"  # a bad reply, callback or prompt: see Call.errors


HANGUP_CAUSE = {
    Outcome.COMPLETED: "NORMAL_CLEARING",
    Outcome.CALLER_HUNG_UP: "NORMAL_CLEARING",
    Outcome.REJECTED: "CALL_REJECTED",
    Outcome.MISSED: "ORIGINATOR_CANCEL",
    Outcome.NOT_ANSWERED: "NO_ANSWER",
    Outcome.FAILED: "NORMAL_TEMPORARY_FAILURE",
}


@dataclass(frozen=True)
class Post:
    """One callback the stand-in posted: where, the form, the HTTP status (0: unreachable), the reply."""

    url: str
    form: dict[str, str]
    status: int
    body: bytes


@dataclass(frozen=True)
class Prompt:
    """One thing the caller heard: a Say's text, or a Play's audio (and its X-Prompt-Text)."""

    kind: str  # "say" or "play"
    text: str | None  # Say: its text; Play: the X-Prompt-Text header, None without one
    url: str | None = None
    voice: str | None = None
    audio: bytes | None = None
    seconds: float = 0.0

    @property
    def file(self) -> str:
        """A Play's file name, the last part of its URL's path ("" for a Say)."""
        return unquote(urlsplit(self.url or "").path.rstrip("/").rsplit("/", 1)[-1])

    @property
    def label(self) -> str:
        """The words, else the played file's name."""
        return self.text if self.text is not None else self.file


@dataclass(frozen=True)
class Keys:
    """The caller's answer to one GetDigits: what was keyed in, and the dtmfDigits sent ("": timeout)."""

    typed: str | None
    sent: str
    timeout: int


@dataclass
class Step:
    """One callback and what its reply made the caller hear, up to the keys that ended it."""

    post: Post
    prompts: list[Prompt] = field(default_factory=list)
    keys: Keys | None = None


class CallFailed(VoiceError):
    """The call went wrong on the service's side; `.call` holds the transcript up to there."""

    def __init__(self, call: Call) -> None:
        super().__init__("; ".join(call.errors))
        self.call = call


class _HungUp(Exception):
    pass


class Call:
    """One call: `Call(url, phone, inputs=["12345678", None, "1"]).run()`, then its transcript.

    Each input answers one GetDigits: the keys (the finish key is pressed after them), or None
    for a caller who keys nothing (the GetDigits times out). When the inputs run out at a
    GetDigits the caller hangs up, so does she after `hang_up_after` prompts. `missed`: she
    hangs up while it rings (the service may reject it first). `picked_up=False`: an outbound
    call nobody answers (only the final notification is posted).
    """

    def __init__(
        self,
        url: str,
        caller: str,
        inputs: Iterable[str | None] = (),
        *,
        destination: str = DESTINATION,
        direction: str = "Inbound",
        session_id: str | None = None,
        transport: Transport | None = None,
        hang_up_after: int | None = None,
        missed: bool = False,
        picked_up: bool = True,
        on_event: Callable[[Prompt | Keys], None] | None = None,
        max_callbacks: int = MAX_CALLBACKS,
    ) -> None:
        self.url = url
        self.caller = caller
        self.destination = destination
        self.direction = direction
        self.session_id = session_id or f"ATVId_{uuid.uuid4().hex}"
        self.transport: Transport = transport or HTTPTransport()
        self.hang_up_after = hang_up_after
        self.missed = missed
        self.picked_up = picked_up
        self.on_event = on_event
        self.max_callbacks = max_callbacks
        self._inputs: Iterator[str | None] = iter(inputs)
        self.steps: list[Step] = []
        self.posts: list[Post] = []
        self.fetches: list[tuple[str, int]] = []  # every Play URL fetched and its HTTP status
        self.errors: list[str] = []
        self.outcome: Outcome | None = None
        self.answered = False
        self.seconds = 0.0

    # -- the transcript -------------------------------------------------------------------

    @property
    def prompts(self) -> list[Prompt]:
        """Everything heard, in order."""
        return [p for step in self.steps for p in step.prompts]

    @property
    def said(self) -> list[str]:
        """The words heard, in order (a Play without X-Prompt-Text: its file name)."""
        return [p.label for p in self.prompts]

    @property
    def digits(self) -> list[str]:
        """Every dtmfDigits posted, in order."""
        return [p.form["dtmfDigits"] for p in self.posts if "dtmfDigits" in p.form]

    @property
    def audio(self) -> list[bytes]:
        """Every played file's bytes, in order."""
        return [p.audio for p in self.prompts if p.audio is not None]

    @property
    def final(self) -> dict[str, str]:
        """The final notification's form (isActive=0); {} before the call ended."""
        last = self.posts[-1] if self.posts else None
        return dict(last.form) if last and last.form["isActive"] == "0" else {}

    @property
    def duration(self) -> int:
        """durationInSeconds: whole seconds from the answer, 0 for a call never answered."""
        return math.ceil(self.seconds) if self.answered else 0

    @property
    def amount(self) -> Decimal:
        return PRICE_PER_MINUTE * math.ceil(self.duration / 60)

    def write_wav(self, path: Path | str) -> float:
        """Every played file, in order, into one WAV at `path`; its seconds (VoiceError: formats differ)."""
        return write_wav(path, [(p.file, p.audio) for p in self.prompts if p.audio is not None])

    # -- playing it -------------------------------------------------------------------------

    def run(self, check: bool = True) -> Call:
        """Ring, play the call to its end, post the final notification; CallFailed on errors if `check`."""
        if self.outcome is not None:
            raise RuntimeError("a Call runs once: make another")
        try:
            self.outcome = self._play()
        except VoiceError as exc:
            self.errors.append(str(exc))
            self.outcome = Outcome.FAILED
        self._hang_up()
        if check and self.errors:
            raise CallFailed(self)
        return self

    def _form(self, active: bool) -> dict[str, str]:
        return {
            "isActive": "1" if active else "0",
            "sessionId": self.session_id,
            "direction": self.direction,
            "callerNumber": self.caller,
            "destinationNumber": self.destination,
        }

    def _post(self, url: str, form: dict[str, str]) -> Post:
        try:
            answer = self.transport.post(url, form)
            post = Post(url, form, answer.status, answer.body)
        except Unreachable:
            self.posts.append(Post(url, form, 0, b""))
            raise
        self.posts.append(post)
        return post

    def _callback(self, url: str, extra: dict[str, str] | None = None) -> deque[Action]:
        if len(self.steps) >= self.max_callbacks:
            raise VoiceError(f"more than {self.max_callbacks} callbacks in one call: a loop?")
        post = self._post(url, self._form(True) | (extra or {}))
        self.steps.append(Step(post))
        if post.status != 200:
            raise VoiceError(f"callback {where(url)}: HTTP {post.status}, expected 200")
        return deque(parse_response(post.body))

    def _play(self) -> Outcome:
        if not self.picked_up:
            return Outcome.NOT_ANSWERED
        actions = self._callback(self.url)
        if self.missed:
            return Outcome.REJECTED if actions and isinstance(actions[0], Reject) else Outcome.MISSED
        current = self.url
        try:
            while True:
                self._still_listening()
                if not actions:
                    return Outcome.COMPLETED
                action = actions.popleft()
                if isinstance(action, Reject):
                    return Outcome.REJECTED
                self.answered = True
                if isinstance(action, Say | Play):
                    self._hear(action)
                elif isinstance(action, Redirect):
                    current = action.url
                    actions = self._callback(current)
                else:
                    sent = self._get_digits(action)
                    if sent:
                        actions = self._callback(action.callback_url or current, {"dtmfDigits": sent})
        except _HungUp:
            return Outcome.CALLER_HUNG_UP

    def _still_listening(self) -> None:
        if self.hang_up_after is not None and len(self.prompts) >= self.hang_up_after:
            raise _HungUp

    def _hear(self, action: Say | Play) -> None:
        if isinstance(action, Say):
            prompt = Prompt("say", action.text, voice=action.voice,
                            seconds=max(1, len(action.text.split())) * SECONDS_PER_WORD)
        else:
            prompt = self._fetch(action.url)
        self.steps[-1].prompts.append(prompt)
        self.seconds += prompt.seconds
        if self.on_event is not None:
            self.on_event(prompt)
        self._still_listening()

    def _fetch(self, url: str) -> Prompt:
        answer = self.transport.get(url)
        self.fetches.append((url, answer.status))
        if answer.status != 200:
            raise VoiceError(f"Play {where(url)}: HTTP {answer.status}, expected 200")
        if answer.content_type not in WAV_TYPES:
            raise VoiceError(f"Play {where(url)}: Content-Type {answer.content_type or 'none'!r}, "
                             "expected audio/wav")
        try:
            seconds = wav_seconds(answer.body)
        except VoiceError as exc:
            raise VoiceError(f"Play {where(url)}: {exc}") from exc
        text = prompt_text(answer.headers.get("x-prompt-text"))
        return Prompt("play", text, url=url, audio=answer.body, seconds=seconds)

    def _get_digits(self, action: GetDigits) -> str:
        for prompt in action.prompts:
            self._hear(prompt)
        try:
            typed = next(self._inputs)
        except StopIteration:
            raise _HungUp from None
        sent = keys_sent(typed or "", action)
        self.seconds += SECONDS_PER_KEY * len(typed or "") + (0 if sent else action.timeout)
        keys = Keys(typed, sent, action.timeout)
        self.steps[-1].keys = keys
        if self.on_event is not None:
            self.on_event(keys)
        return sent

    def _hang_up(self) -> None:
        assert self.outcome is not None
        form = self._form(False) | {
            "durationInSeconds": str(self.duration),
            "currencyCode": CURRENCY,
            "amount": f"{self.amount:.4f}",
            "hangupCause": HANGUP_CAUSE[self.outcome],
        }
        try:
            post = self._post(self.url, form)
        except Unreachable as exc:
            self.errors.append(f"final notification: {exc}")
            return
        if post.status != 200:
            self.errors.append(f"final notification {where(self.url)}: HTTP {post.status}, expected 200")
