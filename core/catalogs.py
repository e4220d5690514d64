"""Loads the gettext catalogs (Babel .po files) into the pure dialogs.Catalog, in either mode.

A text is *reviewed* when its entry has a text and no `fuzzy` flag, a *draft* when it is flagged
`fuzzy` (machine-written or not yet checked by a translator), *missing* when empty. Which of them
callers see is the `TRANSLATIONS` setting: `reviewed` (production) shows reviewed texts and
Spanish for the rest, per text; `drafts` (the demo, the simulator, review sessions) shows drafts
too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.pofile import read_po, write_po

from core.settings import Settings
from dialogs.texts import FALLBACK, LANGUAGES, Catalog

LOCALES_DIR = Path(__file__).resolve().parent.parent / "dialogs" / "locales"
REVIEWED, DRAFT, MISSING = "reviewed", "draft", "missing"
MODES = ("reviewed", "drafts")  # the TRANSLATIONS setting


@dataclass(frozen=True)
class Entry:
    """One key of one language's catalog."""

    key: str
    text: str
    status: str  # REVIEWED, DRAFT or MISSING


def read_po_file(path: Path) -> PoCatalog:
    with path.open("rb") as handle:
        return read_po(handle)


def entries(path: Path) -> dict[str, Entry]:
    """key -> its text and status, in the file's order."""
    out: dict[str, Entry] = {}
    for message in read_po_file(path):
        if not message.id:
            continue
        text = str(message.string or "")
        status = MISSING if not text else DRAFT if message.fuzzy else REVIEWED
        out[str(message.id)] = Entry(str(message.id), text, status)
    return out


def load_catalog(directory: Path = LOCALES_DIR, *, drafts: bool = False) -> Catalog:
    """Every language's texts from `directory`/<lang>.po; drafts shown only when `drafts`."""
    found = {lang: entries(directory / f"{lang}.po") for lang in LANGUAGES}
    messages = {lang: {e.key: e.text for e in es.values()
                       if e.status == REVIEWED or (drafts and e.status == DRAFT)}
                for lang, es in found.items()}
    draft_keys = {lang: {e.key for e in es.values() if e.status == DRAFT}
                  for lang, es in found.items() if lang != FALLBACK}
    return Catalog(messages, draft_keys)


def catalog_for(settings: Settings, *, drafts: bool | None = None) -> Catalog:
    """The catalog a process speaks with, by its TRANSLATIONS and LOCALES_DIR settings
    (`drafts`: shown or not whatever TRANSLATIONS says)."""
    shown = settings.translations == "drafts" if drafts is None else drafts
    return load_catalog(settings.locales_dir or LOCALES_DIR, drafts=shown)


def completeness(directory: Path = LOCALES_DIR) -> dict[str, dict[str, int]]:
    """Per translated language: how many of Spanish's texts are reviewed, drafts, missing."""
    spanish = entries(directory / f"{FALLBACK}.po")
    out = {}
    for lang in LANGUAGES:
        if lang == FALLBACK:
            continue
        own = entries(directory / f"{lang}.po")
        counts = {REVIEWED: 0, DRAFT: 0, MISSING: 0}
        for key in spanish:
            counts[own[key].status if key in own else MISSING] += 1
        out[lang] = counts
    return out


def write_texts(path: Path, texts: dict[str, tuple[str, bool]]) -> None:
    """Set the text and the reviewed state (True: reviewed, False: a draft) of keys of one .po
    file, keeping every other entry, comment and flag; written whole, then moved into place."""
    catalog = read_po_file(path)
    for key, (text, reviewed) in texts.items():
        message = catalog[key]
        if message is None:
            raise KeyError(key)
        message.string = text
        if reviewed:
            message.flags.discard("fuzzy")
        else:
            message.flags.add("fuzzy")
    tmp = path.with_suffix(".po.tmp")
    with tmp.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False)
    tmp.replace(path)
