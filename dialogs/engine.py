"""The USSD dialog: start a session, feed it one input at a time, get a reply as data."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from dialogs import assisted, phone_move, views
from dialogs.choice import labelled
from dialogs.effects import (
    DniTried,
    DobCleared,
    DobFailed,
    Effect,
    RecordQuery,
    SetLanguage,
    SetReminders,
)
from dialogs.facts import Facts, GestorFacts, HouseholdFacts, SettlementFacts
from dialogs.freshness import is_stale
from dialogs.gsm import gsm_safe
from dialogs.nextpay import pay_answer
from dialogs.paging import paginate
from dialogs.screens import CHOICE_MAX_BAD, SCREENS, Screen
from dialogs.state import SessionState
from dialogs.texts import FALLBACK, Catalog, Translate
from dialogs.validate import dni_key, parse_dni, parse_dob, possible_dob, wrong_check_char

SCREEN_MAX = 182  # the hard limit of a USSD screen
SCREEN_BUDGET = 160  # what pages are cut to, leaving room for a notice line
MORE, BACK, HOME = "98", "0", "00"
MAX_UNKNOWN_DNI = 3
HISTORY = 4  # this period and the three before it
MAX_NAME = 14  # a greeting's first name, cut so the main menu always fits
MAX_NAME_SHARED = 10  # shorter on a shared phone, whose main menu has one line more
# The ASCII characters outside GSM-7: a screen without them and without non-ASCII ones is safe
# as it is, which spares the gsm0338 codec's per-character encoder on nearly every reply.
_ASCII_NOT_GSM7 = re.compile(r"[\x00-\x09\x0b\x0e-\x1f`\x7f]")


def _screen_safe(text: str) -> str:
    """`text` as a handset shows it reliably (see `gsm_safe`), quickly when it is plain ASCII."""
    if text.isascii() and not _ASCII_NOT_GSM7.search(text):
        return text
    return gsm_safe(text)


@dataclass(frozen=True)
class Context:
    """What the host knows about this hop and its settings."""

    phone: str
    secret: str
    helpline: str = "1880"
    service_code: str = "*1880#"
    max_dob_attempts: int = 3
    lock_minutes: int = 30
    channel: str = "ussd"
    # Today on the Lima calendar, from the host: an operation ending today is not over yet.
    today: dt.date | None = None
    # Schedule data exported more days ago than this is stale (DATA_MAX_AGE_DAYS).
    data_max_age_days: int = 21
    phone_grace_hours: int = 72  # how long a former phone of record may undo a change
    gestor_cap: int = 150  # distinct DNIs a gestor may consult for in a Lima day (GESTOR_DAILY_CAP)


@dataclass
class Reply:
    end: bool
    text: str
    state: SessionState
    effects: list[Effect] = field(default_factory=list)

    @property
    def wire(self) -> str:
        """The reply as the aggregator wants it: `CON ...` or `END ...`."""
        return ("END " if self.end else "CON ") + self.text


class _Step:
    """One transition being computed: the new state, effects and the catalog to speak with."""

    def __init__(self, state: SessionState, ctx: Context, facts: Facts, catalog: Catalog) -> None:
        self.state = state
        self.ctx = ctx
        self.facts = facts
        self.catalog = catalog
        self.effects: list[Effect] = []
        self._mine: list[HouseholdFacts] | None = None
        self.gestor: GestorFacts | None = None  # an assisted session's gestor, read this hop

    @property
    def t(self) -> Translate:
        return self.catalog.translator(self.state.lang)

    def go(self, screen: str, *, push: bool = True, notice: str | None = None) -> None:
        s = self.state
        if s.gestor is not None and screen in assisted.REDIRECT:
            assisted.next_titular(self, assisted.REDIRECT[screen])  # the queue goes on
            return
        if push and screen != s.screen and not SCREENS[screen].end:
            s.back = (s.back + [s.screen])[-6:]
        s.screen, s.page, s.notice = screen, 0, notice
        if notice is None:
            s.invalid = 0

    def bad_input(self, notice: str = "invalid_option") -> None:
        s = self.state
        s.invalid += 1
        if s.invalid >= CHOICE_MAX_BAD:
            self.go("too_many")
        else:
            s.notice = notice

    def verified(self, household: HouseholdFacts) -> None:
        s = self.state
        resumed = SessionState.from_dict(s.saved) if s.saved else None
        # `candidates` stay: a shared phone's main menu offers its other households.
        s.hogar_id, s.pending, s.dni_key, s.saved = household.hogar_id, None, None, None
        s.lang, s.ut = household.idioma, household.unidad_territorial
        s.name = household.first_name[:MAX_NAME]
        s.back, s.dni_tries, s.left = [], 0, None
        self.go("main", push=False)
        if resumed is not None and resumed.hogar_id == household.hogar_id:
            # The date asked again on resuming (feed): back where she left off.
            s.screen, s.back, s.page, s.lang = resumed.screen, resumed.back, resumed.page, resumed.lang

    def mine(self) -> list[HouseholdFacts]:
        """The households whose phone of record is the caller's, read once a hop."""
        if self._mine is None:
            self._mine = self.facts.households_by_phone(self.ctx.phone)
        return self._mine

    def listed(self) -> list[tuple[str, str]]:
        """The chooser's households, numbered from 1 in the session's order, with labels: those
        this phone is still the phone of record of. One it lost by a move in its grace period is
        offered the undo, never listed: picking it would open a household's data by a phone
        that is no longer its own."""
        mine = {h.hogar_id: h for h in self.mine() if h.phone == self.ctx.phone}
        return labelled([mine[hid] for hid in self.state.candidates if hid in mine])

    def choose(self, inp: str) -> None:
        """Input on a shared phone's chooser: a listed number, or a DNI typed instead."""
        # With no household listed the screen only asks for a DNI: say what a DNI is.
        notice = "invalid_option" if self.listed() else "dni_invalid"
        left = self.facts.household(self.state.left) if self.state.left else None
        if inp in (BACK, HOME) and left is not None:
            self.verified(left)  # reached by "6 Otro hogar": back to the household she was in
        elif inp in SCREENS["choose"].options:
            picked = self.listed()
            household = self.facts.household(picked[int(inp) - 1][0]) if int(inp) <= len(
                picked) else None
            if household is None:
                self.bad_input(notice)
            else:
                self.verified(household)  # the phone of record verifies her for this household
                self.query("verify", "ok_phone")
        elif len(inp) <= 2:
            self.bad_input(notice)  # "0", "9", "00": not an option and too short to be a DNI
        else:
            self.handle(inp)

    def query(self, kind: str, outcome: str, periodo: str | None = None) -> None:
        s, g = self.state, self.gestor
        self.effects.append(RecordQuery(
            kind, outcome, s.hogar_id or s.pending, s.ut, periodo, gestor_id=s.gestor,
            gestor_ut=g.unidad_territorial if g else None, tambo=g.tambo if g else None))

    def history(self, hogar_id: str) -> list[SettlementFacts]:
        """The household's settlements the payment screens read (this period and three before)."""
        return self.facts.settlements(hogar_id, HISTORY)

    def home(self) -> str:
        """Where a session with no household goes: the DNI prompt, or a gestor's menu."""
        return "dni" if self.state.gestor is None else "assist"

    # --- rendering -------------------------------------------------------------------------

    def reply(self) -> Reply:
        s = self.state
        screen = SCREENS[s.screen]
        if screen.verified and not s.verified:
            self.go(self.home(), push=False)  # never show a household's data before verification
            screen = SCREENS[s.screen]
        text = self.render(screen)
        if s.notice:
            text = self.t(s.notice, **self.notice_params()) + "\n" + text
            s.notice = None
        return Reply(screen.end, _screen_safe(text), s, self.effects)

    def notice_params(self) -> dict[str, object]:
        params: dict[str, object] = {"helpline": self.ctx.helpline,
                                     "minutes": self.ctx.lock_minutes}
        if self.state.notice == "dob_wrong":
            staged = sum(isinstance(e, DobFailed) for e in self.effects)  # not yet counted
            failures = self.facts.dob_failures(self.state.dni_key or "") + staged
            left = self.ctx.max_dob_attempts - failures
            params["left"] = max(left, 1)
        return params

    def render(self, screen: Screen) -> str:
        t, s, ctx = self.t, self.state, self.ctx
        if screen.paged:
            return self.render_page(self.dated_blocks(screen.id))
        if screen.id in assisted.RENDERED or (s.gestor and screen.id in ("main", "remind")):
            return assisted.render(self, screen.id)
        if screen.id == "main":
            shared = len(s.candidates) > 1
            menu = t("main_menu", name=s.name[:MAX_NAME_SHARED] if shared else s.name)
            if shared:
                # Above the last line ("0 Salir") in every language: one key, not a second menu.
                head, _, last = menu.rpartition("\n")
                menu = f"{head}\n{t('main_other_household')}\n{last}"
            return menu
        if screen.id == "choose":
            return self.render_choose()
        if screen.id == "remind":
            return self.render_remind() + "\n" + t("nav_full")
        if screen.id in phone_move.SCREENS:
            return phone_move.render(self, screen.id)
        body = t(f"screen_{screen.id}", helpline=ctx.helpline, minutes=ctx.lock_minutes,
                 code=ctx.service_code)
        footer = {"none": "", "back": "nav_back", "full": "nav_full"}[screen.nav]
        return f"{body}\n{t(footer)}" if footer and not screen.end else body

    def render_choose(self) -> str:
        t, listed = self.t, self.listed()
        lines = [t("screen_choose", count=len(self.state.candidates))]
        lines += [t("choose_line", n=n, initials=label) for n, (_, label) in enumerate(listed, 1)]
        lines.append(t("choose_or_dni" if listed else "choose_dni"))
        if self.state.left and len("\n".join([*lines, t("nav_full")])) <= SCREEN_BUDGET:
            lines.append(t("nav_full"))  # reached by "6 Otro hogar": its way back, if it fits
        return "\n".join(lines)

    def render_remind(self) -> str:
        household = self.household()
        if household is None or household.phone is None:
            return self.t("remind_none")
        if household.phone != self.ctx.phone:
            return self.t("remind_other", masked=views.mask_phone(household.phone))
        return self.t("remind_on" if household.reminders_enabled else "remind_off")

    def pages(self, blocks: list[str]) -> list[str]:
        """The screen's pages: one if it all fits, else cut to leave room for "98 Mas"."""
        t = self.t
        single = paginate(blocks, SCREEN_BUDGET - len(t("nav_full")) - 1)
        if len(single) == 1:
            return single
        return paginate(blocks, SCREEN_BUDGET - len(t("nav_more") + t("nav_full")) - 2)

    def render_page(self, blocks: list[str]) -> str:
        t, s = self.t, self.state
        pages = self.pages(blocks)
        s.page = min(s.page, len(pages) - 1)
        footer = t("nav_full")
        if s.page < len(pages) - 1:
            footer = t("nav_more") + "\n" + footer
        return pages[s.page] + "\n" + footer

    def page_count(self) -> int:
        return len(self.pages(self.dated_blocks(self.state.screen)))

    def blocks(self, screen_id: str) -> list[str]:
        hid, t, helpline = self.state.hogar_id or "", self.t, self.ctx.helpline
        if screen_id == "pay":
            history = self.facts.settlements(hid, HISTORY)
            found = pay_answer(self.facts, hid, self.ctx.phone, self.ctx.today, history)
            return views.pay_blocks(t, found, helpline, self.ctx.service_code)
        if screen_id == "status":
            history = self.facts.settlements(hid, HISTORY)
            return views.status_blocks(t, history, helpline, self.ctx.today)
        latest = self.facts.settlements(hid, 1)
        periodo = latest[0].periodo if latest else None
        rows = self.facts.co_responsibilities(hid, periodo) if periodo else []
        return views.coresp_blocks(t, periodo, rows)

    def household(self) -> HouseholdFacts | None:
        return self.facts.household(self.state.hogar_id) if self.state.hogar_id else None

    def dated_blocks(self, screen_id: str) -> list[str]:
        """The screen's blocks, and on a payment screen whose data is stale a "Datos al DD/MM." line."""
        blocks = self.blocks(screen_id)
        if screen_id not in ("pay", "status") or self.ctx.today is None:
            return blocks
        exported = self.facts.schedule_exported_on()
        if exported is None or not is_stale(exported, self.ctx.today, self.ctx.data_max_age_days):
            return blocks
        line = self.t("data_as_of", day=exported.strftime("%d/%m"))
        # The first line of the first page: appended, it was pushed past "98 Mas" by a long
        # answer, and a caller who stops at the first page must still see how old it is.
        return [line + "\n" + blocks[0], *blocks[1:]]

    # --- input -----------------------------------------------------------------------------

    def handle(self, raw: str) -> None:
        s = self.state
        inp = raw.strip()
        screen = SCREENS[s.screen]
        if inp == HOME and screen.id == "main":
            self.go("main", push=False)  # "00 Menu" is printed on every other screen: honour it
            return
        if screen.nav != "none" or screen.id == "dob":
            if inp == HOME:
                s.back = []
                # A DNI typed on a shared phone's chooser: home is the chooser (retake).
                self.go("main" if s.verified else "choose" if s.candidates else "dni", push=False)
                return
            if inp == BACK:
                if screen.paged and s.page > 0:
                    s.page -= 1
                    return
                previous = s.back.pop() if s.back else ("main" if s.verified else self.home())
                self.go(previous, push=False)
                return
        if screen.paged:
            if inp == MORE and s.page < self.page_count() - 1:
                s.page += 1
                s.invalid = 0
            else:
                self.bad_input()
            return
        if screen.accepts == "dni":
            self.take_dni(inp)
            return
        if screen.accepts == "dob":
            self.take_dob(inp)
            return
        if screen.accepts == "phone":
            assisted.take_phone(self, inp)
            return
        target = screen.options.get(inp)
        if target is None:
            self.bad_input()
        elif target.startswith("@"):
            self.act(target)
        else:
            self.enter(target)

    def enter(self, target: str) -> None:
        self.go(target)
        if target in ("pay", "status", "coresp"):
            kind = {"pay": "next_payment", "status": "status", "coresp": "co_responsibilities"}
            hid = self.state.hogar_id or ""
            history = self.facts.settlements(hid, HISTORY)
            shown = history[0] if history else None
            if target == "pay":  # the settlement option 1 shows, by the rule that renders it
                found = pay_answer(self.facts, hid, self.ctx.phone, self.ctx.today, history)
                shown = found.upcoming or found.last
            self.query(kind[target], shown.estado if shown else "no_data",
                       shown.periodo if shown else None)

    def act(self, action: str) -> None:
        s = self.state
        if action.startswith("@lang_"):
            s.lang = action.removeprefix("@lang_")
            self.effects.append(SetLanguage(s.hogar_id or "", s.lang))
            s.back = []
            # A language whose texts are not all reviewed yet shows Spanish meanwhile: say so,
            # or the caller sees nothing change and thinks her choice was lost.
            # Drafts shown (TRANSLATIONS=drafts, the simulator) are said to be drafts.
            partial = s.lang != FALLBACK and bool(self.catalog.missing(s.lang))
            draft = s.lang != FALLBACK and self.catalog.shows_drafts(s.lang)
            notice = "lang_saved_partial" if partial else "lang_saved_draft" if draft else "lang_saved"
            self.go("main", push=False, notice=notice)
        elif action == "@assist_sms":
            if s.gestor is None:
                self.bad_input()  # shown only in an assisted consultation
            else:
                assisted.send_summary(self)
        elif action == "@other_household":
            mine = sorted(h.hogar_id for h in self.mine())
            if len(mine) < 2 or s.gestor is not None:
                self.bad_input()  # not a shared phone (any more): the option is not shown
            else:
                s.left = s.hogar_id  # "0"/"00" on the chooser go back to it
                s.hogar_id, s.name, s.ut, s.candidates, s.back = None, "", None, mine, []
                self.go("choose", push=False)
        elif action == "@remind_toggle":
            household = self.household()
            if household is None:
                self.go(self.home(), push=False)
            elif s.gestor is not None:
                self.go("assist_phone")  # never this phone: the number the titular gives
            elif household.phone != self.ctx.phone:
                self.go("remind_move")  # nothing changes before the caller confirms
            else:
                enabled = not household.reminders_enabled
                self.effects.append(SetReminders(household.hogar_id, enabled))
                self.go("remind_on_done" if enabled else "remind_off_done")
        elif action == "@remind_move":
            phone_move.confirm(self)
        elif action == "@undo_move":
            phone_move.undo(self)

    def take_dni(self, inp: str) -> None:
        s, ctx = self.state, self.ctx
        dni = parse_dni(inp)
        if dni is None:
            # A mistyped check character costs nothing: no DNI try is counted.
            self.bad_input("dni_check_wrong" if wrong_check_char(inp) else "dni_invalid")
            return
        key = dni_key(ctx.secret, dni)
        # The limit first: "this DNI is locked" would tell a phone past its limit that the DNI
        # exists (only a real DNI can be locked). A gestor's limit is their own daily cap.
        if s.gestor is not None:
            if not self.facts.may_assist(s.gestor, key, ctx.gestor_cap, ctx.today):
                self.query("verify", "gestor_cap")
                self.go("assist_cap")
                return
        elif not self.facts.may_try_dni(ctx.phone, key):
            self.query("verify", "dni_limit")
            self.go("dni_limit")
            return
        else:
            self.effects.append(DniTried(ctx.phone, key))
        if self.facts.dob_failures(key) >= ctx.max_dob_attempts:
            self.query("verify", "locked")
            self.go("locked")
            return
        household = self.facts.household_by_dni(dni)
        if household is None:
            s.dni_tries += 1
            self.query("verify", "dni_unknown")
            if s.dni_tries >= MAX_UNKNOWN_DNI and s.gestor is None:  # a gestor: the cap instead
                self.go("not_verified")
            else:
                s.notice = "dni_unknown"
            return
        if household.hogar_id in s.candidates:
            self.verified(household)  # the caller's phone is this household's phone of record
            self.query("verify", "ok_phone")
            return
        s.pending, s.dni_key, s.ut = household.hogar_id, key, household.unidad_territorial
        self.go("dob")

    def take_dob(self, inp: str) -> None:
        s, ctx = self.state, self.ctx
        born = parse_dob(inp)
        household = self.facts.household(s.pending) if s.pending else None
        if household is None or s.dni_key is None:
            self.go(self.home(), push=False)
            return
        if born is None:
            self.bad_input("dob_invalid")
            return
        if not possible_dob(born, ctx.today):
            self.bad_input("dob_impossible")  # a typing slip, not a guess: no attempt spent
            return
        failures = self.facts.dob_failures(s.dni_key)
        if failures >= ctx.max_dob_attempts:
            self.query("verify", "locked")
            self.go("locked")
            return
        if born == household.fecha_nacimiento:
            self.effects.append(DobCleared(s.dni_key))
            self.verified(household)
            self.query("verify", "ok_dob")
            return
        self.effects.append(DobFailed(s.dni_key))
        if failures + 1 >= ctx.max_dob_attempts:
            self.query("verify", "locked")
            self.go("locked")
        else:
            self.query("verify", "dob_wrong")
            s.notice = "dob_wrong"
            s.invalid = 0


def start(
    ctx: Context, facts: Facts, catalog: Catalog, saved: SessionState | None = None,
    *, offers: bool = True,
) -> Reply:
    """The first screen of a new session: resume offer, main menu by phone, or the DNI prompt.

    `offers`: False when the dial carries inputs (*1880*1#), which must not answer an offer the
    caller never saw.
    """
    gestor = facts.gestor_by_phone(ctx.phone)
    if gestor is not None:  # a gestor's phone: the assisted menu, no resume, no offers
        step = _Step(SessionState(), ctx, facts, catalog)
        assisted.begin(step, gestor)
        return step.reply()
    households = facts.households_by_phone(ctx.phone)
    # --- phonechange: the former phone of record, in its grace period, is offered the undo before
    # anything else, a dropped session's resume offer too (kept for "2 Continuar").
    moved = phone_move.moved_away(households, ctx.phone)
    if offers and moved is not None:
        state = SessionState(screen="moved_away", lang=moved.idioma,
                             saved=saved.to_dict() if saved is not None else None)
        return _Step(state, ctx, facts, catalog).reply()
    if saved is not None and SCREENS.get(saved.screen, SCREENS["dni"]).resumable:
        by_phone = [h.hogar_id for h in households]
        if not (saved.screen == "main" and saved.hogar_id in by_phone):
            # Resuming the main menu is only worth offering if it saves a verification.
            state = SessionState(screen="resume", lang=saved.lang, saved=saved.to_dict())
            return _Step(state, ctx, facts, catalog).reply()
    return _fresh(ctx, facts, catalog, households)


def _fresh(
    ctx: Context, facts: Facts, catalog: Catalog, households: list[HouseholdFacts] | None = None
) -> Reply:
    step = _Step(SessionState(screen="dni"), ctx, facts, catalog)
    if households is None:
        households = facts.households_by_phone(ctx.phone)
    if len(households) == 1:
        step.verified(households[0])
        step.query("verify", "ok_phone")
    elif households:
        step.state.candidates = sorted(h.hogar_id for h in households)
        step.go("choose", push=False)
    return step.reply()


def _resume_checked(resumed: SessionState, ctx: Context, facts: Facts, catalog: Catalog) -> Reply:
    """A verified session resumed on a phone not of record: its date of birth first."""
    household = facts.household(resumed.hogar_id or "")
    if household is None:
        return _fresh(ctx, facts, catalog)
    key = dni_key(ctx.secret, household.dni)
    state = SessionState(
        screen="resume_dob", lang=resumed.lang, pending=household.hogar_id, dni_key=key,
        ut=household.unidad_territorial, candidates=resumed.candidates, saved=resumed.to_dict(),
    )
    step = _Step(state, ctx, facts, catalog)
    if facts.dob_failures(key) >= ctx.max_dob_attempts:
        step.query("verify", "locked")
        step.go("locked")
    return step.reply()


def feed(state: SessionState, inp: str, ctx: Context, facts: Facts, catalog: Catalog) -> Reply:
    """Apply one input to a session and render the screen that follows."""
    state = replace(state, back=list(state.back), candidates=list(state.candidates))
    if state.gestor is not None:
        step = _Step(state, ctx, facts, catalog)
        if assisted.check(step) and not SCREENS[state.screen].end:
            assisted.handle(step, inp)
        return step.reply()
    if state.screen == "resume":
        choice = inp.strip()
        if choice == "1" and state.saved:
            resumed = SessionState.from_dict(state.saved)
            resumed.notice = None
            if resumed.verified and resumed.hogar_id not in {
                h.hogar_id for h in facts.households_by_phone(ctx.phone)
            }:
                # Anyone may pick up a phone that is not the household's: check her again.
                return _resume_checked(resumed, ctx, facts, catalog)
            return _Step(resumed, ctx, facts, catalog).reply()
        if choice == "2":
            return _fresh(ctx, facts, catalog)
    if state.screen == "resume_dob" and inp.strip() in (BACK, HOME):
        return _fresh(ctx, facts, catalog)  # "0 Empezar de nuevo"
    if state.screen == "moved_away" and inp.strip() == "2":  # phonechange: "Continuar"
        dropped = SessionState.from_dict(state.saved) if state.saved else None
        return start(ctx, facts, catalog, dropped, offers=False)  # its resume offer, if any
    step = _Step(state, ctx, facts, catalog)
    if SCREENS[state.screen].end:
        return step.reply()
    if state.screen == "choose":
        step.choose(inp.strip())
    else:
        step.handle(inp)
    return step.reply()
