"""The dialog's replies spoken: a reply's text as a sequence of prompts (issue 17, docs/VOICE.md).

Pure: no files, no audio. The voice channel runs the same dialog as USSD and gets the same reply
text; this module reads that text back into what made it. Each line of a reply is one line of a
catalog text with its placeholders filled, so it is matched against the catalog's lines
(`SpeechIndex`), and spoken as:

- fixed phrases, by catalog key: the literal pieces of the matched line, each an audio file per
  language (`main_menu.2` is the third literal piece of `main_menu`). A key `voice_K`, where
  the catalog has one, is what a caller hears instead of `K` (the keypad, not the screen).
- menus read as menus: a line "1 Proximo pago" is said "Para [Proximo pago], marque [1]".
- data spoken as data: dates as day and month names, times, amounts, periods and phone digits
  from the vocabulary keys (`voice_num_N`, `voice_month_N`, `voice_digit_D`, ...); a value that
  is itself catalog text (the dates of a payment, a reason) is read back the same way.
- the rest (a person's or a pay point's name, an address) as `Text`, said with the provider's
  voice or a file synthesized from the text.

A reply line that matches nothing in the catalog is spoken as `Text` too; the tests check that
no screen of any language needs that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dialogs.texts import FALLBACK, Catalog

SLOT = re.compile(r"\{(\w+)\}")
MENU_LINE = re.compile(r"^(\d{1,2}) (\S.*)$")
WORDY = re.compile(r"[A-Za-z0-9ñÑüÜ]")
VOICE = "voice_"  # keys said instead of their screen's text, and the spoken vocabulary
# Texts never spoken: SMS only.
NOT_SPOKEN = ("sms_", "category_", "reminder_")
# Said by the provider's voice, never written into a cached (public) audio file: people's names
# and a member's co-responsibility detail (health or school).
PERSON_SLOTS = frozenset({"name", "member", "initials", "detail"})

DATE = re.compile(r"^(\d{2})/(\d{2})(?:/(\d{4}))?$")
TIME = re.compile(r"^(\d{2}):(\d{2})$")
AMOUNT = re.compile(r"^(\d+)\.(\d{2})$")
PERIOD = re.compile(r"^(\d{4})-(\d{1,2})$")
MASKED = re.compile(r"^\*{3} \*{3} (\d{3})$")
KEYS = re.compile(r"^\+?[0-9*#][0-9*# -]*$")  # a helpline, a service code, digits
NUMBER_SLOTS = frozenset({"count", "left", "minutes", "hours", "cap"})
DIGIT_NAMES = {"*": "star", "#": "hash"}
# On a call a menu takes one key: these stand for the screens' two-key options (gateway/voice.py).
ONE_KEY = {"*": "00", "9": "98"}
_SAID_AS = {two: one for one, two in ONE_KEY.items()}
NUMBERS = tuple(range(0, 60)) + tuple(range(100, 1001, 100))  # voice_num_N in every language
YEARS = tuple(range(2024, 2033))  # voice_year_N
# What a placeholder holds when it is data, so that a line is read back with the values in their
# places (an action's helpline is digits, not the words before it).
_DIGITS = r"\+?[0-9*#][0-9*# -]*"
_DAY = r"\d{2}/\d{2}(?:/\d{4})?"
_PHONE = r"\*{3} \*{3} \d{3}"
SLOT_PATTERNS = {"helpline": _DIGITS, "code": _DIGITS, "n": r"\d{1,2}", "count": r"\d+",
                 "left": r"\d+", "minutes": r"\d+", "hours": r"\d+", "cap": r"\d+",
                 "periodo": r"\d{4}-\d{1,2}", "open": r"\d{2}:\d{2}|-", "close": r"\d{2}:\d{2}|-",
                 "day": _DAY, "date": _DAY, "start": _DAY, "end": _DAY, "amount": r"\d+\.\d{2}",
                 "masked": _PHONE, "new": _PHONE, "old": _PHONE}


@dataclass(frozen=True)
class Phrase:
    """A fixed phrase: the audio file `<lang>/<name>.wav`."""

    lang: str
    name: str


@dataclass(frozen=True)
class Text:
    """Dynamic text, spoken as it is written; `person`: a person's name or a member's detail
    (never cached as a file)."""

    lang: str
    value: str
    person: bool = False


Prompt = Phrase | Text


@dataclass(frozen=True)
class Required:
    """A phrase every complete prompt set has: its language, file name and the text it says."""

    lang: str
    name: str
    text: str


@dataclass(frozen=True)
class _Piece:
    """A literal piece of a catalog text (a menu line's label when `digit` is set)."""

    name: str
    text: str
    digit: str | None = None


@dataclass(frozen=True)
class _Slot:
    name: str


def spoken_key(catalog: Catalog, lang: str, key: str) -> str:
    """The key whose text a caller hears for `key`: its `voice_` twin where there is one."""
    twin = VOICE + key
    return twin if catalog.messages.get(lang, {}).get(twin) or catalog.messages[FALLBACK].get(twin) \
        else key


def _lang_text(catalog: Catalog, lang: str, key: str) -> tuple[str, str]:
    """(the language actually used, the text) for a key: `lang`'s, else Spanish's."""
    own = catalog.messages.get(lang, {}).get(key)
    return (lang, own) if own else (FALLBACK, catalog.messages[FALLBACK].get(key, ""))


def pieces(key: str, template: str) -> list[_Piece | _Slot]:
    """A catalog text cut into literal pieces (named `key.N`, or `key` when it is the only
    one) and placeholders; menu lines keep only their label, the digit aside."""
    raw: list[tuple[str, str | None] | _Slot] = []
    for line in template.split("\n"):
        found = MENU_LINE.match(line)
        if found and not SLOT.search(line):
            raw.append((found.group(2), found.group(1)))
            continue
        position = 0
        for slot in SLOT.finditer(line):
            raw.append((line[position:slot.start()], None))
            raw.append(_Slot(slot.group(1)))
            position = slot.end()
        raw.append((line[position:], None))
    literal = [r for r in raw if not isinstance(r, _Slot) and WORDY.search(r[0])]
    single = len(literal) == 1 and not any(isinstance(r, _Slot) for r in raw)
    out: list[_Piece | _Slot] = []
    n = 0
    for item in raw:
        if isinstance(item, _Slot):
            out.append(item)
        elif WORDY.search(item[0]):
            out.append(_Piece(key if single else f"{key}.{n}", item[0].strip(" ,.:;"), item[1]))
            n += 1
    return out


def spoken_keys(catalog: Catalog) -> list[str]:
    """The keys a call can say (screens, notices, the vocabulary), not the SMS-only ones."""
    return sorted(k for k in catalog.keys if not k.startswith(NOT_SPOKEN))


def required_prompts(catalog: Catalog) -> list[Required]:
    """Every phrase a call can need, in every language of `catalog` (the prompt set to make).

    A language's phrase is said in that language's text, or in Spanish where it has none yet
    (as the screens fall back): the Spanish file then stands in, so it is not asked twice.
    """
    out: dict[tuple[str, str], Required] = {}
    for lang in catalog.messages:
        for key in spoken_keys(catalog):
            said = spoken_key(catalog, lang, key)
            used, text = _lang_text(catalog, lang, said)
            for piece in pieces(said, text):
                if isinstance(piece, _Piece):
                    out.setdefault((used, piece.name), Required(used, piece.name, piece.text))
    return sorted(out.values(), key=lambda r: (r.lang, r.name))


@dataclass(frozen=True)
class _Line:
    key: str
    lang: str
    regex: re.Pattern[str]
    literal: int  # characters of literal text: the more, the better a match
    # The line's pieces, named over the key's whole text ("main_menu.2" is its third piece).
    pieces: tuple[_Piece | _Slot, ...]


class SpeechIndex:
    """The catalog's lines as patterns, to read a reply's text back into catalog keys."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.lines: dict[str, list[_Line]] = {}
        for lang in catalog.messages:
            found: list[_Line] = []
            for key in spoken_keys(catalog):
                if key.startswith(VOICE):
                    continue  # never on a screen
                for used in dict.fromkeys((lang, FALLBACK)):
                    text = catalog.messages.get(used, {}).get(key)
                    if not text:
                        continue
                    for line, made_of in zip(text.split("\n"), _pieces_by_line(key, text),
                                             strict=True):
                        pattern = _line_pattern(line)
                        if pattern is not None:
                            found.append(_Line(key, used, pattern, len(SLOT.sub("", line)),
                                               tuple(made_of)))
            self.lines[lang] = found

    def match(self, lang: str, line: str) -> tuple[_Line, dict[str, str]] | None:
        """The catalog line `line` was made from (the most literal of those that fit)."""
        best: tuple[_Line, dict[str, str]] | None = None
        for candidate in self.lines.get(lang, self.lines[FALLBACK]):
            found = candidate.regex.fullmatch(line)
            if found and (best is None or candidate.literal > best[0].literal):
                best = (candidate, {k.split("__")[0]: v for k, v in found.groupdict().items()})
        return best

    def speak(self, lang: str, text: str) -> list[Prompt]:
        """A reply's text (CON/END stripped) as prompts, line by line."""
        out: list[Prompt] = []
        twin_said: str | None = None  # a voice twin is said once for all its text's lines
        for line in text.split("\n"):
            if not line.strip():
                continue
            found = self.match(lang, line.strip())
            key = found[0].key if found is not None else None
            if key is not None and key == twin_said:
                continue
            twin_said = key if key is not None and spoken_key(self.catalog, lang, key) != key else None
            out.extend(self._line(lang, line.strip(), found))
        return out

    def say(self, lang: str, key: str) -> list[Prompt]:
        """A catalog text with no placeholders, said as its phrases (a call's own words)."""
        return self._template(lang, key)

    def unmatched(self, lang: str, text: str) -> list[str]:
        """The lines of `text` that no catalog line matches (spoken as plain text)."""
        return [line for line in text.split("\n") if line.strip() and self.match(lang, line.strip()) is None]

    def _line(self, lang: str, line: str,
              found: tuple[_Line, dict[str, str]] | None = None) -> list[Prompt]:
        """One reply line as prompts; `found`: its match, when the caller has it already."""
        found = found or self.match(lang, line)
        if found is None:
            return [Text(lang, line)]
        matched, values = found
        said = spoken_key(self.catalog, lang, matched.key)
        used, template = _lang_text(self.catalog, lang, said)
        if said == matched.key:
            used, wanted = matched.lang, list(matched.pieces)  # this line's pieces only
        else:
            wanted = pieces(said, template)  # the voice twin is said whole, once per line
        out: list[Prompt] = []
        for piece in wanted:
            if isinstance(piece, _Slot):
                out.extend(self._value(lang, piece.name, values.get(piece.name, "")))
            elif piece.digit is not None:
                out.extend(self._option(lang, Phrase(used, piece.name), piece.digit))
            else:
                out.append(Phrase(used, piece.name))
        return out

    def _option(self, lang: str, label: Phrase, digit: str) -> list[Prompt]:
        """"Para <label>, marque <digit>"."""
        used, template = _lang_text(self.catalog, lang, "voice_option")
        out: list[Prompt] = []
        for piece in pieces("voice_option", template):
            if isinstance(piece, _Piece):
                out.append(Phrase(used, piece.name))
            elif piece.name == "label":
                out.append(label)
            else:
                out.extend(self.digits(lang, _SAID_AS.get(digit, digit)))
        return out

    def _value(self, lang: str, slot: str, value: str) -> list[Prompt]:
        """A placeholder's value: catalog text read back, data as data, else text."""
        value = value.strip()
        if not value:
            return []
        nested = self.match(lang, value)
        if nested is not None and nested[0].literal > 0:
            return self._line(lang, value, nested)
        return self.data(lang, slot, value)

    def data(self, lang: str, slot: str, value: str) -> list[Prompt]:
        if (found := DATE.fullmatch(value)) is not None:
            day, month = int(found.group(1)), int(found.group(2))
            return self._template(lang, "voice_date", day=self.number(lang, day),
                                  month=[self._word(lang, f"voice_month_{month}")])
        if (found := TIME.fullmatch(value)) is not None:
            hour, minute = int(found.group(1)), int(found.group(2))
            if minute == 0:
                return self._template(lang, "voice_time", hour=self.number(lang, hour))
            return self._template(lang, "voice_time_minutes", hour=self.number(lang, hour),
                                  minute=self.number(lang, minute))
        if (found := AMOUNT.fullmatch(value)) is not None:
            return self._template(lang, "voice_amount", soles=self.number(lang, int(found.group(1))))
        if (found := PERIOD.fullmatch(value)) is not None:
            return self._template(lang, "voice_period", n=self.number(lang, int(found.group(2))),
                                  year=self.year(lang, int(found.group(1))))
        if (found := MASKED.fullmatch(value)) is not None:
            return self._template(lang, "voice_phone_end", digits=self.digits(lang, found.group(1)))
        if value.isdigit() and slot in NUMBER_SLOTS:
            return self.number(lang, int(value))
        if KEYS.fullmatch(value):
            return self.digits(lang, value)
        return [Text(lang, value, person=slot in PERSON_SLOTS)]

    def _template(self, lang: str, key: str, **values: list[Prompt]) -> list[Prompt]:
        used, template = _lang_text(self.catalog, lang, key)
        out: list[Prompt] = []
        for piece in pieces(key, template):
            if isinstance(piece, _Piece):
                out.append(Phrase(used, piece.name))
            else:
                out.extend(values.get(piece.name, []))
        return out

    def _word(self, lang: str, key: str) -> Phrase:
        used, _ = _lang_text(self.catalog, lang, key)
        return Phrase(used, key)

    def digits(self, lang: str, keys: Iterable[str]) -> list[Prompt]:
        return [self._word(lang, f"voice_digit_{DIGIT_NAMES.get(k, k)}") for k in keys
                if k.isdigit() or k in DIGIT_NAMES]

    def number(self, lang: str, n: int) -> list[Prompt]:
        """A number as a word where the vocabulary has it, else digit by digit."""
        if n in NUMBERS:
            return [self._word(lang, f"voice_num_{n}")]
        return self.digits(lang, str(n))

    def year(self, lang: str, n: int) -> list[Prompt]:
        return [self._word(lang, f"voice_year_{n}")] if n in YEARS else self.digits(lang, str(n))


def _line_pattern(line: str) -> re.Pattern[str] | None:
    """A catalog line as a pattern (its placeholders as groups); None for a line of no words."""
    literal = SLOT.sub("", line)
    # A line of words; or of placeholders joined by punctuation ("{periodo}, {dates}"), which
    # only ever holds other values.
    if not WORDY.search(literal) and not (len(SLOT.findall(line)) > 1 and literal.strip()):
        return None
    parts: list[str] = []
    position = 0
    seen: dict[str, int] = {}
    for slot in SLOT.finditer(line):
        parts.append(re.escape(line[position:slot.start()]))
        name = slot.group(1)
        seen[name] = seen.get(name, 0) + 1
        group = name if seen[name] == 1 else f"{name}__{seen[name]}"
        parts.append(f"(?P<{group}>{SLOT_PATTERNS.get(name, '.+?')})")
        position = slot.end()
    parts.append(re.escape(line[position:]))
    return re.compile("".join(parts))


def _pieces_by_line(key: str, template: str) -> list[list[_Piece | _Slot]]:
    """`pieces(key, template)` cut at the template's line breaks: each line's own pieces, named
    as in the whole text."""
    named = iter([p for p in pieces(key, template) if isinstance(p, _Piece)])
    return [[p if isinstance(p, _Slot) else next(named) for p in pieces(key, line)]
            for line in template.split("\n")]
