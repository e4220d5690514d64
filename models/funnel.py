"""The stages of the reminder funnel, defined once for `mijuntos report`, its CSV and the dashboard.

A funnel counts messages (outbox rows of reminders, notices, change notices or broadcasts). A
row `skipped` with reason `merged` is not a message (another household's SMS to the same phone
carries its text) and is not counted anywhere. Every other row is in `planned` and in exactly
one leaf stage below it; a stage with parts is the sum of its parts, so the figures add up:

    planned              every message planned
    +- waiting           not handed to the provider yet (pending, or a worker is sending it)
    +- sent              accepted by the provider (statusCode 100-102)
    |  +- delivered        ... and its delivery report said Success
    |  +- delivery_failed  ... and its delivery report said Failed or Rejected
    |  +- no_report        ... and no final delivery report came yet
    +- send_failed       never accepted: the provider refused it for good (invalid number,
    |                    blacklisted...) or every retry failed (`retries_exhausted`)
    +- opted_out         not sent: the phone opted out (BAJA, the aggregator's opt-out) or the
    |                    household switched its reminders off
    +- withdrawn         not sent: no longer called for (the plan changed, the operation started
                         or was cancelled, the period is over, the payment was collected, the
                         household has no phone)

    planned = waiting + sent + send_failed + opted_out + withdrawn
    sent    = delivered + delivery_failed + no_report
    failed messages = delivery_failed (sent) + send_failed (not sent)

A failed row was sent when it has a `sent_at` (set when the provider accepted it): a failed
delivery report comes after that, a refusal or the last failed retry leaves it empty.
docs/REMINDERS.md ("Figures") says the same for the staff.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from models.outbox import OutboxMessage, OutboxStatus, SkipReason


@dataclass(frozen=True)
class Stage:
    key: str  # the CLI's and the CSV's name
    part_of: str | None  # the stage this one is a part of
    label: str  # the dashboard's name (the staff pages are in Spanish)


STAGES = (
    Stage("planned", None, "planificados"),
    Stage("waiting", "planned", "en espera"),
    Stage("sent", "planned", "enviados"),
    Stage("delivered", "sent", "entregados"),
    Stage("delivery_failed", "sent", "fallo de entrega"),
    Stage("no_report", "sent", "sin reporte aun"),
    Stage("send_failed", "planned", "fallo de envio"),
    Stage("opted_out", "planned", "dados de baja"),
    Stage("withdrawn", "planned", "retirados/vencidos"),
)
STAGE_KEYS = tuple(s.key for s in STAGES)
LABELS = {s.key: s.label for s in STAGES}
# stage -> its parts, in order (only the stages that have parts).
PARTS = {s.key: tuple(p.key for p in STAGES if p.part_of == s.key)
         for s in STAGES if any(p.part_of == s.key for p in STAGES)}
LEAVES = tuple(key for key in STAGE_KEYS if key not in PARTS)
# Not sent because the household or its phone said so; every other skip reason is `withdrawn`.
OPTED_OUT = frozenset({SkipReason.OPTED_OUT, SkipReason.REMINDERS_OFF})
_ANCESTORS = {s.key: s.part_of for s in STAGES}


def leaf_of(status: str, reason: str | None, *, sent: bool) -> str | None:
    """The one leaf stage of a row; None for a merged row (not a message). `sent`: it has a
    `sent_at` (only a failed row needs it)."""
    if status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        return "waiting"
    if status == OutboxStatus.SUBMITTED:
        return "no_report"
    if status == OutboxStatus.DELIVERED:
        return "delivered"
    if status == OutboxStatus.FAILED:
        return "delivery_failed" if sent else "send_failed"
    if status == OutboxStatus.SKIPPED:
        if reason == SkipReason.MERGED:
            return None
        return "opted_out" if reason in OPTED_OUT else "withdrawn"
    raise ValueError(f"outbox status {status!r} has no funnel stage (models/funnel.py)")


def empty() -> dict[str, int]:
    return dict.fromkeys(STAGE_KEYS, 0)


def add(stages: dict[str, int], leaf: str, count: int) -> None:
    """Count `count` messages in `leaf` and in every stage it is a part of."""
    key: str | None = leaf
    while key is not None:
        stages[key] += count
        key = _ANCESTORS[key]


def tally(rows: Iterable[Any]) -> dict[Any, dict[str, int]]:
    """group -> stage -> messages, from rows (group, status, reason, rows, rows with sent_at)."""
    out: dict[Any, dict[str, int]] = {}
    for group, status, reason, count, with_sent_at in rows:
        stages = out.setdefault(group, empty())
        if status == OutboxStatus.FAILED:
            add(stages, "delivery_failed", int(with_sent_at))
            add(stages, "send_failed", int(count) - int(with_sent_at))
            continue
        leaf = leaf_of(status, reason, sent=bool(with_sent_at))
        if leaf is not None:
            add(stages, leaf, int(count))
    return out


def stage_counts(session: Session, by: InstrumentedAttribute[Any], *where: ColumnElement[bool]
                 ) -> dict[Any, dict[str, int]]:
    """Value of `by` -> stage -> messages, over the outbox rows matching `where`."""
    return tally(session.execute(
        select(by, OutboxMessage.status, OutboxMessage.failure_reason, func.count(),
               func.count(OutboxMessage.sent_at))
        .where(*where).group_by(by, OutboxMessage.status, OutboxMessage.failure_reason)
    ))


def sums(names: dict[str, str] | None = None) -> list[str]:
    """What adds up to what, one line a stage with parts: "planned = waiting + sent + ..."
    (`names`: the labels to use, e.g. LABELS; the keys by default)."""
    name = names or {key: key for key in STAGE_KEYS}
    return [f"{name[whole]} = " + " + ".join(name[p] for p in parts) for whole, parts in PARTS.items()]
