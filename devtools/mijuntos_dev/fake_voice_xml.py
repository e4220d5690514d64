"""The Africa's Talking Voice XML a callback answers, parsed strictly into the actions the stand-in runs.

A reply is `<Response>` holding actions, executed in order: `<Say>` (text read out), `<Play
url=...>` (an audio file fetched and played), `<GetDigits>` (its nested `<Say>`/`<Play>` prompts,
then the caller's keys, posted to its `callbackUrl`), `<Redirect>URL</Redirect>` (the call is
handed to URL's reply) and `<Reject/>`. Anything else, an unknown attribute, a missing URL or
a value AT would not take is a `VoiceXMLError`: the stand-in is there to catch what the live API
would choke on or quietly ignore. Dial, Record, Enqueue, Dequeue and Conference are AT actions
the stand-in does not play; they are refused by name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit

KEYS = frozenset("0123456789*#")
NOT_PLAYED = frozenset({"Dial", "Record", "Enqueue", "Dequeue", "Conference"})
DEFAULT_TIMEOUT = 30  # seconds, AT's default for GetDigits


class VoiceError(Exception):
    """What went wrong in a call the stand-in played (bad reply, failed callback, bad audio)."""


class VoiceXMLError(VoiceError):
    """A callback's reply that is not Voice XML the live API would run as meant."""


@dataclass(frozen=True)
class Say:
    text: str
    voice: str | None = None
    play_beep: bool = False


@dataclass(frozen=True)
class Play:
    url: str


@dataclass(frozen=True)
class GetDigits:
    prompts: tuple[Say | Play, ...]
    timeout: int = DEFAULT_TIMEOUT
    finish_on_key: str | None = None  # AT's default: none (then the first key pressed is sent)
    num_digits: int | None = None
    callback_url: str | None = None


@dataclass(frozen=True)
class Redirect:
    url: str


@dataclass(frozen=True)
class Reject:
    pass


Action = Say | Play | GetDigits | Redirect | Reject
ATTRIBUTES: dict[str, frozenset[str]] = {
    "Say": frozenset({"voice", "playBeep"}),
    "Play": frozenset({"url"}),
    "GetDigits": frozenset({"timeout", "finishOnKey", "numDigits", "callbackUrl"}),
    "Redirect": frozenset(),
    "Reject": frozenset(),
}


def _url(value: str | None, where: str) -> str:
    value = (value or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise VoiceXMLError(f"{where}: needs an absolute http(s) URL, got {value!r}")
    return value


def _positive(element: ET.Element, name: str) -> int | None:
    raw = element.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit() or int(raw) <= 0:
        raise VoiceXMLError(f"GetDigits {name}: must be a whole number above 0, got {raw!r}")
    return int(raw)


def _no_children(element: ET.Element) -> None:
    if len(element):
        raise VoiceXMLError(f"{element.tag}: may hold no elements, found <{element[0].tag}>")


def _check_attributes(element: ET.Element) -> None:
    unknown = sorted(set(element.attrib) - ATTRIBUTES[element.tag])
    if unknown:
        raise VoiceXMLError(f"{element.tag}: unknown attribute(s) {unknown} "
                            f"(known: {sorted(ATTRIBUTES[element.tag]) or 'none'})")


def _say(element: ET.Element) -> Say:
    _no_children(element)
    text = " ".join((element.text or "").split())
    if not text:
        raise VoiceXMLError("Say: has no text to read")
    beep = element.get("playBeep", "false")
    if beep not in ("true", "false"):
        raise VoiceXMLError(f"Say playBeep: must be true or false, got {beep!r}")
    return Say(text, element.get("voice"), beep == "true")


def _play(element: ET.Element) -> Play:
    _no_children(element)
    if (element.text or "").strip():
        raise VoiceXMLError("Play: the URL goes in its url attribute, not in its text")
    return Play(_url(element.get("url"), "Play url"))


def _get_digits(element: ET.Element) -> GetDigits:
    prompts: list[Say | Play] = []
    for child in element:
        if child.tag not in ("Say", "Play"):
            raise VoiceXMLError(f"GetDigits: may hold only Say and Play prompts, found <{child.tag}>")
        _check_attributes(child)
        prompts.append(_say(child) if child.tag == "Say" else _play(child))
    if (element.text or "").strip() or any((child.tail or "").strip() for child in element):
        raise VoiceXMLError("GetDigits: text outside a Say is never read")
    key = element.get("finishOnKey")
    if key is not None and (len(key) != 1 or key not in KEYS):
        raise VoiceXMLError(f"GetDigits finishOnKey: must be one key of 0-9 * #, got {key!r}")
    url = element.get("callbackUrl")
    return GetDigits(
        tuple(prompts),
        timeout=_positive(element, "timeout") or DEFAULT_TIMEOUT,
        finish_on_key=key,
        num_digits=_positive(element, "numDigits"),
        callback_url=None if url is None else _url(url, "GetDigits callbackUrl"),
    )


def _action(element: ET.Element) -> Action:
    if element.tag in NOT_PLAYED:
        raise VoiceXMLError(f"{element.tag}: an AT action the stand-in does not play")
    if element.tag not in ATTRIBUTES:
        raise VoiceXMLError(f"unknown element <{element.tag}> (AT knows Say, Play, GetDigits, "
                            "Dial, Record, Enqueue, Dequeue, Conference, Redirect, Reject)")
    _check_attributes(element)
    if element.tag == "Say":
        return _say(element)
    if element.tag == "Play":
        return _play(element)
    if element.tag == "GetDigits":
        return _get_digits(element)
    _no_children(element)
    if element.tag == "Redirect":
        return Redirect(_url(element.text, "Redirect"))
    if (element.text or "").strip():
        raise VoiceXMLError("Reject: takes no text")
    return Reject()


def parse_response(body: bytes | str) -> list[Action]:
    """The actions of one callback reply, in order; VoiceXMLError if it is not what AT runs."""
    raw = body.encode() if isinstance(body, str) else body
    if not raw.strip():
        raise VoiceXMLError("empty reply: expected <Response>...</Response>")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise VoiceXMLError(f"malformed XML: {exc}") from exc
    if root.tag != "Response":
        raise VoiceXMLError(f"the root element must be <Response>, got <{root.tag}>")
    if root.attrib:
        raise VoiceXMLError(f"Response: takes no attributes, got {sorted(root.attrib)}")
    if (root.text or "").strip() or any((child.tail or "").strip() for child in root):
        raise VoiceXMLError("Response: text outside a Say is never read")
    return [_action(child) for child in root]


def keys_sent(typed: str, action: GetDigits) -> str:
    """The dtmfDigits AT posts for what the caller keyed in, "" for none (a timeout).

    An input ends with the finish key (Enter in the terminal) when the action has one: "1"
    sends "1". Keys after the finish key or past numDigits are not sent. With neither, AT sends
    the first key pressed. With numDigits and no finish key, fewer keys than asked time out.
    """
    bad = sorted(set(typed) - KEYS)
    if bad:
        raise ValueError(f"keys: a phone has only 0-9 * #, got {''.join(bad)!r} in {typed!r}")
    if action.finish_on_key is None and action.num_digits is None:
        return typed[:1]
    if action.finish_on_key is not None:
        typed = typed.split(action.finish_on_key, 1)[0]
        return typed[: action.num_digits] if action.num_digits else typed
    assert action.num_digits is not None
    return typed[: action.num_digits] if len(typed) >= action.num_digits else ""
