"""The prompts' synthesizer: espeak-ng (Debian's package `espeak-ng`), run without a shell.

The text goes in on stdin (never on a command line, where a text starting with `-` would be an
option) and the WAV comes back through a file of its own: written to a pipe, espeak-ng cannot go
back to fill in the header's lengths. What it wrote is checked and written again in the house
format (16-bit mono, core.prompt_audio.SAMPLE_RATE), so every prompt can be joined to the others.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

from core.prompt_audio import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, SynthesisError, Voice

BINARY = "espeak-ng"
MISSING = "espeak-ng is not installed (Debian: apt-get install espeak-ng)"


def espeak_binary() -> str | None:
    """The espeak-ng on PATH, or None."""
    return shutil.which(BINARY)


class Espeak:
    """Synthesizes a text with an espeak-ng voice into a WAV file's bytes."""

    def __init__(self, binary: str | None = None, timeout_seconds: float = 30.0) -> None:
        self.binary = binary or espeak_binary()
        self.timeout_seconds = timeout_seconds

    def synthesize(self, voice: Voice, text: str) -> bytes:
        if self.binary is None:
            raise SynthesisError(MISSING)
        if not text.strip():
            raise SynthesisError("nothing to say: the text is empty")
        with tempfile.TemporaryDirectory(prefix="mijuntos-espeak-") as tmp:
            out = Path(tmp) / "said.wav"
            command = [self.binary, "-v", voice.espeak, "-s", str(voice.speed), "-b", "1",
                       "-w", str(out), "--stdin"]
            try:
                done = subprocess.run(command, input=text.encode("utf-8"), capture_output=True,
                                      timeout=self.timeout_seconds, check=False)
            except FileNotFoundError as exc:
                raise SynthesisError(MISSING) from exc
            except subprocess.TimeoutExpired as exc:
                raise SynthesisError(f"espeak-ng took over {self.timeout_seconds:g} s") from exc
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()
            if done.returncode != 0 or not out.is_file():
                raise SynthesisError(f"espeak-ng -v {voice.espeak} failed (exit {done.returncode}): "
                                     + (said[0] if said else "no message"))
            return _house_format(out)


def _house_format(path: Path) -> bytes:
    """The file's sound as a WAV of the house format, or SynthesisError if it is another one."""
    try:
        with wave.open(str(path), "rb") as w:
            found = (w.getsampwidth(), w.getnchannels(), w.getframerate())
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SynthesisError(f"espeak-ng wrote no readable WAV ({exc})") from exc
    if found != (SAMPLE_WIDTH, CHANNELS, SAMPLE_RATE):
        raise SynthesisError(f"espeak-ng wrote {found[0] * 8}-bit, {found[1]} channel(s), {found[2]} Hz; "
                             f"expected {SAMPLE_WIDTH * 8}-bit mono {SAMPLE_RATE} Hz")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setsampwidth(SAMPLE_WIDTH)
        w.setnchannels(CHANNELS)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(frames)
    return buffer.getvalue()
