"""GET /voice/prompts/<lang>/<name>.wav and /voice/prompts/<lang>/cache/<digest>.wav: the audio
the voice line's `<Play url=...>` points at (docs/VOICE.md, "Audio prompts").

No callback key: the provider fetches these as any client would. Nothing private is served: a
phrase is a catalog text, and a cached file is a place name or an address
(core/prompt_cache.py), never a DNI, a date of birth or an amount. Each answer carries the text
it says in `X-Prompt-Text` (its UTF-8 bytes, as the stand-in provider reads it; ASCII text as it
is: core.prompt_audio.header_text), absent for a recording no phrase of the catalog names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, send_file, url_for

from core.prompt_audio import PromptError, header_text
from core.prompts import PromptStore
from dialogs.speech import Required
from gateway.http import plain

log = logging.getLogger("mijuntos.prompts")
bp = Blueprint("prompts", __name__)
EXTENSION = "mijuntos.prompts"
TEXT_HEADER = "X-Prompt-Text"
# A phrase may be replaced by a recording: a day's caching, then the provider asks again (its
# ETag answers 304 if nothing changed). A cached file is named by its content: it never changes.
PHRASE_MAX_AGE = 24 * 3600
CACHED_MAX_AGE = 365 * 24 * 3600


class PromptFiles:
    """The store the routes serve, and the phrases the catalog requires (read once, on first use:
    a recording's text comes from them)."""

    def __init__(self, store: PromptStore, required: Callable[[], Sequence[Required]]) -> None:
        self.store = store
        self.required = required
        self._required: Sequence[Required] | None = None

    def required_list(self) -> Sequence[Required]:
        if self._required is None:
            try:
                self._required = list(self.required())
            except Exception:  # the audio still plays; only its text header is left out
                log.exception("required prompts unknown: X-Prompt-Text left out of recordings")
                return ()
        return self._required

    def text_of(self, lang: str, name: str) -> str | None:
        """What the phrase's file says: the manifest's text for a synthetic one, the catalog's
        for a recording (None if no phrase names it). A broken manifest: None, and logged."""
        try:
            made = self.store.made(lang, name)
        except PromptError as exc:
            log.error("prompt %s/%s: text unknown: %s", lang, name, exc)
            return None
        if made is not None:
            return made.text
        return next((r.text for r in self.required_list() if (r.lang, r.name) == (lang, name)), None)


def install(app: Flask, files: PromptFiles) -> None:
    """Serve `files` from `app` (the blueprint is registered beside the others)."""
    app.extensions[EXTENSION] = files


def _files() -> PromptFiles:
    files: PromptFiles = current_app.extensions[EXTENSION]
    return files


def _audio(path: Path, text: str | None, max_age: int) -> Response:
    response = send_file(path, mimetype="audio/wav", max_age=max_age, conditional=True, etag=True)
    response.cache_control.public = True
    if text is not None:
        response.headers[TEXT_HEADER] = header_text(text)
    return response


@bp.get("/voice/prompts/<lang>/<name>.wav")
def phrase(lang: str, name: str) -> Response:
    """A fixed phrase's file, synthetic or recorded."""
    files = _files()
    path = files.store.find(lang, name)
    if path is None:
        return plain("not found", 404)
    return _audio(path, files.text_of(lang, name), PHRASE_MAX_AGE)


@bp.get("/voice/prompts/<lang>/cache/<digest>.wav")
def cached(lang: str, digest: str) -> Response:
    """A dynamic text's file, made by `PromptStore.cached`."""
    store = _files().store
    path = store.cache.path(lang, digest)
    if path is None:
        return plain("not found", 404)
    response = _audio(path, store.cache.text(lang, digest), CACHED_MAX_AGE)
    response.cache_control.immutable = True
    return response


class PlayUrls:
    """Where the provider fetches a prompt's audio, for `<Play url=...>` (gateway/voice.py's
    `PromptUrls`); None: there is no file, say it instead. Called inside a request."""

    def phrase(self, lang: str, name: str) -> str | None:
        """The phrase's file, if there is one (synthetic or recorded)."""
        return phrase_url(lang, name) if _files().store.find(lang, name) is not None else None

    def text(self, lang: str, value: str) -> str | None:
        """A file of `value` said in `lang`'s voice, synthesized on first use (espeak-ng) and
        cached; only a place name or an address, never a person's name, a DNI, a date of birth
        or an amount (the files are public)."""
        path = _files().store.cached(lang, value)
        return cached_url(lang, path) if path is not None else None


def phrase_url(lang: str, name: str) -> str:
    """The absolute URL of a phrase's file, for `<Play url=...>` (inside a request)."""
    return url_for("prompts.phrase", lang=lang, name=name, _external=True)


def cached_url(lang: str, path: Path) -> str:
    """The absolute URL of a file `PromptStore.cached` made."""
    return url_for("prompts.cached", lang=lang, digest=path.stem, _external=True)
