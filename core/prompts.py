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
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.prompt_audio import (
    VOICES,
    PromptError,
    SynthesisError,
    Synthesizer,
    Voice,
    check_lang,
    inside,
    write_atomic,
)
from core.prompt_cache import PromptCache
from dialogs.speech import Required

# A catalog key (reason codes are upper case: `reason_INC_SALUD`), then `.N` for its Nth piece.
NAME = re.compile(r"[A-Za-z0-9_]+(\.[0-9]+)?")
HEX64 = re.compile(r"[0-9a-f]{64}")
MANIFEST = "synthetic.json"


class Status(StrEnum):
    SYNTHETIC = "synthetic"  # made by the project from the current text
    RECORDED = "recorded"  # bytes the project did not make: the programme's recording
    MISSING = "missing"  # no file
    STALE = "stale"  # made by the project from another text (or voice): generate makes it again


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


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise PromptError(f"name: must be ASCII letters, digits and _ with an optional .N, got {name!r}")
    return name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PromptStore:
    """The prompts folder: paths, what is synthetic or recorded, generation and the text cache."""

    def __init__(self, root: Path, synthesizer: Synthesizer | None = None,
                 voices: dict[str, Voice] | None = None) -> None:
        self.root = Path(root)
        self.synthesizer = synthesizer
        self.voices = dict(VOICES if voices is None else voices)
        self.cache = PromptCache(self.root, synthesizer, self.voices)
        self._manifests: dict[str, tuple[tuple[int, ...], dict[str, list[Made]]]] = {}

    # --- paths -----------------------------------------------------------------------------

    def path(self, lang: str, name: str) -> Path:
        """Where the phrase `name` of `lang` lives (checked; it may not exist)."""
        return inside(self.root, self.root / check_lang(lang) / f"{check_name(name)}.wav")

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
        # Each write is a new file (write_atomic): its inode and times tell another process's.
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
        write_atomic(self._manifest_path(lang),
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

    def cached(self, lang: str, text: str) -> Path | None:
        """`text` said in `lang`'s voice, from the cache (core/prompt_cache.py): place names and
        addresses only. None: say it otherwise (too long, empty, no synthesizer)."""
        return self.cache.get(lang, text)

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
        write_atomic(path, data)
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
