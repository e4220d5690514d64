"""The cache of dynamic text: a pay point's name or an address said in a language's voice,
synthesized once and kept as `<lang>/cache/<digest>.wav` (and `.txt`, the text) under the prompts
folder, for `<Play>` (docs/VOICE.md, "Audio prompts").

Public texts only: the files are served to anyone with the URL, without a key. Place names and
addresses, never a person's name, a DNI, a date of birth, an amount or a reason.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

from core.prompt_audio import (
    PromptError,
    SynthesisError,
    Synthesizer,
    Voice,
    check_lang,
    inside,
    write_atomic,
)
from dialogs.texts import LANGUAGES

log = logging.getLogger("mijuntos.prompts")

DIGEST = re.compile(r"[0-9a-f]{32}")
CACHE = "cache"
# The bounds: a text longer than this is not synthesized (the caller says it otherwise), and past
# this many files per language the least recently used tenth is removed.
CACHE_MAX_CHARS = 120
CACHE_MAX_FILES = 5000


class PromptCache:
    """Files of dynamic text per language, named by a digest of language, voice and text."""

    def __init__(self, root: Path, synthesizer: Synthesizer | None, voices: dict[str, Voice]) -> None:
        self.root = Path(root)
        self.synthesizer = synthesizer
        self.voices = voices

    def _synthesize(self, lang: str, text: str) -> bytes:
        if self.synthesizer is None:
            raise SynthesisError("no synthesizer: espeak-ng is not installed (apt-get install espeak-ng)")
        return self.synthesizer.synthesize(self.voices[lang], text)

    def digest(self, lang: str, text: str) -> str:
        """The cache file's name for `text` said in `lang`'s voice."""
        key = f"{check_lang(lang)}\0{self.voices[lang].key}\0{text}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def path(self, lang: str, digest: str) -> Path | None:
        """A cached file by its digest, if it is there (None for anything not a digest)."""
        if lang not in LANGUAGES or not DIGEST.fullmatch(digest):
            return None
        try:
            path = inside(self.root, self.root / lang / CACHE / f"{digest}.wav")
        except PromptError:
            return None
        return path if path.is_file() else None

    def text(self, lang: str, digest: str) -> str | None:
        """The text a cached file says."""
        path = self.path(lang, digest)
        if path is None:
            return None
        try:
            return path.with_suffix(".txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def get(self, lang: str, text: str) -> Path | None:
        """`text` said in `lang`'s voice, synthesized once and kept under `<lang>/cache/`.

        Only for texts that may be public: place names and addresses, never a DNI, a date of
        birth or an amount (the files are served without a key). None (say it otherwise, or
        leave it out) for an empty text, one over CACHE_MAX_CHARS characters, or when the
        synthesizer is missing or fails (logged).
        """
        digest = self.digest(lang, text)
        if not text.strip() or len(text) > CACHE_MAX_CHARS:
            return None
        path = self.path(lang, digest)
        if path is not None:
            try:
                os.utime(path)  # recently used: the last to go when the cache is trimmed
            except OSError:  # made by another user (a warm-up as root): kept as it is
                pass
            return path
        try:
            data = self._synthesize(lang, text)
        except SynthesisError as exc:
            log.warning("prompt cache lang=%s digest=%s not made: %s", lang, digest, exc)
            return None
        folder = inside(self.root, self.root / lang / CACHE)
        write_atomic(folder / f"{digest}.txt", text.encode())
        write_atomic(folder / f"{digest}.wav", data)
        self._trim(folder)
        return folder / f"{digest}.wav"

    def _trim(self, folder: Path) -> None:
        files = list(folder.glob("*.wav"))
        if len(files) <= CACHE_MAX_FILES:
            return
        by_age = sorted(files, key=_used)
        gone = by_age[: len(files) - CACHE_MAX_FILES * 9 // 10]
        for path in gone:
            path.unlink(missing_ok=True)
            path.with_suffix(".txt").unlink(missing_ok=True)
        log.info("prompt cache %s trimmed: %d files removed", folder, len(gone))


def _used(path: Path) -> int:
    """When a cached file was last used; 0 if another process removed it meanwhile."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0
