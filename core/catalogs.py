"""Loads the gettext catalogs (Babel .po files) into the pure dialogs.Catalog."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from dialogs.texts import LANGUAGES, Catalog

LOCALES_DIR = Path(__file__).resolve().parent.parent / "dialogs" / "locales"


def read_messages(path: Path) -> dict[str, str]:
    """key -> text of one .po file; fuzzy and empty entries count as untranslated."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }


def load_catalog(directory: Path = LOCALES_DIR) -> Catalog:
    """Every language's texts from `directory`/<lang>.po."""
    return Catalog({lang: read_messages(directory / f"{lang}.po") for lang in LANGUAGES})
