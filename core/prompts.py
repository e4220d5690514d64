"""The voice line's audio prompts: one WAV file per language and phrase, synthetic or recorded.

Layout (docs/VOICE.md, "Audio prompts"), under `PROMPTS_DIR`:

    <lang>/<name>.wav         a phrase (lang es, qu, ay; name as `main_menu.0`, `reason_OTRO`)
    <lang>/synthetic.json     what the project synthesized there: name -> sha256, text, voice
    <lang>/cache/<digest>.wav dynamic text (a pay point's name, an address), made on demand
    <lang>/cache/<digest>.txt the text it says

A file whose bytes are not the ones the manifest records is a recording the programme dropped in
place: it is never overwritten. Nothing is read or written outside the root: languages are a
fixed list and names are checked against a strict pattern before they become paths.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
import wave
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from dialogs.speech import Required
from dialogs.texts import LANGUAGES

log = logging.getLogger("mijuntos.prompts")

# A catalog key (reason codes are upper case: `reason_INC_SALUD`), then `.N` for its Nth piece.
NAME = re.compile(r"[A-Za-z0-9_]+(\.[0-9]+)?")
DIGEST = re.compile(r"[0-9a-f]{32}")
HEX64 = re.compile(r"[0-9a-f]{64}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MANIFEST = "synthetic.json"
CACHE = "cache"
# Every file in one format, so a call's prompts can be joined into one WAV: espeak-ng's own.
SAMPLE_RATE, SAMPLE_WIDTH, CHANNELS = 22050, 2, 1
# The cache's bounds: a text longer than this is not synthesized (the caller says it otherwise),
# and past this many files per language the least recently used tenth is removed.
CACHE_MAX_CHARS = 120
CACHE_MAX_FILES = 5000
AYMARA_STAND_IN = "ay uses the Quechua voice as a stand-in"


class PromptError(ValueError):
    """A language, name or file the prompts folder refuses, or one it cannot read."""


class SynthesisError(PromptError):
    """The synthesizer is missing or failed."""


class Status(StrEnum):
    SYNTHETIC = "synthetic"  # made by the project from the current text
    RECORDED = "recorded"  # bytes the project did not make: the programme's recording
    MISSING = "missing"  # no file
    STALE = "stale"  # made by the project from another text (or voice): generate makes it again


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


@dataclass(frozen=True)
class Made:
    """One manifest entry: a file the project synthesized."""

    sha256: str
    text: str
    voice: str


@dataclass
class Generated:
    """What `generate` did, as (lang, name) lists."""

    made: list[tuple[str, str]] = field(default_factory=list)
    current: list[tuple[str, str]] = field(default_factory=list)  # synthetic already, left alone
    recorded: list[tuple[str, str]] = field(default_factory=list)  # recordings, never overwritten


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise PromptError(f"lang: must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return lang


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise PromptError(f"name: must be ASCII letters, digits and _ with an optional .N, got {name!r}")
    return name


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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
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


class PromptStore:
    """The prompts folder: paths, what is synthetic or recorded, generation and the text cache."""

    def __init__(self, root: Path, synthesizer: Synthesizer | None = None,
                 voices: dict[str, Voice] | None = None) -> None:
        self.root = Path(root)
        self.synthesizer = synthesizer
        self.voices = dict(VOICES if voices is None else voices)
        self._manifests: dict[str, tuple[tuple[int, ...], dict[str, list[Made]]]] = {}

    # --- paths -----------------------------------------------------------------------------

    def _inside(self, path: Path) -> Path:
        """`path`, refused if it (or a link on its way) leads outside the root."""
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise PromptError(f"{path}: outside the prompts folder")
        return path

    def path(self, lang: str, name: str) -> Path:
        """Where the phrase `name` of `lang` lives (checked; it may not exist)."""
        return self._inside(self.root / check_lang(lang) / f"{check_name(name)}.wav")

    def find(self, lang: str, name: str) -> Path | None:
        """The phrase's file, or None when there is none or the language or name is not valid."""
        try:
            path = self.path(lang, name)
        except PromptError:
            return None
        return path if path.is_file() else None

    # --- the manifest ----------------------------------------------------------------------

    def _manifest_path(self, lang: str) -> Path:
        return self.root / check_lang(lang) / MANIFEST

    def _entries(self, lang: str) -> dict[str, list[Made]]:
        """name -> what the project made there: its entry, and the one being put in place (if
        a generate is writing it, or was killed while it was)."""
        path = self._manifest_path(lang)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return {}
        # Each write is a new file (_write_atomic): its inode and times tell another process's.
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
        known = self._manifests.get(lang)
        if known and known[0] == stamp:
            return known[1]
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            entries = {name: _made_of(entry) for name, entry in raw["prompts"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PromptError(f"{path}: not a prompts manifest ({type(exc).__name__}: {exc}); "
                              f"move it away and run `mijuntos prompts generate`") from exc
        self._manifests[lang] = (stamp, entries)
        return entries

    def _save(self, lang: str, entries: dict[str, list[Made]]) -> None:
        """Write the manifest: per name its entry (sha256, text, voice) and any "pending" one."""
        voice = self.voices[lang]
        prompts: dict[str, dict[str, object]] = {}
        for name, made in sorted(entries.items()):
            if made:
                prompts[name] = {**asdict(made[0]), **({"pending": asdict(made[1])} if made[1:] else {})}
        body = {"voice": voice.key, "stand_in": voice.stand_in, "prompts": prompts}
        _write_atomic(self._manifest_path(lang),
                      (json.dumps(body, indent=1, ensure_ascii=False) + "\n").encode())
        self._manifests.pop(lang, None)

    def made(self, lang: str, name: str) -> Made | None:
        """The manifest's entry for the file now in place, or None (no file, or a recording)."""
        path = self.find(lang, name)
        if path is None:
            return None
        digest = _sha256(path.read_bytes())
        return next((m for m in self._entries(lang).get(name, []) if m.sha256 == digest), None)

    # --- status ----------------------------------------------------------------------------

    def status(self, required: Iterable[Required]) -> dict[tuple[str, str], Status]:
        """Per (lang, name) of `required`: synthetic, recorded, missing or stale."""
        out: dict[tuple[str, str], Status] = {}
        for item in _checked(required):
            out[(item.lang, item.name)] = self._status_of(item)
        return out

    def _status_of(self, item: Required) -> Status:
        if self.find(item.lang, item.name) is None:
            return Status.MISSING
        made = self.made(item.lang, item.name)
        if made is None:
            return Status.RECORDED
        if made.text != item.text or made.voice != self.voices[item.lang].key:
            return Status.STALE
        return Status.SYNTHETIC

    # --- generation ------------------------------------------------------------------------

    def _synthesizer(self) -> Synthesizer:
        if self.synthesizer is None:
            raise SynthesisError("no synthesizer: espeak-ng is not installed (apt-get install espeak-ng)")
        return self.synthesizer

    def write_synthetic(self, lang: str, name: str, text: str) -> Path:
        """Synthesize `text` into the phrase's file and record it; a recording is refused."""
        path = self.path(lang, name)
        if path.is_file() and self.made(lang, name) is None:
            raise PromptError(f"{lang}/{name}.wav: a recording, never overwritten")
        voice = self.voices[lang]
        data = self._synthesizer().synthesize(voice, text)
        new = Made(_sha256(data), text, voice.key)
        # The manifest knows the new bytes before they are in place, and keeps the old entry
        # until they are: killed at any point, the file in place still reads as synthetic.
        entries = dict(self._entries(lang))
        old = self.made(lang, name)
        entries[name] = [old, new] if old else [new]
        self._save(lang, entries)
        _write_atomic(path, data)
        entries[name] = [new]
        self._save(lang, entries)
        return path

    def generate(self, required: Sequence[Required], *, force: bool = False,
                 each: Callable[[Required], None] | None = None) -> Generated:
        """Synthesize every missing or stale phrase (with `force`, every synthetic one too).

        A recording is never overwritten, with or without `force`. `each` is called after each
        phrase (a progress bar). One generate at a time: a second one is refused.
        """
        done = Generated()
        items = _checked(required)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._generating():
            for item in items:
                state = self._status_of(item)
                where = (item.lang, item.name)
                if state is Status.RECORDED:
                    done.recorded.append(where)
                elif state is Status.SYNTHETIC and not force:
                    done.current.append(where)
                else:
                    self.write_synthetic(item.lang, item.name, item.text)
                    done.made.append(where)
                if each is not None:
                    each(item)
        return done

    @contextmanager
    def _generating(self) -> Iterator[None]:
        with open(self.root / ".generate.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PromptError(f"{self.root}: another `prompts generate` is running") from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # --- the cache of dynamic text ---------------------------------------------------------

    def cache_digest(self, lang: str, text: str) -> str:
        """The cache file's name for `text` said in `lang`'s voice."""
        key = f"{check_lang(lang)}\0{self.voices[lang].key}\0{text}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def cached_path(self, lang: str, digest: str) -> Path | None:
        """A cached file by its digest, if it is there (None for anything not a digest)."""
        if lang not in LANGUAGES or not DIGEST.fullmatch(digest):
            return None
        try:
            path = self._inside(self.root / lang / CACHE / f"{digest}.wav")
        except PromptError:
            return None
        return path if path.is_file() else None

    def cached_text(self, lang: str, digest: str) -> str | None:
        """The text a cached file says."""
        path = self.cached_path(lang, digest)
        if path is None:
            return None
        try:
            return path.with_suffix(".txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def cached(self, lang: str, text: str) -> Path | None:
        """`text` said in `lang`'s voice, synthesized once and kept under `<lang>/cache/`.

        Only for texts that may be public: place names and addresses, never a DNI, a date of
        birth or an amount (the files are served without a key). None (say it otherwise, or
        leave it out) for an empty text, one over CACHE_MAX_CHARS characters, or when the
        synthesizer is missing or fails (logged).
        """
        digest = self.cache_digest(lang, text)
        if not text.strip() or len(text) > CACHE_MAX_CHARS:
            return None
        path = self.cached_path(lang, digest)
        if path is not None:
            os.utime(path)  # recently used: the last to go when the cache is trimmed
            return path
        try:
            data = self._synthesizer().synthesize(self.voices[lang], text)
        except SynthesisError as exc:
            log.warning("prompt cache lang=%s digest=%s not made: %s", lang, digest, exc)
            return None
        folder = self._inside(self.root / lang / CACHE)
        _write_atomic(folder / f"{digest}.txt", text.encode())
        _write_atomic(folder / f"{digest}.wav", data)
        self._trim(folder)
        return folder / f"{digest}.wav"

    def _trim(self, folder: Path) -> None:
        files = list(folder.glob("*.wav"))
        if len(files) <= CACHE_MAX_FILES:
            return
        by_age = sorted(files, key=lambda p: p.stat().st_mtime_ns)
        gone = by_age[: len(files) - CACHE_MAX_FILES * 9 // 10]
        for path in gone:
            path.unlink(missing_ok=True)
            path.with_suffix(".txt").unlink(missing_ok=True)
        log.info("prompt cache %s trimmed: %d files removed", folder, len(gone))


def _made_of(entry: dict[str, Any]) -> list[Made]:
    """A manifest entry's files: its own, then the "pending" one if any (KeyError, TypeError if
    it is not an entry)."""
    found = [entry, *([entry["pending"]] if "pending" in entry else [])]
    made = [Made(str(f["sha256"]), str(f["text"]), str(f["voice"])) for f in found]
    if not all(HEX64.fullmatch(m.sha256) for m in made):
        raise TypeError("sha256: must be 64 hex digits")
    return made


def _checked(required: Iterable[Required]) -> list[Required]:
    """`required` with every language and name checked, and no phrase given two texts."""
    items = list(required)
    texts: dict[tuple[str, str], str] = {}
    for item in items:
        check_lang(item.lang)
        check_name(item.name)
        seen = texts.setdefault((item.lang, item.name), item.text)
        if seen != item.text:
            raise PromptError(f"{item.lang}/{item.name}: required twice, with different texts")
    return items
