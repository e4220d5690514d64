"""The audio of a call: each Play's WAV checked as it is fetched, and all of them joined into one file."""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from pathlib import Path

from mijuntos_dev.fake_voice_xml import VoiceError

# What a server may call a WAV file (Python's mimetypes alone has said three of them).
WAV_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"})


def wav_seconds(body: bytes) -> float:
    """How long a WAV file plays; VoiceError if `body` is not one."""
    try:
        with wave.open(io.BytesIO(body)) as audio:
            return audio.getnframes() / audio.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError) as exc:
        raise VoiceError(f"not a WAV file ({exc or type(exc).__name__})") from exc


def _describe(params: tuple[int, int, int]) -> str:
    channels, width, rate = params
    return f"{8 * width}-bit {'mono' if channels == 1 else f'{channels} channels'} {rate} Hz"


def write_wav(path: Path | str, played: Sequence[tuple[str, bytes]]) -> float:
    """Played files, each (its name, its bytes), in order, as one WAV file at `path`; its seconds.

    All must share one format (channels, sample width, rate): a VoiceError names the first
    that differs, and nothing is written, rather than a file that plays at the wrong speed.
    """
    if not played:
        raise VoiceError("no audio was played in this call: no WAV written")
    chunks: list[bytes] = []
    formats: list[tuple[int, int, int]] = []
    for label, body in played:
        try:
            with wave.open(io.BytesIO(body)) as audio:
                formats.append((audio.getnchannels(), audio.getsampwidth(), audio.getframerate()))
                chunks.append(audio.readframes(audio.getnframes()))
        except (wave.Error, EOFError) as exc:
            raise VoiceError(f"{label}: not a WAV file ({exc}); nothing written") from exc
        if formats[-1] != formats[0]:
            raise VoiceError(f"{label} is {_describe(formats[-1])} but {played[0][0]} is "
                             f"{_describe(formats[0])}: one WAV holds one format; nothing written")
    channels, width, rate = formats[0]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        for chunk in chunks:
            out.writeframes(chunk)
    return sum(len(c) for c in chunks) / (channels * width * rate)
