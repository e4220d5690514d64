"""Message catalogs as data: key -> text per language, Spanish as the fallback."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from string import Formatter
from typing import Any

FALLBACK = "es"
LANGUAGES = ("es", "qu", "ay")


def placeholders(text: str) -> set[str]:
    """The named fields (`{name}`) a text uses."""
    return {name for _, name, _, _ in Formatter().parse(text) if name}


class CatalogError(Exception):
    """A catalog is incomplete or malformed."""


Translate = Callable[..., str]


class Catalog:
    """Texts per language; a missing or empty translation falls back to Spanish.

    `drafts`: per language, the keys whose text is a draft not reviewed yet (shown only when the
    host loaded the catalog in drafts mode, TRANSLATIONS=drafts); every other text is reviewed.
    """

    def __init__(self, messages: Mapping[str, Mapping[str, str]],
                 drafts: Mapping[str, Collection[str]] | None = None) -> None:
        if FALLBACK not in messages:
            raise CatalogError(f"catalog: no {FALLBACK!r} messages")
        self.messages = {lang: dict(msgs) for lang, msgs in messages.items()}
        self.drafts = {lang: frozenset(keys) for lang, keys in (drafts or {}).items()}

    @property
    def keys(self) -> set[str]:
        return set(self.messages[FALLBACK])

    def text(self, lang: str, key: str, **params: Any) -> str:
        """The text for `key` in `lang` (or Spanish), with `params` filled in."""
        raw = self.messages.get(lang, {}).get(key) or self.messages[FALLBACK].get(key)
        if raw is None:
            raise CatalogError(f"{key}: not in the {FALLBACK!r} catalog")
        return raw.format(**params) if params else raw

    def translator(self, lang: str) -> Translate:
        """A function key, **params -> text bound to one language."""

        def t(key: str, **params: Any) -> str:
            return self.text(lang, key, **params)

        return t

    def missing(self, lang: str) -> list[str]:
        """Keys that `lang` has not translated yet (they show in Spanish)."""
        own = self.messages.get(lang, {})
        return sorted(k for k in self.keys if not own.get(k))

    def for_review(self, lang: str | None) -> ReviewCatalog:
        """This catalog as a reviewer uses it in the simulator: every text in `lang` (whatever
        the household's language; None keeps it), and the keys each hop used, recorded."""
        return ReviewCatalog(self, lang)

    def shows_drafts(self, lang: str) -> bool:
        """Some of `lang`'s texts shown are drafts, not reviewed yet."""
        own = self.messages.get(lang, {})
        return any(own.get(k) for k in self.drafts.get(lang, ()))

    def placeholders(self, lang: str, key: str) -> set[str]:
        """The named fields a text uses, to check translations keep them."""
        return placeholders(self.messages.get(lang, {}).get(key) or "")


class ReviewCatalog(Catalog):
    """A catalog pinned to one language for a review session, recording the keys it renders."""

    def __init__(self, base: Catalog, lang: str | None) -> None:
        self.messages = base.messages
        self.drafts = base.drafts
        self.lang = lang if lang in self.messages else None
        self.used: list[str] = []

    def text(self, lang: str, key: str, **params: Any) -> str:
        if key not in self.used:
            self.used.append(key)
        return super().text(self.lang or lang, key, **params)
