"""The voice line's audio prompts (core/prompts.py): synthesized with the real espeak-ng, replaced
by recordings the project never overwrites, stale when the catalog's text changes, served by the
web without leaving the folder, and counted by `mijuntos prompts status` for a deploy check.

The required phrases are lists built here (dialogs.speech.required_prompts is the lead's), each
text a stand-in for a catalog's. Tests that synthesize skip without espeak-ng, unless
VOICE_REQUIRED=1 (CI), when they fail.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import resource
import struct
import subprocess
import sys
import wave
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import redis as redis_lib
from click.testing import CliRunner, Result
from flask import Flask
from mijuntos_dev.fake_voice import inbound_call
from mijuntos_dev.fake_voice_http import prompt_text

import core.prompt_cache
from core.catalogs import load_catalog
from core.espeak import Espeak, espeak_binary
from core.prompt_audio import (
    AYMARA_STAND_IN,
    SAMPLE_RATE,
    PromptError,
    Voice,
    header_text,
    text_from_header,
)
from core.prompt_cache import CACHE_MAX_CHARS
from core.prompts import PromptStore, Status
from core.settings import Settings, SettingsError
from dialogs.speech import Required, required_prompts
from gateway.app import create_app
from gateway.prompts import EXTENSION, TEXT_HEADER, PlayUrls, PromptFiles, cached_url, phrase_url
from gateway.voice import Voice as VoiceLine
from mijuntos.cli import main
from mijuntos.prompts_cli import Inputs
from models import Database
from tests.support import ROSA_PHONE

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("VOICE_REQUIRED") == "1"
MENU_ES = "Para su proximo pago, marque 1"
MENU_QU = "Hamuq qullqiykipaq, 1 ñit'iy"  # a test text with GSM-7's ñ and an apostrophe
ITEMS = [
    Required("es", "main_menu.0", MENU_ES),
    Required("es", "voice_digit_5", "cinco"),
    Required("qu", "main_menu.0", MENU_QU),
    Required("ay", "voice_digit_5", "phisqha"),
]
PLACE = "Agencia BN Chulucanas, Jr. Lima 123"


@pytest.fixture
def espeak() -> Espeak:
    if espeak_binary() is None:
        if REQUIRED:
            pytest.fail("VOICE_REQUIRED=1 but espeak-ng is not installed")
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    return Espeak()


@pytest.fixture
def store(tmp_path: Path, espeak: Espeak) -> PromptStore:
    return PromptStore(tmp_path / "prompts", espeak)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recording(path: Path, *, rate: int = SAMPLE_RATE, channels: int = 1) -> bytes:
    """A WAV no synthesizer made (a tone, as a studio's file would be), dropped in place."""
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) * channels
                      for n in range(rate // 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path.read_bytes()


def changed(items: Sequence[Required], lang: str, name: str, text: str) -> list[Required]:
    return [Required(r.lang, r.name, text) if (r.lang, r.name) == (lang, name) else r for r in items]


# --- the store -------------------------------------------------------------------------------


def test_generated_prompts_are_synthetic_and_recorded_in_the_manifest(store: PromptStore) -> None:
    assert set(store.status(ITEMS).values()) == {Status.MISSING}
    done = store.generate(ITEMS)
    assert done.made == [(r.lang, r.name) for r in ITEMS] and not done.recorded
    assert store.status(ITEMS) == {(r.lang, r.name): Status.SYNTHETIC for r in ITEMS}
    for item in ITEMS:
        path = store.root / item.lang / f"{item.name}.wav"
        manifest = json.loads((store.root / item.lang / "synthetic.json").read_text(encoding="utf-8"))
        entry = manifest["prompts"][item.name]
        assert entry["sha256"] == sha(path) and entry["text"] == item.text
    ay = json.loads((store.root / "ay" / "synthetic.json").read_text())
    assert ay["stand_in"] == AYMARA_STAND_IN and ay["voice"] == "espeak-ng:qu:150"
    assert json.loads((store.root / "es" / "synthetic.json").read_text())["voice"] == "espeak-ng:es-419:150"
    again = store.generate(ITEMS)  # nothing to do: nothing is made again
    assert not again.made and len(again.current) == len(ITEMS)


def test_every_file_is_16_bit_mono_at_one_rate_so_they_join(store: PromptStore, tmp_path: Path) -> None:
    store.generate(ITEMS)
    place = store.cached("qu", PLACE)
    assert place is not None
    paths = [store.root / r.lang / f"{r.name}.wav" for r in ITEMS] + [place]
    joined = tmp_path / "call.wav"
    with wave.open(str(joined), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        for path in paths:
            with wave.open(str(path), "rb") as w:
                assert (w.getsampwidth(), w.getnchannels(), w.getframerate()) == (2, 1, 22050), path
                assert w.getnframes() > SAMPLE_RATE // 10, path  # it says something
                # The header's length is the data's (espeak-ng on a pipe writes 0x7fffffff).
                assert w.getnframes() * 2 == len(path.read_bytes()) - 44, path
                out.writeframes(w.readframes(w.getnframes()))
    with wave.open(str(joined), "rb") as w:
        assert w.getnframes() > len(paths) * SAMPLE_RATE // 10


def test_a_recording_dropped_in_place_is_recorded_and_never_overwritten(store: PromptStore) -> None:
    store.generate(ITEMS)
    path = store.root / "es" / "main_menu.0.wav"
    studio = recording(path)
    found = store.status(ITEMS)
    assert found[("es", "main_menu.0")] is Status.RECORDED
    assert Counter(found.values()) == {Status.SYNTHETIC: 3, Status.RECORDED: 1}
    for force in (False, True):
        done = store.generate(ITEMS, force=force)
        assert done.recorded == [("es", "main_menu.0")]
        assert path.read_bytes() == studio
    # Not even when its text changes: a recording is not stale, it is the programme's.
    newer = changed(ITEMS, "es", "main_menu.0", "Para su siguiente pago, marque 1")
    assert store.status(newer)[("es", "main_menu.0")] is Status.RECORDED
    store.generate(newer)
    assert path.read_bytes() == studio
    with pytest.raises(PromptError, match="a recording, never overwritten"):
        store.write_synthetic("es", "main_menu.0", MENU_ES)
    # A recording where the project never made a file is one too.
    other = store.root / "es" / "voice_digit_7.wav"
    recording(other)
    seven = Required("es", "voice_digit_7", "siete")
    assert store.status([seven]) == {("es", "voice_digit_7"): Status.RECORDED}
    assert store.generate([seven]).recorded == [("es", "voice_digit_7")]


def test_a_changed_text_makes_the_synthetic_prompt_stale_and_generate_remakes_it(
        store: PromptStore) -> None:
    store.generate(ITEMS)
    path = store.root / "es" / "voice_digit_5.wav"
    before = path.read_bytes()
    newer = changed(ITEMS, "es", "voice_digit_5", "cinco, cinco")
    found = store.status(newer)
    assert found[("es", "voice_digit_5")] is Status.STALE
    assert Counter(found.values()) == {Status.SYNTHETIC: 3, Status.STALE: 1}
    assert store.generate(newer).made == [("es", "voice_digit_5")]
    assert path.read_bytes() != before
    assert store.status(newer)[("es", "voice_digit_5")] is Status.SYNTHETIC
    made = store.made("es", "voice_digit_5")
    assert made is not None and made.text == "cinco, cinco"
    # The voice too: a prompt made with another voice is stale.
    slower = PromptStore(store.root, store.synthesizer, {**store.voices, "es": Voice("es-419", speed=120)})
    assert slower.status(newer)[("es", "voice_digit_5")] is Status.STALE


def test_a_missing_file_is_missing_and_generate_makes_it(store: PromptStore) -> None:
    store.generate(ITEMS)
    (store.root / "qu" / "main_menu.0.wav").unlink()
    assert store.status(ITEMS)[("qu", "main_menu.0")] is Status.MISSING
    assert store.generate(ITEMS).made == [("qu", "main_menu.0")]
    assert store.status(ITEMS)[("qu", "main_menu.0")] is Status.SYNTHETIC


CANNED = """
import sys
from pathlib import Path
from core.prompts import PromptStore
from core.catalogs import load_catalog
from dialogs.speech import Required, required_prompts

class Canned:  # the bytes espeak-ng made for the text, read back (no espeak-ng under the limit)
    def synthesize(self, voice, text):
        return Path(sys.argv[2]).read_bytes()

PromptStore(Path(sys.argv[1]), Canned()).generate([Required("es", "voice_digit_5", "seis")])
"""


def test_a_generate_cut_off_midway_leaves_the_file_in_place_synthetic(store: PromptStore,
                                                                      tmp_path: Path) -> None:
    """The manifest names the new bytes as pending before they are in place: whether the file is
    still the old one or already the new one, it reads as synthetic, never as a recording."""
    store.generate(ITEMS)
    path = store.root / "es" / "voice_digit_5.wav"
    old = path.read_bytes()
    new = Espeak().synthesize(store.voices["es"], "seis")
    canned = tmp_path / "seis.wav"
    canned.write_bytes(new)
    # A process whose files may not grow past 8 kB: the manifest is written, the WAV cannot be.
    limit = 8000
    assert len(new) > limit > len((store.root / "es" / "synthetic.json").read_bytes()) * 2
    cut = subprocess.run(
        [sys.executable, "-c", CANNED, str(store.root), str(canned)], cwd=ROOT, capture_output=True,
        text=True, timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY)))
    assert cut.returncode != 0 and "File too large" in cut.stderr, cut.stderr
    manifest = json.loads((store.root / "es" / "synthetic.json").read_text())
    assert manifest["prompts"]["voice_digit_5"]["pending"]["text"] == "seis"
    six = changed(ITEMS, "es", "voice_digit_5", "seis")
    assert path.read_bytes() == old  # cut off before the file was replaced: the old text, stale
    assert store.status(six)[("es", "voice_digit_5")] is Status.STALE
    path.write_bytes(new)  # cut off after it: the new text, current
    assert store.status(six)[("es", "voice_digit_5")] is Status.SYNTHETIC
    assert store.generate(six).current == [(r.lang, r.name) for r in six]


@pytest.mark.parametrize("lang, name", [
    ("es", "../es/main_menu.0"), ("es", "../../etc/passwd"), ("es", "/etc/passwd"), ("es", "a/b"),
    ("es", "main-menu"), ("es", "menú"), ("es", "main_menu.0.1"), ("es", "main_menu.x"), ("es", ""),
    ("es", "."), ("es", "main menu"), ("es", "main_menu.0\x00"), ("..", "es"), ("ES", "main_menu.0"),
    ("xx", "a"), ("", "main_menu.0"),
])
def test_a_name_or_language_outside_the_pattern_is_refused(tmp_path: Path, lang: str, name: str) -> None:
    store = PromptStore(tmp_path / "prompts")
    with pytest.raises(PromptError):
        store.path(lang, name)
    assert store.find(lang, name) is None
    with pytest.raises(PromptError):
        store.status([Required(lang, name, "x")])


def test_a_link_leading_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.wav"
    recording(secret)
    store = PromptStore(tmp_path / "prompts")
    (store.root / "es" / "cache").mkdir(parents=True)
    (store.root / "es" / "main_menu.wav").symlink_to(secret)
    (store.root / "es" / "cache" / f"{'a' * 32}.wav").symlink_to(secret)
    assert store.find("es", "main_menu") is None
    assert store.cache.path("es", "a" * 32) is None
    assert store.status([Required("es", "main_menu", "x")]) == {("es", "main_menu"): Status.MISSING}


def test_one_phrase_with_two_texts_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="es/main_menu.0: required twice"):
        PromptStore(tmp_path).status([*ITEMS, Required("es", "main_menu.0", "otro")])


def test_a_broken_manifest_is_named(store: PromptStore) -> None:
    store.generate(ITEMS)
    (store.root / "qu" / "synthetic.json").write_text("{not json")
    with pytest.raises(PromptError, match="synthetic.json: not a prompts manifest"):
        store.status(ITEMS)


# --- the cache of dynamic text -------------------------------------------------------------


class Counting(Espeak):
    """espeak-ng, counting its calls."""

    calls = 0

    def synthesize(self, voice: Voice, text: str) -> bytes:
        self.calls += 1
        return super().synthesize(voice, text)


def test_a_text_is_synthesized_once_per_language_and_kept(tmp_path: Path, espeak: Espeak) -> None:
    counting = Counting()
    store = PromptStore(tmp_path / "prompts", counting)
    first = store.cached("es", PLACE)
    assert first is not None and first.parent == store.root / "es" / "cache"
    assert store.cached("es", PLACE) == first and counting.calls == 1
    assert store.cache.text("es", first.stem) == PLACE
    quechua = store.cached("qu", PLACE)
    assert quechua is not None and quechua != first and counting.calls == 2
    assert store.cached("es", PLACE + ".") != first  # another text, another file
    # Bounded: an empty text or a long one is not synthesized (say it otherwise).
    assert store.cached("es", "  ") is None
    assert store.cached("es", "x" * (CACHE_MAX_CHARS + 1)) is None
    assert store.cached("es", "x" * CACHE_MAX_CHARS) is not None
    assert counting.calls == 4
    assert PromptStore(tmp_path / "other").cached("es", PLACE) is None  # no synthesizer: none
    with pytest.raises(PromptError):
        store.cached("../es", PLACE)


def test_the_cache_keeps_the_most_recently_used(tmp_path: Path, espeak: Espeak,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core.prompt_cache, "CACHE_MAX_FILES", 5)
    store = PromptStore(tmp_path / "prompts", espeak)
    paths = []
    for n in range(5):
        path = store.cached("es", f"Tambo {n}")
        assert path is not None
        os.utime(path, ns=(n * 10**9, n * 10**9))  # made one after the other
        paths.append(path)
    store.cached("es", "Tambo 0")  # used again: now the newest
    sixth = store.cached("es", "Tambo 5")  # over the bound: the oldest go, down to 90 %
    left = sorted(p.name for p in (store.root / "es" / "cache").glob("*.wav"))
    assert sixth is not None and len(left) == 4
    assert paths[1].name not in left and paths[2].name not in left
    assert {paths[0].name, sixth.name} <= set(left)
    assert not paths[1].with_suffix(".txt").exists()


# --- the web ---------------------------------------------------------------------------------


@pytest.fixture
def web(tmp_path: Path, redis_url: str, redis: redis_lib.Redis, store: PromptStore) -> Iterator[Flask]:
    settings = Settings(var_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path}/web.db",
                        redis_url=redis_url, secret_key="test-secret", prompts_dir=store.root,
                        callback_secret="a-callback-key", callback_networks=("10.9.0.0/16",))
    app = create_app(settings)
    app.testing = True
    yield app
    app.extensions["mijuntos"].close()


def use_required(app: Flask, items: Sequence[Required]) -> None:
    """The phrases the app's catalog would require (the lead's required_prompts, not called)."""
    app.extensions[EXTENSION] = PromptFiles(app.extensions[EXTENSION].store, lambda: items)


def test_a_phrase_is_served_with_its_text_and_a_long_cache(web: Flask, store: PromptStore) -> None:
    store.generate(ITEMS)
    client = web.test_client()  # no key: the provider fetches these as any client
    assert client.post("/voice", data={"isActive": "1"}).status_code == 403  # callbacks need it
    got = client.get("/voice/prompts/es/main_menu.0.wav")
    assert got.status_code == 200 and got.mimetype == "audio/wav"
    assert got.data == (store.root / "es" / "main_menu.0.wav").read_bytes()
    assert got.headers[TEXT_HEADER] == MENU_ES  # synthetic: from the manifest, no catalog needed
    assert got.cache_control.public and got.cache_control.max_age == 86400
    assert client.get("/voice/prompts/es/main_menu.0.wav",
                      headers={"If-None-Match": got.headers["ETag"]}).status_code == 304
    quechua = client.get("/voice/prompts/qu/main_menu.0.wav")
    # On the wire, the text's UTF-8 bytes: what the stand-in provider reads back.
    raw = quechua.headers[TEXT_HEADER].encode("latin-1")
    assert raw == MENU_QU.encode("utf-8") and prompt_text(quechua.headers[TEXT_HEADER]) == MENU_QU
    with web.test_request_context(base_url="https://voz.example.org"):
        assert phrase_url("qu", "main_menu.0") == "https://voz.example.org/voice/prompts/qu/main_menu.0.wav"
        urls = PlayUrls()  # what <Play> points at: the file if there is one, else None (Say)
        assert urls.phrase("qu", "main_menu.0") == phrase_url("qu", "main_menu.0")
        assert urls.phrase("qu", "voice_digit_5") is None and urls.phrase("..", "x") is None
        place = urls.text("es", PLACE)
        assert place is not None and place.startswith("https://voz.example.org/voice/prompts/es/cache/")
        assert urls.text("es", "x" * (CACHE_MAX_CHARS + 1)) is None
    path = place.removeprefix("https://voz.example.org")
    assert text_from_header(client.get(path).headers[TEXT_HEADER]) == PLACE


def test_a_header_text_is_one_line() -> None:
    assert header_text("Jr. Lima\r\nX-Injected: 1") == "Jr. Lima  X-Injected: 1"
    assert text_from_header(header_text("Añay")) == "Añay" and header_text("Pago") == "Pago"


def test_a_recording_is_served_with_the_catalogs_text_or_none(web: Flask, store: PromptStore) -> None:
    store.generate(ITEMS)
    recording(store.root / "es" / "main_menu.0.wav")
    recording(store.root / "es" / "extra.wav")
    use_required(web, ITEMS)
    client = web.test_client()
    got = client.get("/voice/prompts/es/main_menu.0.wav")
    assert got.status_code == 200 and got.headers[TEXT_HEADER] == MENU_ES
    unknown = client.get("/voice/prompts/es/extra.wav")
    assert unknown.status_code == 200 and TEXT_HEADER not in unknown.headers


@pytest.mark.parametrize("path", [
    "/voice/prompts/xx/main_menu.0.wav", "/voice/prompts/ES/main_menu.0.wav",
    "/voice/prompts/es/nothing_here.wav", "/voice/prompts/es/main-menu.0.wav",
    "/voice/prompts/es/Main_menu.0.wav",
    "/voice/prompts/es/..%2F..%2Fsecret.wav", "/voice/prompts/es/%2e%2e.wav",
    "/voice/prompts/../secret.wav", "/voice/prompts/es/main_menu.0", "/voice/prompts/es/synthetic.json",
    "/voice/prompts/es/synthetic.wav", "/voice/prompts/es/cache/notadigest.wav",
    "/voice/prompts/es/cache/" + "0" * 32 + ".wav", "/voice/prompts/es/cache/../main_menu.0.wav",
    "/voice/prompts/es/main_menu.0.wav/", "/voice/prompts/es/.generate.lock",
])
def test_anything_else_is_not_found(web: Flask, store: PromptStore, path: str) -> None:
    store.generate(ITEMS)
    recording(store.root / "secret.wav")
    got = web.test_client().get(path)
    assert got.status_code == 404, got.data
    assert got.mimetype != "audio/wav"


def test_a_cached_text_is_served_for_good(web: Flask, store: PromptStore) -> None:
    path = store.cached("ay", PLACE)
    assert path is not None
    with web.test_request_context(base_url="https://voz.example.org"):
        url = cached_url("ay", path)
    assert url == f"https://voz.example.org/voice/prompts/ay/cache/{path.stem}.wav"
    got = web.test_client().get(url.removeprefix("https://voz.example.org"))
    assert got.status_code == 200 and got.mimetype == "audio/wav" and got.data == path.read_bytes()
    assert got.headers[TEXT_HEADER] == PLACE
    assert got.cache_control.immutable and got.cache_control.max_age == 365 * 86400
    assert web.test_client().get(f"/voice/prompts/es/cache/{path.stem}.wav").status_code == 404


def test_the_app_serves_the_prompts_dir_of_its_settings(tmp_path: Path, redis_url: str,
                                                        redis: redis_lib.Redis, espeak: Espeak) -> None:
    folder = tmp_path / "var" / "prompts"
    PromptStore(folder, espeak).generate(ITEMS[:1])
    app = create_app(Settings(var_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path}/a.db",
                              redis_url=redis_url, secret_key="test-secret"))
    try:
        assert app.extensions[EXTENSION].store.root == folder  # the default: var dir / prompts
        got = app.test_client().get("/voice/prompts/es/main_menu.0.wav")
        assert got.status_code == 200 and got.headers[TEXT_HEADER] == MENU_ES
    finally:
        app.extensions["mijuntos"].close()


# --- the command line ------------------------------------------------------------------------


def run(args: list[str], folder: Path, items: Sequence[Required], **env: str) -> Result:
    return CliRunner().invoke(main, ["prompts", *args], obj=Inputs(required=lambda _: items),
                              env={"PROMPTS_DIR": str(folder), "MIJUNTOS_VAR_DIR": str(folder.parent / "var"),
                                   **env})


def counts_line(lang: str, synthetic: int = 0, recorded: int = 0, missing: int = 0, stale: int = 0) -> str:
    return f"{lang}: {synthetic} synthetic, {recorded} recorded, {missing} missing, {stale} stale"


def files_of(folder: Path, items: Sequence[Required], lang: str) -> int:
    return sum(1 for r in items if r.lang == lang and (folder / lang / f"{r.name}.wav").is_file())


def test_status_and_generate_from_the_command_line(tmp_path: Path, espeak: Espeak) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    per_lang = Counter(r.lang for r in ITEMS)
    before = run(["status"], folder, ITEMS)
    assert before.exit_code == 1, before.output  # missing: a deploy check fails
    for lang in ("es", "qu", "ay"):
        assert counts_line(lang, missing=per_lang[lang]) in before.output
    assert AYMARA_STAND_IN in before.output and "prompts generate" in before.output

    made = run(["generate"], folder, ITEMS)
    assert made.exit_code == 0, made.output
    assert "es: 2 made" in made.output and AYMARA_STAND_IN in made.output
    assert all(files_of(folder, ITEMS, lang) == per_lang[lang] for lang in per_lang)
    after = run(["status"], folder, ITEMS)
    assert after.exit_code == 0, after.output
    for lang in ("es", "qu", "ay"):
        assert counts_line(lang, synthetic=files_of(folder, ITEMS, lang)) in after.output

    studio = recording(folder / "es" / "main_menu.0.wav", rate=44100, channels=2)
    newer = changed(ITEMS, "qu", "main_menu.0", "Hamuq qullqiykipaq, huk ñit'iy")
    (folder / "ay" / "voice_digit_5.wav").unlink()
    detail = run(["status", "--detail"], folder, newer)
    assert detail.exit_code == 1, detail.output
    assert counts_line("es", synthetic=1, recorded=1) in detail.output
    assert counts_line("qu", stale=1) in detail.output and counts_line("ay", missing=1) in detail.output
    lines = detail.output.splitlines()
    assert "  es recorded  main_menu.0 (16-bit, 2 channel(s), 44100 Hz; expected 16-bit mono " \
           "22050 Hz)" in lines
    assert {"  es synthetic voice_digit_5", "  qu stale     main_menu.0", "  ay missing   voice_digit_5"} \
        <= set(lines)

    again = run(["generate", "--force"], folder, newer)
    assert again.exit_code == 0, again.output
    assert "es: 1 made, 0 already current, 1 recorded (never overwritten)" in again.output
    assert (folder / "es" / "main_menu.0.wav").read_bytes() == studio
    final = run(["status"], folder, newer)
    assert final.exit_code == 0 and counts_line("qu", synthetic=1) in final.output


def test_without_espeak_generate_says_so_and_status_still_works(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    nowhere = tmp_path / "bin"
    nowhere.mkdir()
    made = run(["generate"], folder, ITEMS, PATH=str(nowhere))
    assert made.exit_code == 1
    assert "espeak-ng is not installed (Debian: apt-get install espeak-ng)" in made.output
    assert not list(folder.iterdir())
    status = run(["status"], folder, ITEMS, PATH=str(nowhere))
    assert status.exit_code == 1 and counts_line("es", missing=2) in status.output


def test_a_prompts_dir_that_cannot_be_used_is_named(tmp_path: Path) -> None:
    a_file = tmp_path / "prompts"
    a_file.write_text("")
    for folder in (a_file, tmp_path / "nowhere"):
        done = run(["status"], folder, ITEMS)
        assert done.exit_code == 1
        assert "Error: settings: PROMPTS_DIR: must be a directory the service can read" in done.output
        assert "Traceback" not in done.output
    with pytest.raises(SettingsError, match="PROMPTS_DIR"):
        Settings.from_env({"MIJUNTOS_VAR_DIR": str(tmp_path), "PROMPTS_DIR": str(a_file)})


def test_a_bad_name_from_the_catalog_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    done = run(["status"], folder, [Required("es", "../up", "x")])
    assert done.exit_code == 1 and "name: must be ASCII letters, digits and _" in done.output


def test_status_reads_the_catalog_the_service_speaks_with(tmp_path: Path) -> None:
    """Without a list given, the phrases are the catalog's (TRANSLATIONS: drafts too, here): every
    name it makes is one the folder accepts, and an empty folder misses them all."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    required = required_prompts(load_catalog(drafts=True))
    per_lang = Counter(r.lang for r in required)
    assert set(per_lang) == {"es", "qu", "ay"}
    done = CliRunner().invoke(main, ["prompts", "status"], env={
        "PROMPTS_DIR": str(folder), "MIJUNTOS_VAR_DIR": str(tmp_path / "var"), "TRANSLATIONS": "drafts",
        "LOCALES_DIR": None})
    assert done.exit_code == 1, done.output
    assert f"{len(required)} prompts" in done.output
    for lang, count in per_lang.items():
        assert counts_line(lang, missing=count) in done.output


# --- a call through /voice, played from the files ------------------------------------------


class Asked:
    """A voice line with no files that notes which phrases and texts a call asked for."""

    def __init__(self) -> None:
        self.phrases: set[tuple[str, str]] = set()
        self.texts: set[str] = set()

    def phrase(self, lang: str, name: str) -> str | None:
        self.phrases.add((lang, name))
        return None

    def text(self, lang: str, value: str) -> str | None:
        self.texts.add(value)
        return None


def test_a_call_played_from_the_files_is_heard_as_said(app: Flask, seeded: Database, espeak: Espeak,
                                                       tmp_path: Path) -> None:
    """Rosa's call (her phone of record, then 1: her next payment) with every prompt said, then
    with the files: the stand-in provider hears the same words, now from `<Play>` of the phrases
    and of the pay point's cached file, and joins them into one WAV."""
    services = app.extensions["mijuntos"]
    asked = Asked()
    app.extensions["mijuntos_voice"] = VoiceLine.build(services, asked)
    spoken = inbound_call("http://localhost/voice", ROSA_PHONE, ["1"], client=app.test_client())
    assert asked.phrases and asked.texts and all(p.kind == "say" for p in spoken.prompts)

    store = app.extensions[EXTENSION].store
    wanted = [r for r in required_prompts(services.catalog) if (r.lang, r.name) in asked.phrases]
    assert len(wanted) == len(asked.phrases)  # every phrase a call asks for is in the prompt set
    store.generate(wanted)
    app.extensions["mijuntos_voice"] = VoiceLine.build(services, PlayUrls())
    services.redis.flushdb()  # no offer to resume the first call: the same call again
    played = inbound_call("http://localhost/voice", ROSA_PHONE, ["1"], client=app.test_client())
    assert " ".join(played.said) == " ".join(spoken.said)  # words said together are one <Say>
    plays = [p for p in played.prompts if p.kind == "play"]
    assert len(plays) >= len(asked.phrases)
    assert any("/cache/" in (p.url or "") for p in plays)  # the pay point, from the cache
    # What is still said is what is never a file: a person's name.
    phrase_texts = {r.text for r in wanted}
    assert all(p.text not in phrase_texts for p in played.prompts if p.kind == "say")
    assert played.write_wav(tmp_path / "call.wav") > 1.0
