"""What every prompt file shares: the languages' voices, the one WAV format, the synthesizer's
interface, and how a file is written, checked and described (core/prompts.py, core/prompt_cache.py)."""

from __future__ import annotations

import os
import re
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dialogs.texts import LANGUAGES

# Every file in one format, so a call's prompts can be joined into one WAV: espeak-ng's own.
SAMPLE_RATE, SAMPLE_WIDTH, CHANNELS = 22050, 2, 1
AYMARA_STAND_IN = "ay uses the Quechua voice as a stand-in"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PromptError(ValueError):
    """A language, name or file the prompts folder refuses, or one it cannot read."""


class SynthesisError(PromptError):
    """The synthesizer is missing or failed."""


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice and speed; `stand_in` says why it is not the language's own."""

    espeak: str
    speed: int = 150  # words per minute (espeak-ng's default, 175, is quick for a phone line)
    stand_in: str | None = None

    @property
    def key(self) -> str:
        """What the manifest and the cache's digests record of the voice."""
        return f"espeak-ng:{self.espeak}:{self.speed}"


# Debian's espeak-ng has es-419 and qu; Aymara has no voice of its own there.
VOICES: dict[str, Voice] = {
    "es": Voice("es-419"),
    "qu": Voice("qu"),
    "ay": Voice("qu", stand_in=AYMARA_STAND_IN),
}


class Synthesizer(Protocol):
    def synthesize(self, voice: Voice, text: str) -> bytes:
        """A WAV file's bytes in the house format (16-bit mono, SAMPLE_RATE); SynthesisError if not."""
        ...


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise PromptError(f"lang: must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return lang


def header_text(text: str) -> str:
    """`text` as an HTTP header's value: its UTF-8 bytes (a header is Latin-1 on the wire, so
    ASCII text goes as it is), control characters (a line break) as spaces."""
    return CONTROL.sub(" ", text).encode("utf-8").decode("latin-1")


def text_from_header(value: str) -> str:
    """The text `header_text` sent (a Latin-1 header's text, if not UTF-8)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def wav_problem(path: Path) -> str | None:
    """What keeps a WAV file from joining the others (16-bit mono SAMPLE_RATE), or None."""
    try:
        with wave.open(str(path), "rb") as w:
            found = (w.getsampwidth(), w.getnchannels(), w.getframerate())
    except (wave.Error, EOFError, OSError) as exc:
        return f"not a PCM WAV file ({exc})"
    if found != (SAMPLE_WIDTH, CHANNELS, SAMPLE_RATE):
        width, channels, rate = found
        return (f"{8 * width}-bit, {channels} channel(s), {rate} Hz; expected "
                f"{8 * SAMPLE_WIDTH}-bit mono {SAMPLE_RATE} Hz")
    return None


def write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # served by the web process, whoever made it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def inside(root: Path, path: Path) -> Path:
    """`path`, refused if it (or a link on its way) leads outside `root`."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise PromptError(f"{path}: outside the prompts folder")
    return path
