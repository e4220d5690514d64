"""Synthetic titulars and their members: unique DNIs and phones, names, languages, top-ups."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from mijuntos_dev.demo_geo import CHILD_NAMES, SECOND_NAMES, SURNAMES, TITULAR_NAMES, District

# Affine maps i -> (a*i + b) mod 10**8 are bijections when a is coprime with 10, which gives
# unique DNIs and phones without remembering the ones already handed out.
_DNI_STEP = 7_654_321
_PHONE_STEP = 3_141_593
_SPACE = 10**8
# Forced profiles (see demo_data.FORCED): members needed and idioma of the first households.
_FORCED_MEMBERS = {0: "any", 1: "salud", 2: "educacion", 5: "none"}
_FORCED_IDIOMA = ["es", "ay", "qu", ""]
_FORCED_ESTADO = {3: "suspendido", 4: "desafiliado"}
FORCED_COUNT = 8  # households 0..7 have hand-made profiles
STAFF_PHONES = 6  # phones set apart for the demo's gestores (demo_gestores.STAFF)

# Birth dates count back from a fixed day, not from today: the demo identities the README
# quotes (DNI and date of birth) must be the same on every day it is run.
BORN_BY = dt.date(2026, 1, 1)


@dataclass(frozen=True)
class Member:
    """A member with a co-responsibility: CRED child, pregnant titular or pupil."""

    name: str
    tipo: str
    detalle: str
    topup: int  # soles added to the base transfer


@dataclass
class Person:
    """A household's titular and its members, with everything the CSV rows need."""

    hogar_id: str
    dni: str
    nombres: str
    apellidos: str
    dob: dt.date
    phone: str | None
    phone_spelled: str
    idioma: str
    district: District
    estado: str
    members: list[Member]
    stranger_phone: str

    @property
    def dob_ddmmaaaa(self) -> str:
        """The date of birth as typed on a phone keypad."""
        return self.dob.strftime("%d%m%Y")

    def has(self, tipo: str) -> bool:
        """Whether some member has a co-responsibility of this tipo."""
        return any(m.tipo == tipo for m in self.members)

    def monto(self) -> str:
        """S/ 200 plus S/ 100 once for a pregnancy or newborn, S/ 80 per secondary pupil."""
        pupils = sum(1 for m in self.members if m.topup == 80)
        extra = 100 if any(m.topup == 100 for m in self.members) else 0
        return str(200 + extra + 80 * pupils)

    def padron_row(self) -> list[str]:
        """The padron.csv row."""
        d = self.district
        return [self.hogar_id, self.dni, self.nombres, self.apellidos, self.dob.isoformat(),
                self.phone_spelled, self.idioma, d.ubigeo, d.ut, self.estado]


class People:
    """Makes the titular of household i, deterministically for a seed."""

    def __init__(self, rng: random.Random, seed: int, households: int, today: dt.date) -> None:
        self.rng = rng
        self.today = today
        self.dni_offset = (seed * 1_000_003 + 12_345_678) % _SPACE
        self.phone_offset = (seed * 999_983 + 55_555_555) % _SPACE
        # A number nobody in the padron has: a later index of the phone bijection, whose last
        # three digits (all a masked log line shows of it) are not those of a hand-made
        # household's phone, which the demo prints beside it (households `households` and
        # `households - 1000` would otherwise end alike).
        shown = {self._phone_digits(i)[-3:] for i in range(min(households, FORCED_COUNT))}
        # The gestores' phones do not depend on the size: the demo prints one, the docs quote it.
        self.staff_phones = self._staff_phones(
            {self._phone_digits(i)[-3:] for i in range(FORCED_COUNT)})
        shown |= {digits[-3:] for digits in self.staff_phones}
        index = households
        while self._phone_digits(index)[-3:] in shown:
            index += 1
        self.stranger = self._phone_digits(index)

    def _staff_phones(self, shown: set[str]) -> list[str]:
        """Phones for the demo's gestores: the bijection's last indices, which no padron of a
        realistic size reaches, each ending in three digits no other printed phone ends in."""
        phones: list[str] = []
        index = _SPACE - 1
        while len(phones) < STAFF_PHONES:
            digits = self._phone_digits(index)
            if digits[-3:] not in shown | {p[-3:] for p in phones}:
                phones.append(digits)
            index -= 1
        return phones

    def _phone_digits(self, i: int) -> str:
        return f"9{(_PHONE_STEP * i + self.phone_offset) % _SPACE:08d}"

    def person(self, i: int, district: District) -> Person:
        """The titular of household i, living in `district`."""
        rng = self.rng
        digits = self._phone_digits(i)
        has_phone = i in (0, 1) or rng.random() < 0.85
        first = rng.choice(TITULAR_NAMES)
        second = rng.choice(SECOND_NAMES)
        surnames = SURNAMES[district.surnames]
        age_days = rng.randint(18 * 365 + 5, 55 * 365)
        return Person(
            hogar_id=f"H{i + 1:08d}",
            dni=f"{(_DNI_STEP * i + self.dni_offset) % _SPACE:08d}",
            nombres=f"{first} {second}".strip().upper(),
            apellidos=f"{rng.choice(surnames)} {rng.choice(surnames)}".upper(),
            dob=BORN_BY - dt.timedelta(days=age_days),
            phone=f"+51{digits}" if has_phone else None,
            phone_spelled=_spell(rng, digits) if has_phone else "",
            idioma=self._idioma(i, district),
            district=district,
            estado=_FORCED_ESTADO.get(i, "afiliado") if i < FORCED_COUNT else _estado(rng),
            members=self._members(i, first, age_days < 44 * 365),
            stranger_phone=f"+51{self.stranger}",
        )

    def _idioma(self, i: int, district: District) -> str:
        if i < len(_FORCED_IDIOMA):
            return _FORCED_IDIOMA[i]
        x = self.rng.random()
        if x < district.ay:
            return "ay"
        if x < district.ay + district.qu:
            return "qu"
        return "" if x > 0.8 else "es"  # empty means es, and real exports do leave it empty

    def _members(self, i: int, titular: str, can_be_pregnant: bool) -> list[Member]:
        rng = self.rng
        forced = _FORCED_MEMBERS.get(i)
        if forced == "none":
            return []
        x = rng.random()
        count = 0 if x < 0.05 else 1 if x < 0.65 else 2 if x < 0.95 else 3
        if forced and count == 0:
            count = 1
        names = rng.sample(CHILD_NAMES, count)
        return [_member(rng, n, name, titular, forced, can_be_pregnant)
                for n, name in enumerate(names)]


def _member(rng: random.Random, n: int, name: str, titular: str, forced: str | None,
            can_be_pregnant: bool) -> Member:
    """The n-th member: a CRED child, the pregnant titular herself, or a pupil."""
    x = rng.random()
    if n == 0 and forced == "salud":
        x = 0.4
    elif n == 0 and forced == "educacion":
        x = 0.9
    if x < 0.1 and n == 0 and can_be_pregnant:
        return Member(titular.title(), "salud", "control prenatal", 100)
    if x < 0.45:
        return Member(name, "salud", "control CRED", 100 if rng.random() < 0.2 else 0)
    return Member(name, "educacion", "asistencia escolar", 80 if rng.random() < 0.3 else 0)


def _estado(rng: random.Random) -> str:
    x = rng.random()
    return "suspendido" if x < 0.04 else "desafiliado" if x < 0.07 else "afiliado"


def _spell(rng: random.Random, digits: str) -> str:
    """A common way of writing the mobile 9XXXXXXXX."""
    x = rng.random()
    if x < 0.5:
        return digits
    if x < 0.7:
        return "51" + digits
    if x < 0.9:
        return f"+51 {digits[:3]} {digits[3:6]} {digits[6:]}"
    if x < 0.95:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return "+51" + digits
