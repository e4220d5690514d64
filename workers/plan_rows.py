"""What the planner knows of the rows it planned before, and one SMS for households on one phone.

A phone of record may serve several households. Each household keeps its own outbox rows
(`reminder:<hogar>:<periodo>:<offset>`...), so opt-outs, switch-offs and change notices stay
per household. When two or more households on one phone are due the same message (the same
operation and offset, the same no-payment period, the same change), one row carries the SMS,
naming every household by initials, and the others are `skipped` with reason `merged`. A merged
row follows its carrier: it counts as sent when the carrier was sent, and it is the planner's
to change again (revive, re-merge) while the carrier is not sent.

A dispatcher may claim and send a row between the planner's read and its write: the planner
writes a row only while it is still as read (`RowBook.taken`), and plans again the households
whose rows were taken, with those on their phones (`overtaken`), from what the dispatcher left.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialogs import choice
from dialogs.reminders import MAX_NAMED
from models import Household, OutboxMessage, OutboxStatus, SkipReason

log = logging.getLogger("mijuntos.reminders")
SENT = (OutboxStatus.SUBMITTED, OutboxStatus.DELIVERED)
MERGED = SkipReason.MERGED
# Why a planned row was withdrawn, when it may be planned again (not: its operation started).
REVIVABLE = frozenset(SkipReason) - {SkipReason.OPERATION_STARTED}
PLANNED = ("reminder", "notice", "change")  # the kinds of rows the planner owns
CANCEL = "cancel|"  # the subject of a cancellation notice starts so (its kind is "change")
# A row as the planner read it: a dispatcher's claim changes its status and attempts, an expiry
# or an opt-out its status; the rest are the columns the planner itself writes.
STATE = ("status", "attempts", "batch_id", "failure_reason", "final_at", "text", "recipient",
         "send_after", "not_after", "subject")
CHECKED = 5000  # rows checked by one statement


def slot_of(row: OutboxMessage | dict[str, Any]) -> tuple[Any, ...]:
    """What one SMS to one phone is about: rows of one slot on one phone are sent as one."""
    get = row.get if isinstance(row, dict) else lambda col: getattr(row, col)
    return (get("recipient"), get("kind"), get("periodo"), get("subject"), get("offset_days"))


def _rank(row: OutboxMessage) -> int:
    """How far a row got: the carrier of a slot is the row that got furthest."""
    if row.status in SENT or row.status == OutboxStatus.SENDING or row.batch_id is not None:
        return 3
    if row.status == OutboxStatus.FAILED:
        return 2
    return 1 if row.status == OutboxStatus.PENDING else 0


class RowBook:
    """The rows planned before for the households of a page, and the SMS that carried them."""

    def __init__(self, s: Session, existing: Iterable[OutboxMessage], periods: list[str]) -> None:
        self.rows = list(existing)
        self.read = {m.id: _state(m) for m in self.rows}
        self.by_key = {m.dedupe_key: m for m in self.rows}
        self.announced: dict[tuple[str | None, str | None], list[OutboxMessage]] = {}
        for m in self.rows:
            if m.kind in ("reminder", "change"):
                self.announced.setdefault((m.hogar_id, m.periodo), []).append(m)
        phones = {m.recipient for m in self.rows if _is_merged(m)}
        others = self.rows
        if phones:  # carriers of households not on this page (one moved to another phone)
            others = others + list(s.scalars(select(OutboxMessage).where(
                OutboxMessage.recipient.in_(sorted(phones)), OutboxMessage.periodo.in_(periods),
                OutboxMessage.kind.in_(PLANNED))))
        self.carriers: dict[tuple[Any, ...], OutboxMessage] = {}
        for m in others:
            if _is_merged(m):
                continue
            best = self.carriers.get(slot_of(m))
            if best is None or _rank(m) > _rank(best):
                self.carriers[slot_of(m)] = m

    def carrier(self, row: OutboxMessage) -> OutboxMessage | None:
        """The row whose SMS carries `row`: itself, or for a merged row its slot's carrier."""
        return self.carriers.get(slot_of(row)) if _is_merged(row) else row

    def settled(self, row: OutboxMessage | None) -> bool:
        """True when the planner may not change the row any more (sent, in flight, final)."""
        if row is None:
            return False
        if _is_merged(row):
            carrier = self.carrier(row)
            return carrier is not None and self.settled(carrier)
        if row.status == OutboxStatus.PENDING:
            return row.batch_id is not None
        if row.status == OutboxStatus.SKIPPED:
            return row.failure_reason not in REVIVABLE
        return True

    def reached(self, row: OutboxMessage) -> OutboxMessage | None:
        """The sent SMS that told this row's household what the row says, if any."""
        carrier = self.carrier(row)
        return carrier if carrier is not None and carrier.status in SENT else None

    def last_told(self, hogar_id: str, periodo: str) -> OutboxMessage | None:
        """The household's reminder or change notice of `periodo` that reached the phone last."""
        best: tuple[dt.datetime, int, OutboxMessage] | None = None
        for m in self.announced.get((hogar_id, periodo), ()):
            sms = self.reached(m)
            if sms is None:
                continue
            rank = (sms.sent_at or sms.created_at, sms.id, m)
            if best is None or rank[:2] > best[:2]:
                best = rank
        return best[2] if best else None

    def taken(self, s: Session, changed: list[OutboxMessage]) -> set[int]:
        """The rows of `changed` no longer as this page read them (a dispatcher claimed or sent
        one, an opt-out withdrew it), or being changed right now; the others stay locked until
        the page commits, so its writes land on them as read. PostgreSQL: FOR UPDATE SKIP LOCKED
        (never waiting, so never a deadlock with a dispatcher); SQLite: the page's write lock
        has kept every other writer out since the page read them."""
        ids = sorted(m.id for m in changed)
        found: dict[int, tuple[Any, ...]] = {}
        with s.no_autoflush:  # what the database holds, not the page's changes
            for start in range(0, len(ids), CHECKED):
                found.update((row[0], tuple(row[1:])) for row in s.execute(
                    select(OutboxMessage.id, *(getattr(OutboxMessage, col) for col in STATE))
                    .where(OutboxMessage.id.in_(ids[start:start + CHECKED]))
                    .order_by(OutboxMessage.id).with_for_update(skip_locked=True)))
        return {i for i in ids if found.get(i) != self.read[i]}

    def free_key(self, base: str) -> str:
        """`base`, or `base:2`... when an announcement of that key already went out."""
        key, n = base, 1
        while self.settled(self.by_key.get(key)):
            n += 1
            key = f"{base}:{n}"
        return key


def _state(row: OutboxMessage) -> tuple[Any, ...]:
    return tuple(getattr(row, col) for col in STATE)


def entangled(seed: Iterable[str], links: Iterable[tuple[str | None, str | None]]) -> set[str]:
    """`seed` and every household planned together with one of them: households linked by a
    phone (`links`: household and phone pairs), one link after another."""
    phones: dict[str, set[str]] = {}
    homes: dict[str, set[str]] = {}
    for home, phone in links:
        if home and phone:
            phones.setdefault(phone, set()).add(home)
            homes.setdefault(home, set()).add(phone)
    found: set[str] = set()
    todo = list(seed)
    while todo:
        home = todo.pop()
        if home not in found:
            found.add(home)
            todo += [other for phone in homes.get(home, ()) for other in phones[phone]]
    return found


def overtaken(s: Session, book: RowBook, wants: list[Want], groups: dict[str, dict[str, str]]) -> set[str]:
    """The households whose planned changes are dropped (taken out of the session): those with
    a row taken while the page was planned, and the others on their phones (one SMS may name
    them all). They are planned again from what the dispatcher left."""
    changed = [m for m in book.rows if s.is_modified(m)]
    taken = book.taken(s, changed)
    if not taken:
        return set()
    again = entangled({m.hogar_id or "" for m in changed if m.id in taken},
                      [(m.hogar_id, m.recipient) for m in book.rows]
                      + [(w.row["hogar_id"], w.row["recipient"]) for w in wants]
                      + [(h, phone) for phone, group in groups.items() for h in group])
    for m in changed:
        if m.hogar_id in again:
            s.expunge(m)
    log.info("planning: %s rows taken by a dispatcher while planned; %s households planned again",
             len(taken), len(again))
    return again


def _is_merged(row: OutboxMessage) -> bool:
    return row.status == OutboxStatus.SKIPPED and row.failure_reason == MERGED


@dataclass
class Want:
    """One outbox row a settlement calls for, before its text is written."""

    row: dict[str, Any]  # the outbox columns, text aside
    spec: tuple[str, Any]  # what the text says: ("reminder" | "change" | "cancel", op), ("notice", None)
    lang: str
    have: OutboxMessage | None
    settled: bool
    names: list[str] = field(default_factory=list)  # households the SMS names (shared phones)
    merged: bool = False  # carried by another household's SMS to the same phone
    unsure: int = 0  # named alone by initials this many households on the phone share (2+)


def phone_groups(s: Session, phones: Iterable[str | None]) -> dict[str, dict[str, str]]:
    """Phones serving two or more households: phone -> hogar_id -> the titular's initials."""
    wanted = sorted({p for p in phones if p})
    if not wanted:
        return {}
    found: dict[str, list[tuple[str, str, str]]] = {}
    for phone, hid, nombres, apellidos in s.execute(
        select(Household.phone, Household.hogar_id, Household.nombres, Household.apellidos)
        .where(Household.phone.in_(wanted))
    ):
        found.setdefault(phone or "", []).append((hid, nombres, apellidos))
    return {phone: _labels(members) for phone, members in found.items() if len(members) > 1}


def _labels(members: list[tuple[str, str, str]]) -> dict[str, str]:
    """Initials per household, told apart as the USSD chooser tells them (dialogs/choice.py)."""
    raw = {hid: choice.initials(n, a) for hid, n, a in members}
    return {hid: label if raw[hid].strip() else "-" for hid, label in choice.distinct_labels(raw).items()}


def merge(wants: list[Want], groups: dict[str, dict[str, str]]) -> None:
    """Name the households on shared phones, and carry each slot's households in one SMS.

    The carrier is the household with the lowest hogar_id (stable across runs); the SMS is in
    the households' language when they share one, else in Spanish, which all can be read in.
    """
    slots: dict[tuple[Any, ...], list[Want]] = {}
    for w in wants:
        if not w.settled and w.row["recipient"] in groups:
            slots.setdefault(slot_of(w.row), []).append(w)
    for slot, members in slots.items():
        labels = groups[slot[0]]
        members.sort(key=lambda w: w.row["hogar_id"])
        for start in range(0, len(members), MAX_NAMED):
            chunk = members[start:start + MAX_NAMED]
            names = [labels.get(w.row["hogar_id"], "-") for w in chunk]
            lang = chunk[0].lang if len({w.lang for w in chunk}) == 1 else "es"
            # Alone in its SMS with initials another household of the phone has too (sisters
            # ROSA and RUTH C.H.): the SMS says so and how to tell (DNI PAGO from this phone).
            same = list(labels.values()).count(names[0])
            unsure = same if len(chunk) == 1 and same > 1 else 0
            for i, w in enumerate(chunk):
                w.names, w.lang, w.merged, w.unsure = names, lang, i > 0, unsure
