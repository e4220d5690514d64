"""The menu as data: every screen, its options and where they lead, checked at import time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Nav = Literal["none", "back", "full"]
MAX_LISTED = 4  # households a shared phone's chooser lists (dialogs/choice.py)
# What "7 Enviar SMS al hogar" can answer (dialogs/assisted.py: send_summary).
ASSIST_SMS = ("sent", "already", "no_phone", "opted_out", "simulated")


class MenuError(Exception):
    """The menu definition is inconsistent."""


@dataclass(frozen=True)
class Screen:
    """One screen: `options` map an input to the next screen; `accepts` names free input."""

    id: str
    end: bool = False
    options: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    accepts: Literal["dni", "dob", "phone"] | None = None
    nav: Nav = "full"  # none: first screens; back: "0 Atras"; full: "0 Atras 00 Menu"
    paged: bool = False
    verified: bool = True  # shown only inside a verified session
    resumable: bool = True  # a session dropped here is offered "continue where you left off"


def _screen(id: str, options: dict[str, str] | None = None, **kw: object) -> Screen:
    return Screen(id=id, options=MappingProxyType(options or {}), **kw)  # type: ignore[arg-type]


SCREENS: dict[str, Screen] = {
    s.id: s
    for s in [
        _screen(
            "resume", {"1": "@resume", "2": "@restart"}, nav="none", verified=False,
            resumable=False,
        ),
        _screen("dni", accepts="dni", nav="none", verified=False, resumable=False),
        # A phone of record shared by several households: pick one by number, or type a DNI.
        _screen(
            "choose", {str(n): "@choose" for n in range(1, MAX_LISTED + 1)}, accepts="dni",
            nav="none", verified=False, resumable=False,
        ),
        # Resuming a verified session on a phone not of record: the date of birth again first.
        _screen("resume_dob", accepts="dob", nav="none", verified=False, resumable=False),
        _screen("dob", accepts="dob", nav="back", verified=False),
        _screen(
            "main",
            {"1": "pay", "2": "status", "3": "coresp", "4": "remind", "5": "lang", "0": "bye",
             "6": "@other_household",  # 6 is shown only on a shared phone
             "7": "@assist_sms"},  # 7 only in an assisted consultation
            nav="none",
        ),
        _screen("pay", paged=True),
        _screen("status", paged=True),
        _screen("coresp", paged=True),
        _screen("remind", {"1": "@remind_toggle"}),
        _screen("remind_on_done", resumable=False),
        _screen("remind_off_done", resumable=False),
        _screen("remind_moved_done", resumable=False),
        _screen("lang", {"1": "@lang_es", "2": "@lang_qu", "3": "@lang_ay"}),
        # END screens: the session closes; no options, no navigation.
        _screen("bye", end=True, nav="none", verified=False, resumable=False),
        _screen("locked", end=True, nav="none", verified=False, resumable=False),
        _screen("not_verified", end=True, nav="none", verified=False, resumable=False),
        _screen("too_many", end=True, nav="none", verified=False, resumable=False),
        _screen("dni_limit", end=True, nav="none", verified=False, resumable=False),
        # --- phonechange: moving the phone of record is confirmed on the new phone; the former
        # phone is told, and in its grace period it is offered to undo the move on dialing.
        _screen("remind_move", {"1": "@remind_move"}, nav="back", resumable=False),
        _screen("remind_moved_told", resumable=False),
        _screen("moved_away", {"1": "@undo_move", "2": "@restart"}, nav="none", verified=False,
                resumable=False),
        _screen("moved_undone", resumable=False),
        # --- retake: a move refused while another is in its grace period or after an undo.
        _screen("move_refused", resumable=False),
        _screen("move_simulated", resumable=False),
        # --- assisted: a gestor's phone (dialogs/assisted.py). Never resumed: the next dial is
        # for the next titular in the queue.
        _screen("assist", {"1": "assist_dni", "2": "assist_today", "0": "bye"}, nav="none",
                verified=False, resumable=False),
        _screen("assist_dni", accepts="dni", nav="none", verified=False, resumable=False),
        _screen("assist_today", nav="back", verified=False, resumable=False),
        _screen("assist_off", end=True, nav="none", verified=False, resumable=False),
        _screen("assist_cap", end=True, nav="none", verified=False, resumable=False),
        _screen("assist_phone", accepts="phone", nav="back", resumable=False),
        _screen("assist_phone_again", accepts="phone", nav="back", resumable=False),
        _screen("assist_moved", resumable=False),
        *(_screen(f"assist_sms_{result}", resumable=False) for result in ASSIST_SMS),
    ]
}

# Actions an option may trigger, with every screen they can lead to.
ACTIONS: dict[str, tuple[str, ...]] = {
    "@resume": (*(s for s in SCREENS if SCREENS[s].resumable), "resume_dob", "locked"),
    "@restart": ("dni", "main", "choose", "resume"),  # resume: "2 Continuar" after the undo offer
    "@choose": ("main",),
    "@other_household": ("choose",),
    "@remind_toggle": ("remind_on_done", "remind_off_done", "remind_move", "assist_phone"),
    # retake: refused, or on the former phone in its grace period the undo (moved_undone, dni).
    "@remind_move": ("remind_moved_done", "remind_moved_told", "move_refused", "moved_undone", "dni",
                     "move_simulated"),
    "@undo_move": ("moved_undone", "dni", "choose", "main"),
    "@assist_sms": tuple(f"assist_sms_{result}" for result in ASSIST_SMS),
    "@lang_es": ("main",),
    "@lang_qu": ("main",),
    "@lang_ay": ("main",),
}
# Free-input screens and where their input can lead.
INPUT_TARGETS: dict[str, tuple[str, ...]] = {
    "dni": ("dni", "choose", "dob", "main", "locked", "not_verified", "too_many", "dni_limit"),
    # 00: the chooser it came from; assist: a gestor's, told the DNI is locked (assisted.py)
    "dob": ("dob", "main", "locked", "too_many", "choose", "assist"),
    "phone": ("assist_phone", "assist_phone_again", "too_many"),
}
# Screens whose input leads elsewhere than their `accepts` kind's (looked up by screen id):
# a right date restores the resumed screen; 0 starts over.
SCREEN_INPUT_TARGETS: dict[str, tuple[str, ...]] = {
    "resume_dob": ("resume_dob", "locked", "too_many", "dni", "main", "choose",
                   *ACTIONS["@resume"]),
    # A gestor's DNI: the date next, or back on the assisted menu told why not (locked, unknown).
    "assist_dni": ("assist_dni", "dob", "assist", "assist_cap", "too_many"),
    # The number typed again: the move (or why not), or a mismatch back to the first entry.
    "assist_phone_again": ("assist_phone_again", "assist_phone", "assist_moved", "move_refused",
                           "moved_undone", "dni", "too_many"),
}
# assist_off: any hop of a gestor session once the gestor is no longer active ends there.
START = ("resume", "dni", "choose", "main", "moved_away", "assist", "assist_off")
CHOICE_MAX_BAD = 5


def targets(screen: Screen) -> set[str]:
    """Every screen reachable in one step from `screen`."""
    out: set[str] = set()
    for target in screen.options.values():
        out.update(ACTIONS[target] if target.startswith("@") else (target,))
    if screen.accepts:
        out.update(SCREEN_INPUT_TARGETS.get(screen.id) or INPUT_TARGETS[screen.accepts])
    if not screen.end:
        out.add("too_many")  # the default branch for repeated bad input
        if screen.nav != "none" or screen.id == "dob":
            out.update(("main", "dni"))
    return out


def check_menu(screens: Mapping[str, Screen] = SCREENS) -> None:
    """Reject a menu with dangling targets, unreachable screens or END screens with options."""
    for screen in screens.values():
        for target in screen.options.values():
            if target.startswith("@") and target not in ACTIONS:
                raise MenuError(f"{screen.id}: unknown action {target}")
            if not target.startswith("@") and target not in screens:
                raise MenuError(f"{screen.id}: option leads to unknown screen {target}")
        for target in targets(screen):
            if target not in screens:
                raise MenuError(f"{screen.id}: leads to unknown screen {target}")
        if screen.end and (screen.options or screen.accepts or screen.paged or screen.resumable):
            raise MenuError(f"{screen.id}: an END screen takes no input")
        if not screen.end and not (screen.options or screen.accepts or screen.nav != "none"):
            raise MenuError(f"{screen.id}: a CON screen needs a way out")
    seen: set[str] = set()
    todo = list(START)
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(t for t in targets(screens[current]) if t in screens)
    unreachable = set(screens) - seen
    if unreachable:
        raise MenuError(f"menu: unreachable screens {sorted(unreachable)}")


check_menu()
