"""A synthetic, deterministic data set in the CSV contract format, streamed to disk at any size.

The first households are built by hand so that even a tiny set holds every estado, motivo,
modalidad and idioma; the rest are drawn from a seeded random generator. Periods are the
`periods` bimesters ending with the one after the bimester containing `today`: that latest
period is still to be paid (dates 5 to 20 days ahead), the earlier ones are in the past.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mijuntos.csv_rows import FILES
from mijuntos_dev.demo_geo import COMMUNITIES, STREETS, District, interleaved_districts
from mijuntos_dev.demo_gestores import DemoGestor, demo_gestores, write_gestores
from mijuntos_dev.demo_people import FORCED_COUNT, People, Person

HOUSEHOLDS_PER_POINT = 211  # 760,000 households -> about 3,600 pay points, as nationally
# The latest period's motivo of the first households (None: programado); demo_people gives
# households 3 and 4 the matching padron estado, and 1, 2 and 5 the matching members.
FORCED: list[str | None] = [
    None, "INC_SALUD", "INC_EDUCACION", "SUSPENDIDO", "DESAFILIADO", "SIN_MIEMBRO_OBJETIVO",
    "DATOS_EN_VERIFICACION", "TARJETA_PENDIENTE",
]
assert len(FORCED) == FORCED_COUNT
NO_COBRADO_HOUSEHOLD = len(FORCED)  # its previous period is forced to no_cobrado
SAMPLE_HOUSEHOLDS = (0, 1, 3)


@dataclass(frozen=True)
class PayPointPlan:
    """A pay point present in every period, with its place, hours and day offsets."""

    punto_id: str
    district: District
    modalidad: str
    lugar: str
    direccion: str
    start_in: int
    days: int
    hours: tuple[str, str]


@dataclass(frozen=True)
class DemoSample:
    """An identity to try in a demo: who to be and what the service should answer."""

    label: str
    hogar_id: str
    nombre: str
    dni: str
    fecha_nacimiento: str  # DDMMAAAA, as typed on the phone
    phone_of_record: str | None
    dial_from: str
    estado: str
    motivo: str | None

    def line(self) -> str:
        """One printable line (synthetic data, so printing identities is fine)."""
        reason = f" {self.motivo}" if self.motivo else ""
        return (f"{self.label}: {self.hogar_id} {self.nombre}, DNI {self.dni}, "
                f"nacimiento {self.fecha_nacimiento}, phone of record "
                f"{self.phone_of_record or '-'}, dial from {self.dial_from} -> "
                f"{self.estado}{reason}")


@dataclass
class DemoSummary:
    """What was written, and sample identities for a demo."""

    directory: Path
    households: int = 0
    pay_points: int = 0
    abonos: int = 0
    corresponsabilidades: int = 0
    periods: list[str] = field(default_factory=list)
    samples: list[DemoSample] = field(default_factory=list)
    gestores: list[DemoGestor] = field(default_factory=list)

    @property
    def gestor_sample(self) -> DemoGestor:
        """The active gestor the demo prints (the first; in PUNO, the README titular's UT)."""
        return next(g for g in self.gestores if g.estado == "activo")

    def identity_lines(self) -> list[str]:
        """The identities to try: households, then the gestor for the assisted menu."""
        return [*(s.line() for s in self.samples), self.gestor_sample.line()]

    def lines(self) -> list[str]:
        """A short printable summary."""
        head = (f"wrote {self.households} households, {self.pay_points} pay point rows, "
                f"{self.abonos} abonos, {self.corresponsabilidades} corresponsabilidades, "
                f"{len(self.gestores)} gestores for {', '.join(self.periods)} to {self.directory}")
        return [head, *self.identity_lines()]


def period_labels(today: dt.date, periods: int) -> list[str]:
    """`periods` bimester labels, oldest first, ending with today's bimester (paid days ahead)."""
    latest = today.year * 6 + (today.month - 1) // 2
    return [f"{i // 6}-{i % 6 + 1}" for i in range(latest - periods + 1, latest + 1)]


def plan_points(rng: random.Random, households: int) -> list[PayPointPlan]:
    """Pay points round-robin over districts; every third one an ETV field operation."""
    districts = interleaved_districts()
    plans = []
    for p in range(max(4, round(households / HOUSEHOLDS_PER_POINT))):
        district = districts[p % len(districts)]
        start_in = rng.randint(5, 12)
        if p % 3 == 1:
            community = COMMUNITIES[(p * 7 + p // len(districts)) % len(COMMUNITIES)]
            plans.append(PayPointPlan(
                f"P{p + 1:05d}", district, "etv", f"Operativo ETV {community}",
                f"Local comunal de {community}, {district.name}", start_in,
                rng.randint(0, 2), ("07:00", "15:00") if p % 2 else ("08:00", "14:00")))
        else:
            nth = p // len(districts)
            kind = "Agencia BN" if nth == 0 else "Agente BN"
            lugar = f"{kind} {district.name}" + (f" {nth}" if nth else "")
            street = f"{rng.choice(STREETS)} {rng.randint(100, 899)}, {district.name}"
            plans.append(PayPointPlan(
                f"P{p + 1:05d}", district, "agencia", lugar, street, start_in,
                min(20 - start_in, 8), ("08:30", "17:30") if p % 2 else ("09:00", "16:00")))
    return plans


def write_demo_data(
    directory: Path,
    households: int,
    *,
    seed: int = 7,
    periods: int = 4,
    today: dt.date | None = None,
) -> DemoSummary:
    """Write padron, cronograma, abonos, corresponsabilidades and gestores CSV files to `directory`."""
    if households < 1 or periods < 2:
        raise ValueError("households: at least 1; periods: at least 2")
    today = today or dt.date.today()
    rng = random.Random(seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    summary = DemoSummary(directory=directory, periods=period_labels(today, periods))
    points = plan_points(rng, households)
    people = People(rng, seed, households, today)
    with ExitStack() as stack:
        out = {}
        for spec in FILES:
            f = stack.enter_context(open(directory / spec.name, "w", encoding="utf-8", newline=""))
            out[spec.name] = csv.writer(f, lineterminator="\n")
            out[spec.name].writerow(spec.columns)
        summary.pay_points = _write_cronograma(
            out["cronograma.csv"], points, summary.periods, today
        )
        for i in range(households):
            point = points[i % len(points)]
            person = people.person(i, point.district)
            _write_household(out, rng, i, person, point, summary)
        summary.gestores = demo_gestores(people)
        write_gestores(out["gestores.csv"], summary.gestores)
    return summary


def _write_cronograma(
    writer: Any, points: list[PayPointPlan], labels: list[str], today: dt.date
) -> int:
    rows = 0
    for k, label in enumerate(reversed(labels)):
        for pp in points:
            start = today + dt.timedelta(days=pp.start_in - 61 * k)
            end = start + dt.timedelta(days=pp.days)
            writer.writerow([label, pp.punto_id, pp.modalidad, pp.lugar, pp.direccion,
                             start.isoformat(), end.isoformat(), pp.hours[0], pp.hours[1],
                             pp.district.ubigeo])
            rows += 1
    return rows


def _reason_now(rng: random.Random, i: int, person: Person) -> str | None:
    """The latest period's motivo (None: programado)."""
    if i < len(FORCED):
        return FORCED[i]
    if person.estado == "suspendido":
        return "SUSPENDIDO"
    if person.estado == "desafiliado":
        return "DESAFILIADO"
    if not person.members:
        return "SIN_MIEMBRO_OBJETIVO"
    return _draw_reason(rng, person, LATEST_REASONS)


LATEST_REASONS = (("INC_SALUD", 0.04), ("INC_EDUCACION", 0.03),
                  ("DATOS_EN_VERIFICACION", 0.01), ("TARJETA_PENDIENTE", 0.01))
PREVIOUS_REASONS = (("INC_SALUD", 0.02), ("INC_EDUCACION", 0.02))
OLDER_REASONS = (("TARJETA_PENDIENTE", 0.003),)


def _draw_reason(rng: random.Random, person: Person, weights: tuple[tuple[str, float], ...]
                 ) -> str | None:
    """A reason drawn with the given probabilities; INC_* only with a member of that kind."""
    x = rng.random()
    for reason, p in weights:
        if x < p:
            needs = {"INC_SALUD": "salud", "INC_EDUCACION": "educacion"}.get(reason)
            return None if needs and not person.has(needs) else reason
        x -= p
    return None


def _settlement(rng: random.Random, i: int, k: int, person: Person, now: str | None
                ) -> tuple[str, str | None]:
    """(estado, motivo) of the period k back from the latest."""
    if k == 0:
        return ("sin_abono", now) if now else ("programado", None)
    if person.estado == "suspendido" and k == 1:
        return "sin_abono", "SUSPENDIDO"
    if i == NO_COBRADO_HOUSEHOLD and k == 1:
        return "no_cobrado", None
    if person.estado == "afiliado" and person.members:
        # INC_* only where co-responsibility rows exist (the latest two periods).
        reason = _draw_reason(rng, person, PREVIOUS_REASONS if k == 1 else OLDER_REASONS)
        if reason:
            return "sin_abono", reason
    return ("no_cobrado", None) if rng.random() < 0.05 else ("cobrado", None)


def _write_household(out: dict[str, Any], rng: random.Random, i: int, person: Person,
                     point: PayPointPlan, summary: DemoSummary) -> None:
    out["padron.csv"].writerow(person.padron_row())
    summary.households += 1
    now = _reason_now(rng, i, person)
    abonos, coresp = out["abonos.csv"], out["corresponsabilidades.csv"]
    for k, label in enumerate(reversed(summary.periods)):
        estado, motivo = _settlement(rng, i, k, person, now)
        paid = estado != "sin_abono"
        abonos.writerow([label, person.hogar_id, person.monto() if paid else "0", estado,
                         motivo or "", point.punto_id if paid else ""])
        summary.abonos += 1
        if k < 2:
            summary.corresponsabilidades += _write_members(coresp, label, person, motivo)
        if k == 0 and i in SAMPLE_HOUSEHOLDS:
            summary.samples.append(_sample(person, estado, motivo, i))


def _write_members(writer: Any, label: str, person: Person, motivo: str | None) -> int:
    failing = {"INC_SALUD": "salud", "INC_EDUCACION": "educacion"}.get(motivo or "")
    flagged = False
    for m in person.members:
        fails = not flagged and m.tipo == failing
        flagged = flagged or fails
        cumple = "no" if fails else "si"
        writer.writerow([label, person.hogar_id, m.name, m.tipo, cumple, m.detalle])
    return len(person.members)


def _sample(person: Person, estado: str, motivo: str | None, i: int) -> DemoSample:
    label = "phone of record" if i == 0 else "other phone, verify by DNI and birth date"
    dial_from = person.phone if i == 0 and person.phone else person.stranger_phone
    return DemoSample(label, person.hogar_id, person.nombres, person.dni, person.dob_ddmmaaaa,
                      person.phone, dial_from, estado, motivo)


__all__ = ["DemoSample", "DemoSummary", "write_demo_data"]
