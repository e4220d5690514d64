"""The size checks' worst cases are at least as long as the longest real values.

tests/test_menu.py and tests/test_sms_texts.py render every screen and every SMS, in the three
languages and both TRANSLATIONS modes, with worst-case values (names, pay points, addresses,
members). Those checks prove something about real data only if no real value is longer: here the
demo's data (as `mijuntos up` writes it) and the national-size data of the benchmarks (the same
generator at 760,000 households: its pay points) are measured against them.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from mijuntos_dev.demo_data import plan_points, write_demo_data

from dialogs.choice import initials, long_label
from dialogs.engine import MAX_NAME
from tests.dialog_facts import LONG_ADDRESS, LONG_PLACE
from tests.test_menu import MEMBERS
from tests.test_sms_texts import LONGEST_PLACE

NATIONAL = 760_000


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_worst_cases_cover_the_demo_and_the_national_data(tmp_path: Path) -> None:
    write_demo_data(tmp_path, 20_000, today=dt.date(2026, 12, 2))
    padron = rows(tmp_path / "padron.csv")
    schedule = rows(tmp_path / "cronograma.csv")
    members = rows(tmp_path / "corresponsabilidades.csv")
    national = plan_points(random.Random(7), NATIONAL)
    assert len(national) > 3000  # about 3,600 pay points, as nationally
    places = [r["lugar"] for r in schedule] + [p.lugar for p in national]
    addresses = [r["direccion"] for r in schedule] + [p.direccion for p in national]
    # A screen shows the first name cut to MAX_NAME; the checks use a name that long.
    assert max(len(r["nombres"].split()[0]) for r in padron) <= len("Maximilianaaaa") == MAX_NAME
    # Pay points: the screens' worst case, and the SMS's (the import contract's 120 characters).
    assert max(map(len, places)) <= len(LONG_PLACE) <= len(LONGEST_PLACE), max(places, key=len)
    assert max(map(len, addresses)) <= len(LONG_ADDRESS), max(addresses, key=len)
    # Members and their details on the co-responsibilities screen.
    assert max(len(r["miembro"]) for r in members) <= min(len(m.miembro) for m in MEMBERS)
    assert max(len(r["detalle"]) for r in members) <= min(len(m.detalle) for m in MEMBERS)
    # A shared phone's labels: the longest initials the data gives, as "hogar de ..." says them.
    longest = max((long_label(initials(r["nombres"], r["apellidos"])) for r in padron), key=len)
    assert len(longest) <= len("A.B.C.D."), longest
