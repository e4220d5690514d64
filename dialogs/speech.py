"""The dialog's replies spoken: a reply's text as a sequence of prompts (issue 17, docs/VOICE.md).

Pure: no files, no audio. A prompt is either a fixed phrase, named after the catalog key it comes
from (its audio is a file per language and name, synthesized for the demo or recorded by the
programme), or dynamic text (a pay point's name, an address) that the voice channel says with the
provider's voice or a synthesized file cached by its text.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.texts import Catalog


@dataclass(frozen=True)
class Phrase:
    """A fixed phrase: the audio file `<lang>/<name>.wav`."""

    name: str


@dataclass(frozen=True)
class Text:
    """Dynamic text, spoken as it is written (a place, a person's name)."""

    value: str


Prompt = Phrase | Text


@dataclass(frozen=True)
class Required:
    """A phrase every complete prompt set has: its language, file name and the text it says."""

    lang: str
    name: str
    text: str


def required_prompts(catalog: Catalog) -> list[Required]:
    """Every phrase a call can need, in every language of `catalog` (the prompt set to make).

    A language's phrase is said in that language's text, or in Spanish where it has none yet
    (as the screens fall back).
    """
    raise NotImplementedError  # issue 17: the lead writes this (see docs/VOICE.md)
