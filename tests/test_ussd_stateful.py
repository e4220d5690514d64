"""A Hypothesis state machine drives random USSD walks against the real app and Redis: random
inputs, resent hops, drops and resumes, concurrent sessions of one phone, and SMS queries that
share the same lockout and DNI limit.

The walks are steered to the DNI and date-of-birth screens with the seeded households' DNIs
(right and wrong dates), so wrong-date lockouts and the per-phone DNI limit are reached in
ordinary runs. A model of the rules, kept apart from the app's code, predicts each hop:

- a wrong date of birth counts against the DNI on every phone and channel; a right one (while
  not locked) forgets the count; `dob_max_attempts` wrong dates lock the DNI, and a locked DNI
  is refused everywhere until the lock expires (30 minutes: never, within a walk);
- a phone may ask about `max_dnis_per_phone_per_day` distinct DNIs a day (unknown and locked
  ones too, each once); past the limit a new DNI is refused before any lock is told, so the
  refusal says nothing of whether that DNI exists;
- a session is verified by its phone of record (the phone's only household; on a phone shared by
  several, the one chosen by number, or a DNI among them) or by a DNI and its right date of
  birth, and by nothing else; a shared phone's main menu leads back to its chooser (6);
- a dropped session leaves its last resumable screen to the phone; a new session is offered
  "continue / start over" unless it would only resume the menu the phone gets anyway; resuming a
  verified session on a phone that is not that household's asks its date of birth first (a
  wrong one counts like any other) and a right one restores the screen she left;
- a resent hop (same sessionId and text) gets the same reply and changes nothing;
- option 4 from another phone moves the household only once confirmed; its former phone is
  still recognised for it (the grace period outlasts a walk) and, dialing, is first offered to
  undo the move, which gives it the household back;
- a household is moved once at a time: while a move of it may still be undone, another is
  refused (its former phone confirming one takes it back instead), and once a move of it was
  undone, every move of it is refused (the cooling-off period, too, outlasts a walk);
- a shared phone's chooser reached by "6" goes back to the household she was in by "0" or "00",
  and "00" on the date asked for a DNI typed on a chooser goes back to the chooser.

Every hop is checked against the prediction: the screen the app stored and the household it
considers verified, the texts that matter (attempts left, locked, limit), CON/END within 182
GSM-7 characters, and no household data on screen unless the model says the caller is verified.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field, replace

import pytest
import redis as redis_lib
from flask import Flask
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test
from sqlalchemy import select

from core.keys import key_for
from dialogs.gsm import is_gsm7
from models import Base, Database, Household, OutboxMessage
from tests.support import ROSA_PHONE, SHARED_PHONE, STRANGER_PHONE, TEST_TODAY, seed

OTHER_PHONE = "+51900000002"
# Phones without a household dial more often: they are the ones that reach the DNI prompt.
PHONES = st.sampled_from([STRANGER_PHONE, STRANGER_PHONE, OTHER_PHONE, OTHER_PHONE, SHARED_PHONE,
                          ROSA_PHONE])
UNKNOWN_DNIS = ["99999999", "99999998", "99999997"]
WRONG_DATES = ["01011999", "2/1/1986", "31121980"]  # real dates, nobody's date of birth
BAD_DATES = ["3113", "31022000", "x", "00000000", "01012020"]  # re-asked, never counted
MENU_KEYS = st.sampled_from(["0", "00", "1", "1", "2", "3", "4", "5", "6", "98", "9", "", "x"])
CHOICE_KEYS = st.sampled_from(["1", "2", "3", "0", "7"])
RESUME_KEYS = st.sampled_from(["1", "1", "2", "0"])
RANDOM_INPUT = st.text(alphabet="0123456789 .-x#", max_size=10)
MAX_OPEN = 3  # sessions open at once, all phones together
PICK = st.integers(0, 5)  # which session: 0 is the newest that qualifies
RANDOM, RIGHT = "<random>", "<right>"  # in the pools below: draw digits / the right date
EIGHT_DIGITS = st.text(alphabet="0123456789", min_size=8, max_size=8)
MAX_TEXT = 480  # a session's text stays under the 500 characters a hop may carry
MAX_UNKNOWN_DNI = 3  # unknown DNIs in one session before it ends (see the transcripts)

# Screens, as the app names them in the session it stores.
END = {"bye", "locked", "not_verified", "too_many", "dni_limit"}
RESUMABLE = {"dob", "main", "pay", "status", "coresp", "remind", "lang"}
BACK_TARGETS = {"main", "pay", "status", "coresp", "remind", "lang"}  # what "0" may go back to
MAIN_OPTIONS = {"1": "pay", "2": "status", "3": "coresp", "4": "remind", "5": "lang", "0": "bye"}
UNVERIFIED = {"resume", "dni", "choose", "dob", "resume_dob", "bye", "locked", "not_verified",
              "too_many", "dni_limit",
              "moved_away"}
DATE_SCREENS = ("dob", "resume_dob")
MAX_LISTED = 4  # households a shared phone's chooser numbers (the seeded ones all differ)
# What each screen says (Spanish: no verified household, so no other language, reaches them).
SCREEN_TEXT = {
    "resume": "Tiene una consulta sin terminar",
    "dni": "Ingrese el DNI",
    "choose": "Celular de",
    "resume_dob": "Para seguir donde se quedo",
    "dob": "fecha de nacimiento",
    "locked": "Por seguridad, este DNI esta bloqueado",
    "dni_limit": "Este celular ya consulto varios DNI hoy",
    "not_verified": "No pudimos encontrar su hogar",
    "too_many": "Demasiadas opciones no validas",
    "moved_away": "pasaron al celular",  # "de su hogar", or "del hogar de C.T." on a shared phone
    "move_refused": "Por seguridad, el celular de este hogar no puede cambiarse ahora.",
}
# Household data: none of it may be on screen before verification.
PRIVATE = ("Hola", "Pago 2026", "Monto", "Agencia", "salud", "Corresponsabilidades", "Avisos por",
           "Motivo", "cobrado", "S/ ", "Idioma")

STATS: Counter[str] = Counter()  # what the walks reached, reported at the end of the run
SHRINK = os.environ.get("STATEFUL_SHRINK") == "1"
REACH = 0.03  # the share of walks that must reach a lock, and the DNI limit (each 13-50 % seen)
_ids = itertools.count(1)


@dataclass(frozen=True)
class House:
    hogar_id: str
    dni: str
    dob: dt.date
    name: str

    @property
    def dob_text(self) -> str:
        return self.dob.strftime("%d%m%Y")


@dataclass
class View:
    """What the model knows of one session's dialog (also what a phone leaves to resume)."""

    screen: str = "dni"
    verified: str | None = None  # the household the session is verified as
    pending: str | None = None  # the household whose DNI was typed, awaiting its date of birth
    candidates: tuple[str, ...] = ()  # households sharing the phone: their DNI alone verifies
    dni_tries: int = 0  # unknown DNIs typed in this session
    origin: str = "dni"  # where the DNI awaiting its date was typed: "0" goes back there
    restore: View | None = None  # on the date asked on resuming: the session it gives back
    left: str | None = None  # on a chooser reached by "6": the household "0"/"00" go back to


@dataclass
class Session:
    phone: str
    id: str = field(default_factory=lambda: f"st{next(_ids)}")
    inputs: list[str] = field(default_factory=list)
    last: str = ""
    view: View = field(default_factory=View)
    offer: View | None = None  # what "1 Continuar" restores, when the dial offered it
    dropped: View | None = None  # on the undo offer: the dropped session "2 Continuar" offers
    ended: bool = False
    resent: bool = False  # its last hop was resent already


@dataclass(frozen=True)
class Expect:
    """The screens a hop may lead to, and what must be on each of them."""

    screens: frozenset[str]
    texts: dict[str, tuple[str, ...]] = field(default_factory=dict)


def expect(*screens: str, **texts: tuple[str, ...]) -> Expect:
    return Expect(frozenset(screens), texts)


# The model reads inputs with its own few lines, on purpose, not with dialogs/validate.py: an
# oracle that shared the app's parsing would share its bugs.
def clean(raw: str) -> str:
    """An input without the spaces, dots, dashes and slashes people type between digits."""
    return re.sub(r"[\s.\-/]", "", raw.strip())


def check_char_wrong(raw: str) -> bool:
    """8 digits and a 9th character that is not the card's check digit or letter (RENIEC)."""
    value = clean(raw).upper()
    if len(value) != 9 or not value[:8].isdigit() or not (value[8].isascii() and value[8].isalnum()):
        return False
    c = sum(w * int(n) for w, n in zip((3, 2, 7, 6, 5, 4, 3, 2), value[:8], strict=True)) % 11
    return value[8] not in ("65432110987"[c], "KJIHGFEDCBA"[c])


def as_dni(raw: str) -> str | None:
    """8 digits, or 8 digits and the right check character printed on the card."""
    value = clean(raw).upper()
    if len(value) == 9 and value[:8].isdigit() and value[8].isascii() and value[8].isalnum():
        return None if check_char_wrong(raw) else value[:8]
    return value if len(value) == 8 and value.isdigit() else None


# A date typed with marks between its parts (5/3/1990, 05-03-1990, 5.3.1990, 05 03 1990).
DATE_WITH_MARKS = re.compile(r"(\d{1,2})\s*[\s/.\-]\s*(\d{1,2})\s*[\s/.\-]\s*(\d{4})")


def as_date(raw: str) -> dt.date | None:
    """DDMMAAAA or a date with marks: a calendar date (possible for a titular or not)."""
    if found := DATE_WITH_MARKS.fullmatch(raw.strip()):
        day, month, year = int(found[1]), int(found[2]), int(found[3])
    else:
        value = clean(raw)
        if len(value) != 8 or not value.isdigit():
            return None
        day, month, year = int(value[:2]), int(value[2:4]), int(value[4:])
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def possible_dob(born: dt.date) -> bool:
    """A titular's date of birth: from 1900 on, and at least 12 years before the tests' today."""
    return born.year >= 1900 and born <= TEST_TODAY.replace(year=TEST_TODAY.year - 12)


class World:
    """The rules shared by every session: lockouts per DNI, DNIs per phone, phones of record."""

    def __init__(self, houses: list[House], phones: dict[str, str | None], max_attempts: int,
                 max_dnis: int) -> None:
        self.houses = {h.hogar_id: h for h in houses}
        self.by_dni = {h.dni: h for h in houses}
        self.phone_of = dict(phones)
        self.max_attempts = max_attempts
        self.max_dnis = max_dnis
        self.wrong: Counter[str] = Counter()  # wrong dates per DNI since its last right one
        self.tried: dict[str, set[str]] = {}  # distinct DNIs each phone asked about today
        self.resume: dict[str, View] = {}  # each phone's dropped session, offered to resume
        self.moves: list[list[str | bool]] = []  # [household, former phone, still undoable]
        self.undone: set[str] = set()  # households a move of was undone: none moves again

    def moving(self, hogar_id: str) -> bool:
        """A move of the household may still be undone."""
        return any(open_ and hid == hogar_id for hid, old, open_ in self.moves)

    def former_of(self, phone: str) -> set[str]:
        """Households `phone` was the phone of record of until a move it may still undo."""
        return {str(hid) for hid, old, open_ in self.moves if open_ and old == phone}

    def moved_away(self, phone: str) -> str | None:
        """The household a dial from `phone` is offered to take back (the lowest code)."""
        return min((h for h in self.former_of(phone) if self.phone_of[h] != phone), default=None)

    def move(self, hogar_id: str, phone: str) -> str | None:
        """Option 4 confirmed from `phone`: the former phone, if there was one."""
        old = self.phone_of[hogar_id]
        if old is not None:
            self.moves.append([hogar_id, old, True])
        self.phone_of[hogar_id] = phone
        return old

    def undo(self, hogar_id: str, phone: str) -> None:
        """The former phone takes the household back: that move and the later ones close."""
        last = max(i for i, (hid, old, open_) in enumerate(self.moves)
                   if open_ and hid == hogar_id and old == phone)
        for move in self.moves[last:]:
            if move[0] == hogar_id:
                move[2] = False
        self.phone_of[hogar_id] = phone
        self.undone.add(hogar_id)

    def offers(self, phone: str, saved: View | None) -> bool:
        """A dropped session is offered back, unless it is only the menu the phone gets anyway."""
        return saved is not None and not (
            saved.screen == "main" and saved.verified in self.households_of(phone))

    def locked(self, dni: str) -> bool:
        return self.wrong[dni] >= self.max_attempts

    def households_of(self, phone: str) -> list[str]:
        return sorted({hid for hid, p in self.phone_of.items() if p == phone} | self.former_of(phone))

    def fresh(self, phone: str) -> View:
        """A new session: the phone's only household is verified, a shared phone is asked."""
        mine = self.households_of(phone)
        if len(mine) == 1:
            return View("main", verified=mine[0])
        return View("choose", candidates=tuple(mine)) if mine else View("dni")

    def listed(self, view: View, phone: str) -> list[str]:
        """The households a chooser numbers: its session's, still of this phone."""
        return [hid for hid in view.candidates if self.phone_of[hid] == phone][:MAX_LISTED]

    def may_try(self, phone: str, dni: str) -> bool:
        """The DNI limit: a DNI already asked about today, or a new one under the limit."""
        seen = self.tried.setdefault(phone, set())
        if dni not in seen and len(seen) >= self.max_dnis:
            return False
        seen.add(dni)
        return True

    def dob_given(self, house: House, born: dt.date) -> str:
        """A date of birth typed for `house` (not locked): "right", "wrong" or "locked"."""
        if born == house.dob:
            self.wrong[house.dni] = 0
            return "right"
        self.wrong[house.dni] += 1
        if self.locked(house.dni):
            STATS["locks"] += 1
            return "locked"
        return "wrong"


def read_houses(db: Database) -> tuple[list[House], dict[str, str | None]]:
    with db.session() as s:
        rows = s.scalars(select(Household).order_by(Household.hogar_id)).all()
        houses = [House(h.hogar_id, h.dni, h.fecha_nacimiento, h.nombres.split()[0].title())
                  for h in rows]
        return houses, {h.hogar_id: h.phone for h in rows}


def reseed(db: Database) -> None:
    """Back to the seeded households: walks move phones of record, languages and reminders."""
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    seed(db)


def make_machine(app: Flask, redis: redis_lib.Redis, db: Database) -> type[RuleBasedStateMachine]:
    client = app.test_client()
    config = app.extensions["mijuntos"].settings
    houses, phones = read_houses(db)
    names = {h.hogar_id: h.name for h in houses}
    assert not {as_date(d) for d in WRONG_DATES} & {h.dob for h in houses}
    assert not set(UNKNOWN_DNIS) & {h.dni for h in houses}
    # Mostly the first household without a phone (only a date of birth lets a caller in): its
    # DNI collects wrong dates across sessions, phones and SMS, and gets locked. The others,
    # unknown DNIs and random ones fill a phone's distinct DNIs up to its daily limit.
    no_phone = [h.dni for h in houses if phones[h.hogar_id] is None]
    with_phone = [h.dni for h in houses if phones[h.hogar_id] is not None]
    spaced = f"{with_phone[0][:3]} {with_phone[0][3:]}"  # a DNI typed with a space: the same DNI
    dni_pool = st.sampled_from(no_phone[:1] * 4 + no_phone + with_phone + UNKNOWN_DNIS
                               + [RANDOM, RANDOM, "1234", spaced])
    # Mostly wrong dates, so that three come before a right one or a step back.
    date_pool = st.sampled_from([RIGHT, RIGHT] + WRONG_DATES * 3 + BAD_DATES + ["0", "00"])

    @st.composite
    def dni_input(draw: st.DrawFn) -> str:
        value = draw(dni_pool)
        return draw(EIGHT_DIGITS) if value == RANDOM else value

    @st.composite
    def date_input(draw: st.DrawFn, house: House) -> str:
        value = draw(date_pool)
        return house.dob_text if value == RIGHT else value

    def input_for(view: View, world: World) -> st.SearchStrategy[str]:
        """What a caller types on this screen: mostly what it asks for, now and then anything."""
        if view.screen == "dni":
            likely = dni_input()
        elif view.screen == "choose":
            likely = st.one_of(CHOICE_KEYS, dni_input())
        elif view.screen == "resume":
            likely = RESUME_KEYS
        elif view.screen in DATE_SCREENS:
            assert view.pending is not None
            likely = date_input(world.houses[view.pending])
        else:
            likely = MENU_KEYS
        return st.sampled_from([likely] * 6 + [RANDOM_INPUT]).flatmap(lambda chosen: chosen)

    class UssdWalk(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            redis.flushdb()  # no sessions, locks, DNI counts or resume offers left from a walk
            reseed(db)
            self.world = World(houses, phones, config.dob_max_attempts,
                               config.max_dnis_per_phone_per_day)
            self.sessions: list[Session] = []
            self.reached: set[str] = set()  # the screens and SMS outcomes this walk saw
            STATS["walks"] += 1

        # --- choosing a session ---------------------------------------------------------------

        def open_at(self, *screens: str) -> list[Session]:
            return [s for s in self.sessions if not s.ended and (not screens or s.view.screen in screens)]

        def pick(self, pick: int, *screens: str) -> Session:
            found = self.open_at(*screens)
            return found[-1 - pick % len(found)]

        # --- talking to the app ---------------------------------------------------------------

        def post(self, session: Session) -> str:
            response = client.post("/ussd", data={
                "sessionId": session.id, "phoneNumber": session.phone, "serviceCode": "*1880#",
                "networkCode": "71610", "text": "*".join(session.inputs)})
            assert response.status_code == 200, response.get_data(as_text=True)
            body = response.get_data(as_text=True)
            assert body[:4] in ("CON ", "END "), body
            assert len(body) - 4 <= 182, f"{len(body) - 4} characters: {body!r}"
            assert is_gsm7(body[4:]), f"not GSM-7: {body!r}"
            return body

        def stored(self, session: Session) -> dict[str, object]:
            raw = redis.get(key_for("ussd", session.id))
            assert raw, f"no session stored for {session.id}"
            state: dict[str, object] = json.loads(raw)["s"]
            return state

        def everything(self) -> dict[bytes | str, bytes | None]:
            """Every key of the Redis database and its value: to see that nothing changed."""
            keys = sorted(redis.keys("*"))
            pipe = redis.pipeline(transaction=False)
            for key in keys:
                pipe.dump(key)
            return dict(zip(keys, pipe.execute(), strict=True))

        def hop(self, session: Session, expected: Expect) -> None:
            """Send the session's text, and check the reply against the model's prediction."""
            body = self.post(session)
            state = self.stored(session)
            screen = str(state.get("screen", "dni"))
            view = session.view
            where = f"{session.phone} {session.inputs} -> {screen}: {body!r}"
            # Verification first: the household the app considers verified, and what it shows.
            if view.verified is None:
                for word in (*PRIVATE, *names.values()):
                    assert word not in body, f"{word!r} on screen before verification: {where}"
            else:
                own = names[view.verified]
                for name in names.values():
                    assert name == own or f"Hola {name}" not in body, f"verified as {own}: {where}"
            assert state.get("hogar_id") == view.verified, (
                f"the app has {state.get('hogar_id')} verified, the model {view.verified}: {where}")
            assert screen in expected.screens, f"expected {sorted(expected.screens)}: {where}"
            if view.verified is None:
                assert screen in UNVERIFIED, f"a household's screen before verification: {where}"
            elif screen == "main":
                assert names[view.verified] in body, where
            if screen in DATE_SCREENS:
                assert state.get("pending") == view.pending, where
            assert body.startswith("END ") == (screen in END), where
            if screen in SCREEN_TEXT:
                assert SCREEN_TEXT[screen] in body, where
            for fragment in expected.texts.get(screen, ()):
                assert fragment in body, f"{fragment!r} expected: {where}"
            STATS[screen] += 1
            self.reached.add(screen)
            view.screen = screen
            session.last, session.resent = body, False
            session.ended = screen in END
            # Every hop leaves the phone's resumable screen, or takes the offer away.
            if screen in RESUMABLE:
                self.world.resume[session.phone] = replace(view)
            elif screen != "resume":
                self.world.resume.pop(session.phone, None)

        # --- the model's prediction of one input ----------------------------------------------

        def predict(self, session: Session, raw: str) -> Expect:
            view, world, value = session.view, self.world, raw.strip()
            screen = view.screen
            if screen == "resume":
                if value == "1":
                    offer = session.offer
                    assert offer is not None
                    if offer.verified and offer.verified not in world.households_of(session.phone):
                        house = world.houses[offer.verified]
                        if world.locked(house.dni):
                            return expect("locked")
                        session.view = View("resume_dob", pending=house.hogar_id,
                                            restore=replace(offer))
                        STATS["resume asked the date"] += 1
                        return expect("resume_dob")
                    session.view = replace(offer)
                    STATS["resumed"] += 1
                    return expect(session.view.screen)
                if value == "2":
                    session.view = world.fresh(session.phone)
                    return expect(session.view.screen)
                return expect("resume", "too_many")
            if screen == "moved_away":
                if value == "2":
                    if world.offers(session.phone, session.dropped):
                        assert session.dropped is not None
                        session.offer, session.view = replace(session.dropped), View("resume")
                        return expect("resume")
                    session.view = world.fresh(session.phone)
                    return expect(session.view.screen)
                if value != "1":
                    return expect("moved_away", "too_many")
                moved = world.moved_away(session.phone)
                if moved is None:  # another session of the phone took it back first
                    session.view = View("dni")
                    return expect("dni")
                world.undo(moved, session.phone)
                self.verify(view, world.houses[moved])
                STATS["moves undone"] += 1
                return expect("moved_undone")
            if screen == "dni":
                return self.take_dni(session, value)
            if screen == "choose":
                listed = world.listed(view, session.phone)
                numbers = [str(n) for n in range(1, len(listed) + 1)]
                if value in ("0", "00") and view.left is not None:
                    self.verify(view, world.houses[view.left])  # back to the menu she left
                    STATS["went back from the chooser"] += 1
                    return expect("main")
                if value in numbers:
                    self.verify(view, world.houses[listed[numbers.index(value)]])
                    STATS["verified by choosing"] += 1
                    return expect("main")
                if len(value) <= 2:
                    return expect("choose", "too_many")
                return self.take_dni(session, value)
            if screen in DATE_SCREENS:
                return self.take_dob(session, value)
            assert view.verified is not None
            if screen == "main" and value == "6":
                mine = world.households_of(session.phone)
                if len(mine) < 2:
                    return expect("main", "too_many")
                session.view = View("choose", candidates=tuple(mine), left=view.verified)
                STATS["chose another household"] += 1
                return expect("choose")
            if screen == "main":
                target = MAIN_OPTIONS.get(value)
                return expect(target) if target else expect("main", "too_many")
            if value == "00":
                return expect("main")
            if value == "0":
                return Expect(frozenset(BACK_TARGETS))  # a page back, or the screen before
            if screen == "remind" and value == "1":
                if world.phone_of[view.verified] != session.phone:
                    return expect("remind_move")  # nothing moves before "1 Confirmar"
                return expect("remind_on_done", "remind_off_done")
            if screen == "remind_move" and value == "1":
                if world.phone_of[view.verified] == session.phone:
                    return expect("remind_moved_done")  # moved meanwhile by another session
                if world.moving(view.verified):
                    if view.verified in world.former_of(session.phone):
                        world.undo(view.verified, session.phone)  # her own phone takes it back
                        self.verify(view, world.houses[view.verified])
                        STATS["moves undone by moving back"] += 1
                        return expect("moved_undone")
                    STATS["moves refused in a grace period"] += 1
                    return expect("move_refused")
                if view.verified in world.undone:
                    STATS["moves refused after an undo"] += 1
                    return expect("move_refused")
                STATS["phones moved"] += 1
                old = world.move(view.verified, session.phone)  # this phone is now of record
                return expect("remind_moved_told" if old else "remind_moved_done")
            if screen == "lang" and value in ("1", "2", "3"):
                return expect("main")
            return expect(screen, "too_many")  # "98" on a last page counts as a bad choice too

        def take_dni(self, session: Session, value: str) -> Expect:
            view, world = session.view, self.world
            assert view.verified is None
            here = view.screen  # the DNI prompt, or a shared phone's chooser
            dni = as_dni(value)
            if dni is None:
                hint = ("El ultimo caracter no coincide" if check_char_wrong(value)
                        else "El DNI tiene 8 numeros")
                return expect(here, "too_many", **{here: (hint,)})
            if not world.may_try(session.phone, dni):
                return expect("dni_limit")
            if world.locked(dni):
                return expect("locked")
            house = world.by_dni.get(dni)
            if house is None:
                view.dni_tries += 1
                if view.dni_tries >= MAX_UNKNOWN_DNI:
                    return expect("not_verified")
                return expect(here, **{here: ("Ese DNI no esta en Juntos",)})
            if house.hogar_id in view.candidates:
                self.verify(view, house)
                STATS["verified by a shared phone"] += 1
                return expect("main")
            view.pending, view.origin = house.hogar_id, here
            return expect("dob")

        def take_dob(self, session: Session, value: str) -> Expect:
            view, world = session.view, self.world
            assert view.verified is None and view.pending is not None
            here = view.screen
            if here == "resume_dob" and value in ("0", "00"):
                session.view = world.fresh(session.phone)  # "0 Empezar de nuevo"
                return expect(session.view.screen)
            if value in ("0", "00"):
                # Back to where the DNI was typed; home is the DNI prompt, or the chooser.
                return expect(view.origin if value == "0" or view.origin == "choose" else "dni")
            born = as_date(value)
            if born is None:
                return expect(here, "too_many", **{here: ("Escriba 8 numeros",)})
            if not possible_dob(born):  # a typing slip, not a guess: no attempt spent
                return expect(here, "too_many", **{here: ("Esa fecha no puede ser",)})
            house = world.houses[view.pending]
            if world.locked(house.dni):
                return expect("locked")
            outcome = world.dob_given(house, born)
            if outcome == "right" and view.restore is not None:
                session.view = replace(view.restore)
                STATS["resumed after the date"] += 1
                return expect(session.view.screen)
            if outcome == "right":
                self.verify(view, house)
                STATS["verified by date of birth"] += 1
                return expect("main")
            if outcome == "locked":
                return expect("locked")
            left = world.max_attempts - world.wrong[house.dni]
            return expect(here, **{here: (f"La fecha no coincide. Intentos que quedan: {left}",)})

        @staticmethod
        def verify(view: View, house: House) -> None:
            view.verified, view.pending, view.candidates, view.dni_tries = house.hogar_id, None, (), 0
            view.left = None

        def send(self, session: Session, value: str) -> None:
            if not session.inputs and value == "":
                self.resend_to(session)  # the text is still "": to the app, a resent first hop
                return
            if len("*".join([*session.inputs, value])) > MAX_TEXT:
                self.sessions.remove(session)  # a network ends such a long session anyway
                return
            expected = self.predict(session, value)
            session.inputs.append(value)
            self.hop(session, expected)

        def resend_to(self, session: Session) -> None:
            before = self.everything()
            again = self.post(session)
            where = f"{session.phone} {session.inputs}: {session.last!r}, then {again!r}"
            assert again == session.last, f"a resent hop got another reply: {where}"
            after = self.everything()
            changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            assert not changed, f"a resent hop changed {changed}: {where}"
            session.resent = True
            STATS["resent"] += 1

        # --- rules ------------------------------------------------------------------------------

        @precondition(lambda self: len(self.open_at()) < MAX_OPEN)
        @rule(phone=PHONES, alongside=st.booleans())
        def dial(self, phone: str, alongside: bool) -> None:
            """A new session: the caller lost coverage and dials again (her open session is
            dropped, never heard from again), or a second session of the phone, alongside."""
            if not alongside:
                self.sessions = [s for s in self.sessions if s.ended or s.phone != phone]
            session = Session(phone)
            world = self.world
            saved = world.resume.get(phone)
            if world.moved_away(phone) is not None:
                # The undo offer comes first; "2 Continuar" then offers the dropped session.
                session.view, session.dropped = View("moved_away"), saved
                expected = expect("moved_away")
            elif world.offers(phone, saved):
                assert saved is not None
                session.offer, session.view = replace(saved), View("resume")
                expected = expect("resume")
            else:
                session.view = world.fresh(phone)
                expected = expect(session.view.screen)
            self.sessions.append(session)
            self.hop(session, expected)

        @precondition(lambda self: bool(self.open_at()))
        @rule(pick=PICK, count=st.integers(1, 4), data=st.data())
        def answer(self, pick: int, count: int, data: st.DataObject) -> None:
            """The caller answers a few screens in a row: a DNI at the DNI prompt (mostly a
            seeded one), a date at the date prompt (mostly wrong), a menu key elsewhere, and
            now and then anything at all."""
            session = self.pick(pick)
            for _ in range(count):
                if session.ended or session not in self.sessions:
                    break
                screen = session.view.screen
                self.send(session, data.draw(input_for(session.view, self.world), label=screen))

        # The DNI and date prompts have rules of their own too, so that a walk whose `answer`
        # is switched off (Hypothesis turns some rules off in each walk) still gets to them.

        @precondition(lambda self: bool(self.open_at("dni", "choose")))
        @rule(pick=PICK, value=dni_input())
        def type_dni(self, pick: int, value: str) -> None:
            self.send(self.pick(pick, "dni", "choose"), value)

        @precondition(lambda self: bool(self.open_at(*DATE_SCREENS)))
        @rule(pick=PICK, data=st.data())
        def type_dob(self, pick: int, data: st.DataObject) -> None:
            session = self.pick(pick, *DATE_SCREENS)
            assert session.view.pending is not None
            house = self.world.houses[session.view.pending]
            self.send(session, data.draw(date_input(house), label="date"))

        # Moving a phone of record takes "4", "1", "1" after a date of birth: rare by chance.
        @precondition(lambda self: bool(self.open_at("remind", "remind_move", "moved_away")))
        @rule(pick=PICK, value=st.sampled_from(["1", "1", "2"]))
        def move_phone(self, pick: int, value: str) -> None:
            self.send(self.pick(pick, "remind", "remind_move", "moved_away"), value)

        def movable(self) -> list[Session]:
            """Sessions at the main menu of a household whose phone of record is another."""
            return [s for s in self.open_at("main")
                    if s.view.verified and self.world.phone_of[s.view.verified] != s.phone]

        # ... and option 4 from a verified session: "4", "1", "1" in a row (moved, or refused).
        @precondition(lambda self: bool(self.movable()))
        @rule(pick=PICK)
        def move_household(self, pick: int) -> None:
            found = self.movable()
            session = found[-1 - pick % len(found)]
            for value in ("4", "1", "1"):
                if session.ended or session not in self.sessions:
                    break
                self.send(session, value)

        @precondition(lambda self: any(not s.resent for s in self.sessions))
        @rule(pick=PICK)
        def resend(self, pick: int) -> None:
            """The aggregator repeats a session's last hop (an ended session's too)."""
            found = [s for s in self.sessions if not s.resent]
            self.resend_to(found[-1 - pick % len(found)])

        @precondition(lambda self: bool(self.open_at()))
        @rule(pick=PICK)
        def drop(self, pick: int) -> None:
            """The caller walks out of coverage: the session is never heard from again."""
            self.sessions.remove(self.pick(pick))

        @precondition(lambda self: bool(self.open_at(*DATE_SCREENS)))
        @rule(pick=PICK, phone=PHONES, right=st.integers(0, 3), wrong=st.sampled_from(WRONG_DATES))
        def sms(self, pick: int, phone: str, right: int, wrong: str) -> None:
            """An SMS with the DNI a session is verifying and a date of birth: the same lockout
            and DNI limit as USSD, on any phone."""
            world = self.world
            pending = self.pick(pick, *DATE_SCREENS).view.pending
            assert pending is not None
            house = world.houses[pending]
            dni, born = house.dni, house.dob if right == 0 else as_date(wrong)
            assert born is not None
            if not world.may_try(phone, dni):
                expected = "consulto varios DNI"
            elif world.locked(dni):
                expected = "bloqueado"
            else:
                outcome = world.dob_given(house, born)
                left = world.max_attempts - world.wrong[dni]
                expected = {"right": "Mi Juntos: ", "locked": "bloqueado",
                            "wrong": f"Intentos que quedan: {left}."}[outcome]
            sms_id = f"stsms{next(_ids)}"
            response = client.post("/sms/inbound", data={
                "date": "2026-11-27 10:00:00", "from": phone, "to": "1880",
                "text": f"{dni} {born:%d%m%Y}", "id": sms_id, "linkId": "L1", "networkCode": "71610"})
            assert response.status_code == 200, response.get_data(as_text=True)
            with db.session() as s:
                reply = s.scalar(select(OutboxMessage.text).where(
                    OutboxMessage.dedupe_key == f"reply:{sms_id}"))
            where = f"SMS {phone} {dni} {born:%d%m%Y}: {reply!r}"
            assert reply is not None and expected in reply, f"{expected!r} expected: {where}"
            refused = ("bloqueado", "Intentos", "consulto varios")
            if expected == "Mi Juntos: ":
                assert not any(word in reply for word in refused), where
            else:
                assert "2026" not in reply, f"payment data without verification: {where}"
            outcome = {"bloqueado": "locked", "consulto varios DNI": "dni_limit",
                       "Mi Juntos: ": "verified"}.get(expected, "wrong date")
            STATS[f"sms {outcome}"] += 1
            self.reached.add(f"sms {outcome}")

        def teardown(self) -> None:
            for what in ("locked", "dni_limit", "sms locked", "sms dni_limit"):
                if what in self.reached:
                    STATS[f"walks reaching {what}"] += 1
                    event(f"walk reached {what}")  # pytest --hypothesis-show-statistics
            if self.reached & {"locked", "sms locked"}:
                STATS["walks reaching a lock"] += 1
            if self.reached & {"dni_limit", "sms dni_limit"}:
                STATS["walks reaching the DNI limit"] += 1

    return UssdWalk


def test_random_sessions_keep_the_invariants(app: Flask, seeded: Database, db: Database,
                                             redis: redis_lib.Redis) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("random walks run once, on SQLite")
    STATS.clear()
    # A failing walk is reported as found (its steps are printed, and it is replayed first
    # next time from .hypothesis/): shrinking 60 hops against the real app can take Hypothesis
    # its full five minutes. STATEFUL_SHRINK=1 shrinks it to a minimal walk.
    phases = [p for p in Phase if SHRINK or p not in (Phase.shrink, Phase.explain)]
    run_state_machine_as_test(
        make_machine(app, redis, db),
        settings=settings(max_examples=100, stateful_step_count=60, deadline=None, phases=phases,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow]),
    )
    walks = STATS["walks"]
    print(f"\nstateful USSD walks: {dict(sorted(STATS.items()))}")
    # The walks must reach what they are there to check, or they check nothing.
    for what in ("a lock", "the DNI limit"):
        assert STATS[f"walks reaching {what}"] >= walks * REACH, f"few walks reached {what}: {STATS}"
