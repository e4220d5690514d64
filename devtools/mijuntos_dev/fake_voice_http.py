"""How the stand-in voice provider reaches a service: real HTTP, or a Flask test client in-process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from mijuntos_dev.fake_voice_xml import VoiceError


def where(url: str) -> str:
    """A URL without its query, so a `?key=` secret never reaches a message or a log line."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def prompt_text(raw: str | None) -> str | None:
    """An X-Prompt-Text header's words, UTF-8 or Latin-1."""
    # WSGI servers send header values as Latin-1: a service that wants UTF-8 text sends its
    # bytes, which arrive here as Latin-1 characters.
    if raw is None:
        return None
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, media type without parameters, lower-cased headers, body."""

    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes


class Unreachable(VoiceError):
    """A URL that could not be reached at all."""


class Transport(Protocol):
    def post(self, url: str, form: dict[str, str]) -> Answer: ...

    def get(self, url: str) -> Answer: ...


class HTTPTransport:
    """Over real HTTP (requests), as AT reaches a service."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.session = requests.Session()

    def _answer(self, response: requests.Response) -> Answer:
        media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        headers = {k.lower(): v for k, v in response.headers.items()}
        return Answer(response.status_code, media, headers, response.content)

    def post(self, url: str, form: dict[str, str]) -> Answer:
        try:
            return self._answer(self.session.post(url, data=form, timeout=self.timeout))
        except requests.RequestException as exc:
            raise Unreachable(f"could not reach {where(url)}: {type(exc).__name__}") from exc

    def get(self, url: str) -> Answer:
        try:
            return self._answer(self.session.get(url, timeout=self.timeout))
        except requests.RequestException as exc:
            raise Unreachable(f"could not reach {where(url)}: {type(exc).__name__}") from exc


class ClientTransport:
    """Through a Flask/werkzeug test client: the service in-process, no port; hosts are ignored."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @staticmethod
    def _target(url: str) -> str:
        parts = urlsplit(url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @staticmethod
    def _answer(response: Any) -> Answer:
        headers = {str(k).lower(): str(v) for k, v in response.headers.items()}
        return Answer(response.status_code, (response.mimetype or "").lower(), headers,
                      response.get_data())

    def post(self, url: str, form: dict[str, str]) -> Answer:
        return self._answer(self.client.post(self._target(url), data=form))

    def get(self, url: str) -> Answer:
        return self._answer(self.client.get(self._target(url)))


