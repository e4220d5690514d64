"""Every figure of the usage report, computed here from the rows this test seeds, against the
CLI's text, its CSV and the dashboard: the same numbers on all three, each total the sum of the
parts shown beside it.

The expected figures are counted below in plain Python from the seeded rows, with this test's
own statement of the rules (docs/DEPLOY.md "Usage", docs/REMINDERS.md "Figures"): real callers
only, the simulator apart; a message's stage from its status, reason and `sent_at`; merged rows
not counted. Every member of `Channel` is seeded, so a new channel must show up as a column of
its own everywhere (or this test fails), never inside a total without one. The gestor channel's
rows carry a gestor, their UT and Tambo: the assisted sections (models/assisted.py) group them
so, each measure the sum of its rows but households, which are distinct in each row.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from gateway.admin import CHANNEL_NAMES as DASHBOARD_CHANNELS
from gateway.admin import KIND_NAMES
from mijuntos.cli import main
from mijuntos.report_cli import CHANNEL_NAMES as CLI_CHANNELS
from models import Channel, Database, OutboxMessage, OutboxStatus, Query, SkipReason, funnel
from models.query import CALLER_CHANNELS
from models.reports import DEFAULT_DAYS
from tests.admin_support import log_in

START, END = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
WAVE = "2026-6"  # the newest settled period of tests/support.py's seed: the wave shown
LIMA = dt.timedelta(hours=-5)  # Peru keeps UTC-5 all year
LOOKUP_KINDS = ("next_payment", "status", "co_responsibilities")
VERIFIED = ("ok_phone", "ok_dob")
# The programme's figures count real callers; the simulator is staff training, counted apart.
TRAINING = Channel.SIMULATOR
CALLERS = [c.value for c in Channel if c is not TRAINING]
UTS = ("PIURA", "PUNO", "CUSCO", "SAN MARTIN", None)
WAVE_KINDS = ("reminder", "notice", "change")
# Peru's network codes (MCC 716) and their brands; 71699 is assigned to nobody.
NETWORK_NAMES = {"71606": "Movistar", "71607": "Entel", "71610": "Claro", "71615": "Bitel",
                 "71617": "Entel"}
NETWORKS = (*NETWORK_NAMES, "71699", None)
# status, failure reason, accepted by the provider (sent_at set): every way a row ends up.
OUTCOMES = [
    ("pending", None, False), ("sending", None, False), ("submitted", None, True),
    ("delivered", None, True),
    ("failed", "AbsentSubscriber", True), ("failed", "UserIsInactive", True),  # delivery reports
    ("failed", "UserInBlacklist", False), ("failed", "InvalidPhoneNumber", False),  # refused
    ("failed", "retries_exhausted", False),
    *(("skipped", reason.value, False) for reason in SkipReason),
]
STAGES_SENT = ("delivered", "delivery_failed", "no_report")
STAGES_PLANNED = ("waiting", "sent", "send_failed", "opted_out", "withdrawn")
STAGES = ("planned", *STAGES_PLANNED, *STAGES_SENT)

Figures = dict[tuple[str, str, str], str]


# Assisted lookups (channel gestor) carry the gestor's code, UT and Tambo; two gestores may share
# a Tambo, a Tambo may hold gestores of two UTs, and a row may lack any of the three.
GESTORES = [("G000001", "PIURA", "Tambo Chulucanas"), ("G000002", "PIURA", "Tambo Chulucanas"),
            ("G000003", "PUNO", "Tambo Ilave"), ("G000004", "PUNO", None), (None, None, None)]
ASSISTED_MEASURES = ("lookups", "households", "verified", "failed", "summaries_sent")
ASSISTED_SECTIONS = {"assisted_by_ut": 1, "assisted_by_tambo": 2, "assisted_by_gestor": 0}  # -> GESTORES


@dataclass(frozen=True)
class Lookup:
    channel: str
    kind: str
    outcome: str
    ut: str | None
    hogar: str | None
    at: dt.datetime
    gestor: tuple[str | None, str | None, str | None] = (None, None, None)  # code, UT, Tambo


@dataclass(frozen=True)
class Message:
    kind: str | None
    ut: str | None
    periodo: str | None
    status: str
    reason: str | None
    sent: bool
    network: str | None
    at: dt.datetime


def instants(rng: random.Random) -> dt.datetime:
    """Mostly inside March (Lima), some just outside, some on the edges of a Lima day."""
    edges = [dt.datetime(2026, 3, 1, 4, 59, tzinfo=dt.UTC),  # 28 Feb in Lima: out
             dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC),  # 1 Mar 00:00 in Lima: in
             dt.datetime(2026, 4, 1, 4, 59, tzinfo=dt.UTC),  # 31 Mar 23:59 in Lima: in
             dt.datetime(2026, 4, 1, 5, 0, tzinfo=dt.UTC)]  # 1 Apr in Lima: out
    if rng.random() < 0.15:
        return rng.choice(edges)
    start = dt.datetime(2026, 2, 27, tzinfo=dt.UTC)
    return start + dt.timedelta(minutes=rng.randrange(36 * 24 * 60))


def make_rows(seed: int) -> tuple[list[Lookup], list[Message]]:
    rng = random.Random(seed)
    lookups = []
    for channel in Channel:
        assisted = channel is Channel.GESTOR
        kinds = (*LOOKUP_KINDS, "verify", *(("summary_sms",) if assisted else ()))
        for what in kinds:
            outcomes = {"verify": ("ok_phone", "ok_dob", "dob_wrong", "locked", "dni_limit", "gestor_cap"),
                        "summary_sms": ("sent", "already", "no_phone")}.get(
                            what, ("programado", "cobrado", "sin_abono"))
            for _ in range(rng.randint(8, 16) * (3 if assisted else 1)):
                hogar = rng.choice([None, *(f"H{n:02d}" for n in range(1, 13))])
                gestor = rng.choice(GESTORES) if assisted else (None, None, None)
                lookups.append(Lookup(channel.value, what, rng.choice(outcomes), rng.choice(UTS), hogar,
                                      instants(rng), gestor))
    messages = []
    for kind in (*WAVE_KINDS, "broadcast", None):
        for status, reason, sent in OUTCOMES:
            for _ in range(rng.randint(1, 3)):
                final = status == "delivered" or (status == "failed" and sent)
                periodo = (rng.choice((WAVE, "2026-5")) if kind in WAVE_KINDS
                           else rng.choice((None, WAVE)) if kind else None)
                messages.append(Message(kind, rng.choice(UTS), periodo, status, reason, sent,
                                        rng.choice(NETWORKS) if final else None, instants(rng)))
    return lookups, messages


def seed_rows(db: Database, lookups: list[Lookup], messages: list[Message]) -> None:
    with db.session() as s:
        s.add_all(Query(channel=q.channel, kind=q.kind, outcome=q.outcome, unidad_territorial=q.ut,
                        hogar_id=q.hogar, created_at=q.at, gestor_id=q.gestor[0], gestor_ut=q.gestor[1],
                        tambo=q.gestor[2]) for q in lookups)
        s.add_all(OutboxMessage(recipient="+51900000001", text="Mi Juntos: prueba", encoding="gsm7",
                                segments=1, purpose=m.kind or "reply", kind=m.kind, periodo=m.periodo,
                                unidad_territorial=m.ut, status=m.status, failure_reason=m.reason,
                                sent_at=m.at + dt.timedelta(minutes=1) if m.sent else None,
                                network_code=m.network, created_at=m.at) for m in messages)


# -- the figures, counted from the rows ------------------------------------------------------


def lima_day(at: dt.datetime) -> dt.date:
    return (at + LIMA).date()


def in_period(at: dt.datetime) -> bool:
    return START <= lima_day(at) <= END


def leaf(m: Message) -> str | None:
    """The one exclusive stage of a message (None: a merged row, not a message)."""
    if m.status == "skipped":
        if m.reason == "merged":
            return None
        return "opted_out" if m.reason in ("opted_out", "reminders_off") else "withdrawn"
    if m.status == "failed":
        return "delivery_failed" if m.sent else "send_failed"
    return {"pending": "waiting", "sending": "waiting", "submitted": "no_report",
            "delivered": "delivered"}[m.status]


def stages(messages: Iterable[Message]) -> dict[str, int]:
    leaves = Counter(leaf(m) for m in messages)
    out = {s: leaves[s] for s in ("waiting", "send_failed", "opted_out", "withdrawn", *STAGES_SENT)}
    out["sent"] = sum(out[s] for s in STAGES_SENT)
    out["planned"] = sum(n for s, n in leaves.items() if s is not None)
    return out


def by_channel(section: str, key: str, rows: list[Lookup]) -> Figures:
    out = {(section, key, ch): str(sum(q.channel == ch for q in rows)) for ch in CALLERS}
    out[(section, key, "total")] = str(len(rows))
    return out


def assisted(section: str, key: str, rows: list[Lookup]) -> Figures:
    """The assisted figures of `rows` (channel gestor, in the period): households are distinct."""
    looked = [q for q in rows if q.kind in LOOKUP_KINDS]
    checks = [q for q in rows if q.kind == "verify"]
    counts = {"lookups": len(looked), "households": len({q.hogar for q in looked if q.hogar}),
              "verified": sum(q.outcome in VERIFIED for q in checks),
              "failed": sum(q.outcome not in VERIFIED for q in checks),
              "summaries_sent": sum(q.kind == "summary_sms" and q.outcome == "sent" for q in rows)}
    return {(section, key, m): str(n) for m, n in counts.items()}


def by_stage(section: str, key: str, messages: Iterable[Message]) -> Figures:
    return {(section, key, stage): str(n) for stage, n in stages(messages).items()}


def expected(lookups: list[Lookup], messages: list[Message]) -> Figures:
    real = [q for q in lookups if q.channel in CALLERS and in_period(q.at)]
    looked = [q for q in real if q.kind in LOOKUP_KINDS]
    checks = [q for q in real if q.kind == "verify"]
    training = [q for q in lookups if q.channel == TRAINING and in_period(q.at)]
    out: Figures = {("period", "", "from"): START.isoformat(), ("period", "", "to"): END.isoformat(),
                    ("period", "", "days"): str((END - START).days + 1), ("period", "", "wave"): WAVE}
    out |= by_channel("lookups", "all", looked)
    out[("verifications", "all", "verified")] = str(sum(q.outcome in VERIFIED for q in checks))
    out[("verifications", "all", "failed")] = str(sum(q.outcome not in VERIFIED for q in checks))
    out[("households", "all", "reached")] = str(len({q.hogar for q in looked if q.hogar}))
    for ut in {q.ut or "-" for q in looked}:
        out |= by_channel("lookups_by_ut", ut, [q for q in looked if (q.ut or "-") == ut])
    for day in {lima_day(q.at) for q in looked}:
        out |= by_channel("lookups_by_day", day.isoformat(), [q for q in looked if lima_day(q.at) == day])
    helped = [q for q in real if q.channel == Channel.GESTOR]
    for section, part in ASSISTED_SECTIONS.items():
        counted = [q for q in helped if q.kind in (*LOOKUP_KINDS, "verify", "summary_sms")]
        for key in {q.gestor[part] or "-" for q in counted}:
            group = assisted(section, key, [q for q in helped if (q.gestor[part] or "-") == key])
            if any(v != "0" for v in group.values()):  # a group of only unsent SMS rows: no row
                out |= group
        out |= assisted(section, "all", helped)
    out[("simulator", "all", "lookups")] = str(sum(q.kind in LOOKUP_KINDS for q in training))
    out[("simulator", "all", "verified")] = str(sum(q.kind == "verify" and q.outcome in VERIFIED
                                                    for q in training))
    out[("simulator", "all", "failed")] = str(sum(q.kind == "verify" and q.outcome not in VERIFIED
                                                  for q in training))
    reminders = [m for m in messages if m.kind in WAVE_KINDS and in_period(m.at) and leaf(m)]
    for ut in {m.ut or "-" for m in reminders}:
        out |= by_stage("reminders_by_ut", ut, [m for m in reminders if (m.ut or "-") == ut])
    out |= by_stage("reminders_by_ut", "all", reminders)
    wave = [m for m in messages if m.kind in WAVE_KINDS and m.periodo == WAVE]
    for kind in WAVE_KINDS:
        out |= by_stage("wave", kind, [m for m in wave if m.kind == kind])
    out |= by_stage("wave", "all", wave)
    out |= by_stage("broadcasts", "all", [m for m in messages if m.kind == "broadcast" and in_period(m.at)])
    reported = [m for m in messages if in_period(m.at) and m.network and leaf(m) in ("delivered",
                                                                                    "delivery_failed")]
    for network in {m.network for m in reported if m.network}:
        ok = sum(m.network == network and leaf(m) == "delivered" for m in reported)
        bad = sum(m.network == network and leaf(m) == "delivery_failed" for m in reported)
        out |= {("delivery_by_operator", network, "operator"): NETWORK_NAMES.get(network, "unknown"),
                ("delivery_by_operator", network, "delivered"): str(ok),
                ("delivery_by_operator", network, "delivery_failed"): str(bad),
                ("delivery_by_operator", network, "rate_percent"): f"{100 * ok / (ok + bad):.1f}"}
    return out


def assert_adds_up(figures: Figures, where: str) -> None:
    """Each total is the sum of the parts shown beside it."""
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for (section, key, measure), value in figures.items():
        if value.isdigit():
            groups.setdefault((section, key), {})[measure] = int(value)
    for section in ASSISTED_SECTIONS:
        parts = [got for (s, k), got in groups.items() if s == section and k != "all"]
        whole = groups.get((section, "all"), {})
        for m in ASSISTED_MEASURES:
            if m == "households":  # distinct in each row: a household two gestores helped is in both
                assert max((p[m] for p in parts), default=0) <= whole[m] <= sum(p[m] for p in parts), where
            else:
                assert whole[m] == sum(p[m] for p in parts), (where, section, m)
        assert whole["lookups"] == groups[("lookups", "all")]["gestor"], where  # the gestor column's
    for (section, key), got in groups.items():
        if "total" in got:
            assert got["total"] == sum(got.get(ch, 0) for ch in CALLERS), (where, section, key, got)
        if "planned" in got:
            assert got["planned"] == sum(got.get(s, 0) for s in STAGES_PLANNED), (where, section, key, got)
            assert got["sent"] == sum(got.get(s, 0) for s in STAGES_SENT), (where, section, key, got)


# -- what each surface shows -------------------------------------------------------------------


def report(*args: str) -> str:
    result = CliRunner().invoke(main, ["report", "--from", START.isoformat(), "--to", END.isoformat(),
                                       *args])
    assert result.exit_code == 0, result.output
    return result.output


def csv_figures(text: str) -> tuple[Figures, list[tuple[str, str, str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "key", "measure", "value"]
    keys = [(r[0], r[1], r[2]) for r in rows[1:] if r[0] != "schedule_data"]
    assert len(keys) == len(set(keys)), "a figure written twice"
    return {(r[0], r[1], r[2]): r[3] for r in rows[1:] if r[0] != "schedule_data"}, keys


def table(lines: list[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(columns, [(row label, values)]) of a text table; labels may hold spaces."""
    header, *body = lines
    width = 0
    for token in reversed(body[0].split()):
        if not token.isdigit():
            break
        width += 1
    rows = []
    for line in body:
        label, *values = line.rsplit(maxsplit=width)
        rows.append((label.strip(), values))
    return header.split()[-width:], rows


def cli_figures(text: str) -> tuple[Figures, dict[str, list[str]]]:
    """The figures of the text report, keyed as the CSV keys them; and each table's columns."""
    blocks = [b.splitlines() for b in text.strip("\n").split("\n\n")]
    head = re.fullmatch(r"Mi Juntos usage (\S+) to (\S+) \((\d+) days on the Lima clock\)", blocks[0][0])
    assert head, blocks[0]
    out: Figures = {("period", "", "from"): head[1], ("period", "", "to"): head[2],
                    ("period", "", "days"): head[3]}
    columns: dict[str, list[str]] = {}
    channel_of = {name: ch for ch, name in CLI_CHANNELS.items()} | {"total": "total"}
    sections = {"lookups by Unidad Territorial, busiest first:": "lookups_by_ut",
                "lookups by day (the days with any):": "lookups_by_day",
                "reminders and notices created in these days, by UT:": "reminders_by_ut",
                "broadcasts created in these days:": "broadcasts",
                "assisted lookups by the gestor's Unidad Territorial, busiest first:": "assisted_by_ut",
                "assisted lookups by Tambo, busiest first:": "assisted_by_tambo",
                "assisted lookups by gestor, busiest first:": "assisted_by_gestor"}
    for block in blocks[1:]:
        title = block[0]
        if title.startswith("Real callers"):
            out |= _cli_totals(block[1:], channel_of)
        elif title.startswith("wave of period "):
            out[("period", "", "wave")] = title.split()[3]
            out |= _cli_table("wave", block[1:], {}, columns)
        elif title.startswith("delivery rate by operator"):
            out |= _cli_operators(block[1:])
        elif title in sections:
            names = channel_of if sections[title].startswith("lookups") else {}
            out |= _cli_table(sections[title], block[1:], names, columns)
    return out, columns


def _cli_totals(lines: list[str], channel_of: dict[str, str]) -> Figures:
    looked = re.fullmatch(r"lookups: (\d+) \((.*)\)", lines[0])
    checks = re.fullmatch(r"verifications: (\d+) verified, (\d+) failed", lines[1])
    reached = re.fullmatch(r"households reached: (\d+)", lines[2])
    sim = re.fullmatch(r"simulator \(staff training; in no other figure of this report\): (\d+) lookups, "
                       r"(\d+) verifications \((\d+) verified, (\d+) failed\)", lines[3])
    assert looked and checks and reached and sim, lines
    assert int(sim[2]) == int(sim[3]) + int(sim[4])
    out: Figures = {("lookups", "all", "total"): looked[1]}
    for part in looked[2].split(", "):
        name, n = part.rsplit(" ", 1)
        out[("lookups", "all", channel_of[name])] = n
    return out | {("verifications", "all", "verified"): checks[1],
                  ("verifications", "all", "failed"): checks[2],
                  ("households", "all", "reached"): reached[1],
                  ("simulator", "all", "lookups"): sim[1], ("simulator", "all", "verified"): sim[3],
                  ("simulator", "all", "failed"): sim[4]}


def _cli_table(section: str, lines: list[str], names: dict[str, str],
               columns: dict[str, list[str]]) -> Figures:
    cols, rows = table(lines)
    columns[section] = cols
    out: Figures = {}
    for label, values in rows:
        key = "all" if label in ("total", "broadcasts") and section != "lookups_by_ut" else label
        out |= {(section, key, names.get(c, c)): v for c, v in zip(cols, values, strict=True)}
    return out


def _cli_operators(lines: list[str]) -> Figures:
    out: Figures = {}
    for line in lines:
        found = re.fullmatch(r"  (?:(\w+) \((\d+)\)|(\d+) \(unknown\)): ([\d.]+)% of (\d+) "
                             r"\((\d+) delivered, (\d+) delivery_failed\)", line)
        assert found, line
        code = found[2] or found[3]
        assert int(found[5]) == int(found[6]) + int(found[7])
        out |= {("delivery_by_operator", code, "operator"): found[1] or "unknown",
                ("delivery_by_operator", code, "delivered"): found[6],
                ("delivery_by_operator", code, "delivery_failed"): found[7],
                ("delivery_by_operator", code, "rate_percent"): found[4]}
    return out


def chart(page: str, card: str) -> dict[str, dict[str, int]]:
    """The bars of the chart in card `card`: label -> series (every one, 0 when not drawn)."""
    svg, legend = page.split(f'id="{card}"', 1)[1].split("</figure>", 1)[0].split("</svg>", 1)
    series = [html.unescape(s) for s in re.findall(r"</i>([^<]*)</span>", legend)]  # gateway/charts.py
    assert series, card
    out: dict[str, dict[str, int]] = {}
    for part in svg.split('class="label">')[1:]:
        label = html.unescape(part.split("<", 1)[0])
        drawn = {html.unescape(s): int(v) for s, v in re.findall(r'data-series="([^"]+)" data-value="(\d+)"',
                                                                 part)}
        total = re.search(r'class="value">(\d+)<', part)
        assert total and int(total[1]) == sum(drawn.values()), (card, label)  # the bar's number
        out[label] = {s: drawn.get(s, 0) for s in series}
    return out


def text_of(page: str, element: str) -> str:
    found = re.search(rf'id="{element}"[^>]*>(.*?)</p>', page, re.S)
    assert found, element
    return " ".join(re.sub(r"<[^>]+>", "", found[1]).split())


def dashboard_figures(page: str) -> tuple[Figures, list[str]]:
    """The figures the dashboard shows, keyed as the CSV keys them; and its stage columns."""
    period = re.fullmatch(r"Cifras del (\d\d)/(\d\d)/(\d{4}) al (\d\d)/(\d\d)/(\d{4}): (\d+) dias, "
                          r"hora de Lima\.", text_of(page, "period"))
    assert period, text_of(page, "period")
    wave = re.search(r"Recordatorios y avisos del periodo (\S+) \(de cualquier fecha\)", page)
    assert wave
    out: Figures = {("period", "", "from"): f"{period[3]}-{period[2]}-{period[1]}",
                    ("period", "", "to"): f"{period[6]}-{period[5]}-{period[4]}",
                    ("period", "", "days"): period[7], ("period", "", "wave"): wave[1]}
    totals = re.fullmatch(r"Consultas: (\d+) \((.*)\) · verificadas (\d+), fallidas (\d+) · hogares (\d+)",
                          text_of(page, "totals"))
    assert totals, text_of(page, "totals")
    channel_of = {name: ch for ch, name in DASHBOARD_CHANNELS.items()}
    out[("lookups", "all", "total")] = totals[1]
    for part in totals[2].split(", "):
        name, n = part.rsplit(" ", 1)
        out[("lookups", "all", channel_of[name])] = n
    out |= {("verifications", "all", "verified"): totals[3], ("verifications", "all", "failed"): totals[4],
            ("households", "all", "reached"): totals[5]}
    sim = re.fullmatch(r"Simulador \(capacitacion del personal; no se cuenta en ninguna otra cifra de "
                       r"esta pagina\): (\d+) consultas, (\d+) verificadas, (\d+) fallidas",
                       text_of(page, "simulator"))
    assert sim, text_of(page, "simulator")
    out |= {("simulator", "all", "lookups"): sim[1], ("simulator", "all", "verified"): sim[2],
            ("simulator", "all", "failed"): sim[3]}
    for card, section in (("by-ut", "lookups_by_ut"), ("per-day", "lookups_by_day")):
        for label, values in chart(page, card).items():
            out |= {(section, label, channel_of[s]): str(n) for s, n in values.items()}
            out[(section, label, "total")] = str(sum(values.values()))
    for section in ASSISTED_SECTIONS:
        cells = page.split(f'id="{section}"', 1)[1].split("</table>", 1)[0]
        for key, row in re.findall(r'<tr data-key="([^"]+)">(.*?)</tr>', cells, re.S):
            found = re.findall(r'data-measure="(\w+)">(\d+)<', row)
            assert [m for m, _ in found] == list(ASSISTED_MEASURES), (section, key)
            out |= {(section, html.unescape(key), m): n for m, n in found}
    # The table of reminders by UT: its headers are the stages' Spanish names, its cells say
    # which stage of the CLI they are; one name per stage, both ways.
    reminders = page.split('id="reminders-by-ut"', 1)[1].split("</table>", 1)[0]
    labels = [html.unescape(h) for h in re.findall(r"<th>([^<]*)</th>", reminders.split("</tr>", 1)[0])][1:]
    keys: list[str] = []
    for ut, cells in re.findall(r'<tr data-ut="([^"]+)">(.*?)</tr>', reminders, re.S):
        found = re.findall(r'data-stage="(\w+)">(\d+)<', cells)
        keys = [k for k, _ in found]
        out |= {("reminders_by_ut", "all" if ut == "total" else html.unescape(ut), k): n for k, n in found}
    assert len(labels) == len(keys) == len(set(labels)) == len(set(keys))
    stage_of = dict(zip(labels, keys, strict=True))
    kind_of = {name: kind for kind, name in KIND_NAMES.items()}
    for label, values in chart(page, "funnel").items():
        out |= {("wave", kind_of[s], stage_of[label]): str(n) for s, n in values.items()}
        out[("wave", "all", stage_of[label])] = str(sum(values.values()))
    for label, values in chart(page, "broadcasts").items():
        out[("broadcasts", "all", stage_of[label])] = str(values["avisos masivos"])
    for label, values in chart(page, "operators").items():
        named = re.fullmatch(r"(?:(\w+) \((\d+)\)|(\d+) \(desconocido\))", label)
        assert named, label
        code = named[2] or named[3]
        out |= {("delivery_by_operator", code, "operator"): named[1] or "unknown"}
        out |= {("delivery_by_operator", code, stage_of[s]): str(n) for s, n in values.items()}
    return out, keys


# -- the test -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [13, 2026])
def test_the_cli_the_csv_and_the_dashboard_show_the_figures_the_rows_make(
        app: Flask, seeded: Database, redis_url: str, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    lookups, messages = make_rows(seed)
    seed_rows(seeded, lookups, messages)
    want = expected(lookups, messages)
    assert_adds_up(want, "expected")
    # The data has what the rules are about: sim rows in the period, merged rows, every stage.
    assert int(want[("simulator", "all", "lookups")]) > 0 and any(leaf(m) is None for m in messages)
    assert all(int(want[("reminders_by_ut", "all", s)]) > 0 for s in STAGES)

    staff = log_in(app, seeded, monkeypatch)
    monkeypatch.setenv("REDIS_URL", redis_url)  # log_in set DATABASE_URL

    got_csv, order = csv_figures(report("--csv"))
    assert got_csv == want
    assert_adds_up(got_csv, "csv")
    uts = [key for section, key, measure in order if section == "lookups_by_ut" and measure == "total"]
    assert [int(want[("lookups_by_ut", ut, "total")]) for ut in uts] == sorted(
        (int(want[("lookups_by_ut", ut, "total")]) for ut in uts), reverse=True)  # busiest first

    for section in ASSISTED_SECTIONS:  # busiest first, then the total
        keys = [k for s, k, m in order if s == section and m == "lookups"]
        assert keys[-1] == "all" and [int(want[(section, k, "lookups")]) for k in keys[:-1]] == sorted(
            (int(want[(section, k, "lookups")]) for k in keys[:-1]), reverse=True)
        assert int(want[(section, "all", "lookups")]) > 0 and len(keys) > 2

    got_cli, columns = cli_figures(report())
    assert got_cli == want
    assert_adds_up(got_cli, "cli")
    assert columns["lookups_by_ut"] == [*(CLI_CHANNELS[ch] for ch in CALLERS), "total"]
    assert all(columns[section] == list(ASSISTED_MEASURES) for section in ASSISTED_SECTIONS)

    page = staff.get(f"/admin/?from={START}&to={END}").get_data(as_text=True)
    got_page, keys = dashboard_figures(page)
    shown = {k: v for k, v in want.items() if k[2] != "rate_percent"}  # the chart shows the counts
    assert got_page == shown
    assert_adds_up(got_page, "dashboard")
    # One stage name each, in the same order, on all three.
    csv_stages = [m for s, k, m in order if (s, k) == ("reminders_by_ut", "all")]
    assert keys == columns["reminders_by_ut"] == columns["wave"] == columns["broadcasts"] == csv_stages
    assert set(keys) == set(STAGES)


def test_both_default_to_the_same_days_and_say_which(app: Flask, seeded: Database, redis_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    staff = log_in(app, seeded, monkeypatch)
    monkeypatch.setenv("REDIS_URL", redis_url)
    before = dt.datetime.now(dt.timezone(LIMA)).date()
    result = CliRunner().invoke(main, ["report"])
    page = staff.get("/admin/").get_data(as_text=True)
    after = dt.datetime.now(dt.timezone(LIMA)).date()
    assert result.exit_code == 0, result.output
    days = [(today - dt.timedelta(days=DEFAULT_DAYS - 1), today) for today in {before, after}]
    assert any(result.output.startswith(f"Mi Juntos usage {first} to {last} ({DEFAULT_DAYS} days on")
               for first, last in days), result.output
    # The app under test has its "today" pinned (TEST_TODAY); the command line reads the clock.
    pinned = app.extensions["mijuntos"].settings.local_today()
    first, last = pinned - dt.timedelta(days=DEFAULT_DAYS - 1), pinned
    assert text_of(page, "period") == f"Cifras del {first:%d/%m/%Y} al {last:%d/%m/%Y}: " \
        f"{DEFAULT_DAYS} dias, hora de Lima (por defecto, los ultimos {DEFAULT_DAYS} dias).", \
        text_of(page, "period")
    asked = staff.get("/admin/?from=2026-03-01&to=2026-03-07").get_data(as_text=True)
    assert text_of(asked, "period") == "Cifras del 01/03/2026 al 07/03/2026: 7 dias, hora de Lima."


def test_every_channel_has_one_name_in_the_cli_and_on_the_dashboard() -> None:
    assert list(CALLER_CHANNELS) == CALLERS  # every channel but the simulator, in the enum's order
    assert CLI_CHANNELS is DASHBOARD_CHANNELS  # one table of names (models/query.py)
    assert set(CLI_CHANNELS) == set(Channel)  # the simulator's line names it too
    names = list(CLI_CHANNELS.values())
    assert len(set(names)) == len(names) and all(" " not in n for n in names)  # a text table's column


def test_every_outbox_row_has_one_stage_and_the_docs_say_what_adds_up() -> None:
    for status in OutboxStatus:
        for reason in (None, *SkipReason, "AbsentSubscriber"):
            for sent in (False, True):
                stage = funnel.leaf_of(status, reason, sent=sent)
                merged = status == OutboxStatus.SKIPPED and reason == SkipReason.MERGED
                assert (stage is None) == merged and (merged or stage in funnel.LEAVES)
    assert set(funnel.LEAVES) == {"waiting", "send_failed", "opted_out", "withdrawn", *STAGES_SENT}
    assert funnel.sums() == ["planned = " + " + ".join(STAGES_PLANNED), "sent = " + " + ".join(STAGES_SENT)]
    docs = (Path(__file__).resolve().parent.parent / "docs" / "REMINDERS.md").read_text(encoding="utf-8")
    assert all(f"    {line}\n" in docs for line in funnel.sums())
    for row in funnel.STAGES:
        assert f"| `{row.key}` | {row.label} | {row.part_of or ''}".rstrip() + " |" in docs, row
