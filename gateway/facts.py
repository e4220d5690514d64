"""The dialogs' Facts, read from the database (and the lockout counters from Redis)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Integer,
    Result,
    and_,
    bindparam,
    exists,
    func,
    null,
    select,
    type_coerce,
    union_all,
)

from core.keys import FACTS_MAX_AGE
from core.privacy import phone_key
from dialogs.choice import initials
from dialogs.effects import summary_key
from dialogs.facts import CoRespFacts, GestorFacts, HouseholdFacts, Outlook, SettlementFacts
from gateway.abuse import DniGuard
from gateway.sessions import SessionStore
from models import (
    CoResponsibility,
    Gestor,
    Household,
    OptOut,
    OutboxMessage,
    PayPoint,
    PhoneChange,
    Settlement,
)
from models.base import UTCDateTime, utcnow
from models.clock import lima_date
from models.export import LATEST_SCHEDULE_EXPORT
from models.gestor import is_active

_HOUSEHOLD_COLUMNS = (
    Household.hogar_id,
    Household.dni,
    Household.nombres,
    Household.apellidos,
    Household.fecha_nacimiento,
    Household.idioma,
    Household.unidad_territorial,
    Household.estado,
    Household.phone,
    Household.reminders_enabled,
)


def _household(row: object) -> HouseholdFacts:
    r = row._mapping  # type: ignore[attr-defined]
    nombres = (r["nombres"] or "").strip()
    moved_at: dt.datetime | None = r.get("moved_at")
    return HouseholdFacts(
        hogar_id=r["hogar_id"],
        dni=r["dni"],
        first_name=nombres.split()[0].title() if nombres else "",
        fecha_nacimiento=r["fecha_nacimiento"],
        idioma=r["idioma"] or "es",
        unidad_territorial=r["unidad_territorial"],
        estado=r["estado"],
        phone=r["phone"],
        reminders_enabled=bool(r["reminders_enabled"]),
        initials=initials(nombres, r["apellidos"] or ""),
        moved_away_on=lima_date(moved_at) if moved_at else None,
    )


# Built once: making a statement (coercing every column and clause) cost about as much CPU
# as running it. Each hop binds its values.
# A phone's households: those it is the phone of record of, and (phonechange) those it was the
# phone of record of until a move still in its grace period, found by the phone's keyed hash.
# One statement, an index lookup on each table; the second is a small table.
_BY_PHONE = union_all(
    select(*_HOUSEHOLD_COLUMNS, type_coerce(null(), UTCDateTime()).label("moved_at"))
    .where(Household.phone == bindparam("phone")),
    select(*_HOUSEHOLD_COLUMNS, PhoneChange.created_at.label("moved_at"))
    .join(PhoneChange, PhoneChange.hogar_id == Household.hogar_id)
    .where(PhoneChange.old_phone_key == bindparam("key"), PhoneChange.undone_at.is_(None),
           PhoneChange.grace_until > bindparam("now", type_=UTCDateTime())),
).limit(5)
_BY_DNI = select(*_HOUSEHOLD_COLUMNS).where(Household.dni == bindparam("dni"))
_BY_ID = select(*_HOUSEHOLD_COLUMNS).where(Household.hogar_id == bindparam("hogar_id"))
_SETTLEMENTS = (
    select(
        Settlement.periodo,
        Settlement.estado,
        Settlement.monto,
        Settlement.motivo,
        PayPoint.modalidad,
        PayPoint.lugar,
        PayPoint.direccion,
        PayPoint.fecha_inicio,
        PayPoint.fecha_fin,
        PayPoint.hora_inicio,
        PayPoint.hora_fin,
    )
    .outerjoin(
        PayPoint,
        and_(PayPoint.periodo == Settlement.periodo, PayPoint.punto_id == Settlement.punto_id),
    )
    .where(Settlement.hogar_id == bindparam("hogar_id"))
    .order_by(Settlement.periodo.desc())
    .limit(bindparam("limit", type_=Integer))
)
_CO_RESPONSIBILITIES = (
    select(
        CoResponsibility.miembro,
        CoResponsibility.tipo,
        CoResponsibility.cumple,
        CoResponsibility.detalle,
    )
    .where(
        CoResponsibility.hogar_id == bindparam("hogar_id"),
        CoResponsibility.periodo == bindparam("periodo"),
    )
    .order_by(CoResponsibility.miembro, CoResponsibility.tipo)
)

# Asked only when there is no next payment to show (or it has no dates): one round trip of
# index lookups (the schedule's primary key, the household's, the opt-out's).
_OUTLOOK = select(
    select(func.max(PayPoint.periodo)).scalar_subquery().label("newest_periodo"),
    select(func.max(PayPoint.fecha_fin))
    .where(PayPoint.periodo == bindparam("periodo"))
    .scalar_subquery()
    .label("period_end"),
    exists()
    .where(Household.hogar_id == bindparam("hogar_id"), Household.phone == bindparam("phone"))
    .label("phone_of_record"),
    exists()
    .where(Household.hogar_id == bindparam("hogar_id"), Household.reminders_enabled)
    .label("reminders_enabled"),
    exists().where(OptOut.phone == bindparam("phone")).label("phone_opted_out"),
)

# --- retake: asked only on menu 4's "1 Confirmar" (gateway/facts.py: DbFacts.phone_move_hold),
# two index lookups on the small change log by household.
_MOVE_HOLD = select(
    exists()
    .where(PhoneChange.hogar_id == bindparam("hogar_id"), PhoneChange.undone_at.is_(None),
           PhoneChange.grace_until > bindparam("now", type_=UTCDateTime()))
    .label("open"),
    exists()
    .where(PhoneChange.hogar_id == bindparam("hogar_id"),
           PhoneChange.undone_at > bindparam("since", type_=UTCDateTime()))
    .label("undone"),
)


# --- assisted: the gestor is read on every hop of their session (one index lookup, a small
# table), so a deactivation or a suspension takes effect on the next hop.
_GESTOR_COLUMNS = (Gestor.gestor_id, Gestor.nombres, Gestor.unidad_territorial, Gestor.tambo)
_GESTOR_BY_PHONE = select(*_GESTOR_COLUMNS).where(Gestor.phone == bindparam("phone"), is_active())
_GESTOR_BY_ID = select(*_GESTOR_COLUMNS).where(Gestor.gestor_id == bindparam("gestor_id"),
                                               is_active())
_STAFF_PHONE = select(exists().where(Gestor.phone == bindparam("phone")))
_SUMMARY_SENT = select(exists().where(OutboxMessage.dedupe_key == bindparam("key")))


def _gestor(row: object | None) -> GestorFacts | None:
    if row is None:
        return None
    r = row._mapping  # type: ignore[attr-defined]
    nombres = (r["nombres"] or "").strip()
    return GestorFacts(gestor_id=r["gestor_id"],
                       first_name=nombres.split()[0].title() if nombres else "",
                       unidad_territorial=r["unidad_territorial"], tambo=r["tambo"])


# The schedule data's export day, per database, for EXPORT_TTL seconds. Every payment screen
# shows it when stale, and one more query on each of those hops would cost the hottest path a
# round trip for a value that changes only when an import runs (a few times a bimester): a
# minute's delay in seeing a new import is harmless. Per process and per engine (tests and
# benchmarks build several apps in one process).
EXPORT_TTL = 60.0
_exported: weakref.WeakKeyDictionary[Engine, tuple[float, dt.date | None]] = weakref.WeakKeyDictionary()
_exported_lock = threading.Lock()


def schedule_exported_on(conn: Connection) -> dt.date | None:
    """The Lima day of the latest schedule import's export, read at most once a minute."""
    engine, now = conn.engine, time.monotonic()
    cached = _exported.get(engine)
    if cached is not None and now - cached[0] < EXPORT_TTL:
        return cached[1]
    row = conn.execute(LATEST_SCHEDULE_EXPORT).first()
    day = lima_date(row[0]) if row else None
    with _exported_lock:
        _exported[engine] = (now, day)
    return day


class ImportedFacts:
    """A web process's copy of facts only an import changes: a household's settlements with
    their pay points, and its co-responsibilities of a period.

    A hop read them from the database every time: the settlements' join was the costliest
    statement of a hop and most hops of a session read them again. A copy is used only under
    the data generation it was read under (core/keys.py: DATA_GENERATION, set anew by the
    importer after every batch it commits and read by every hop in its one MGET): when a hop
    brings another generation, everything kept is dropped, so what an import wrote shows on the
    next hop of every worker. A copy read under an older generation than the one kept is not
    kept (a hop that read the database before a batch committed, finishing after a hop that saw
    the new generation). No copy outlives FACTS_MAX_AGE seconds (an import made while Redis was
    unreachable), and at most `limit` are kept, the least recently used going first: about 2 KB
    each (a household's settlements, or a period's co-responsibilities), 20 MB a worker at most,
    which holds every household of the sessions a worker serves for many minutes on payment day.

    What a hop or an SMS changes (a household's language, phone of record, reminders; a gestor)
    is never kept here: it is read from the database on every hop.
    """

    def __init__(self, limit: int = 10_000, max_age: float = FACTS_MAX_AGE) -> None:
        self.limit = limit
        self.max_age = max_age
        self.generation: bytes | None = None
        self._kept: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _current(self, generation: bytes | None) -> None:
        """Another generation than the one kept (a token, not a count) drops every copy."""
        if generation != self.generation:
            with self._lock:
                if generation != self.generation:
                    self._kept.clear()
                    self.generation = generation

    def get(self, generation: bytes | None, key: Hashable) -> Any | None:
        """The copy kept under `key`, or None; values are not to be changed by the caller."""
        self._current(generation)
        entry = self._kept.get(key)
        if entry is None or time.monotonic() - entry[0] > self.max_age:
            return None
        try:
            self._kept.move_to_end(key)
        except KeyError:  # dropped by another thread meanwhile: still a good answer
            pass
        return entry[1]

    def keep(self, generation: bytes | None, key: Hashable, value: Any) -> None:
        with self._lock:
            if generation != self.generation:
                return  # read under another generation than the one kept now
            self._kept[key] = (time.monotonic(), value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.limit:
                self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)


class DbFacts:
    """Facts for one hop, read on `connection()`, results memoised for the hop.

    With `imported` (a USSD hop, and the generation its MGET read), the facts only an import
    changes come from the process's copy when it has them (ImportedFacts)."""

    def __init__(
        self, connection: Callable[[], Connection], store: SessionStore, guard: DniGuard,
        imported: tuple[ImportedFacts, bytes | None] | None = None,
        failures: dict[str, int] | None = None,
    ) -> None:
        self.connection = connection
        self.store = store
        self.guard = guard
        self.imported = imported
        self._failures = dict(failures or {})  # wrong-date counts read with the session
        self._households: dict[str, HouseholdFacts | None] = {}
        self._settlements: dict[str, tuple[int, list[SettlementFacts]]] = {}
        self._outlooks: dict[tuple[str, str, str | None], Outlook] = {}
        self._by_phone: dict[str, list[HouseholdFacts]] = {}

    def _run(self, stmt: Executable, **params: Any) -> Result[Any]:
        # Plain SELECTs of columns on a Core connection, without the ORM's per-statement work
        # (its execution context, identity map): that was a third of a lookup's CPU.
        return self.connection().execute(stmt, params)

    def households_by_phone(self, phone: str) -> list[HouseholdFacts]:
        # Memoised too: a hop asks it from start(), each input's step and, on SMS, the
        # verification, and each ask was a round trip.
        if phone in self._by_phone:
            return self._by_phone[phone]
        rows = self._run(_BY_PHONE, phone=phone, key=phone_key(self.guard.secret, phone), now=utcnow())
        found: dict[str, HouseholdFacts] = {}
        for h in map(_household, rows.all()):
            # Its phone of record again (moved back) counts as that, not as a former phone.
            if h.hogar_id not in found or h.moved_away_on is None:
                found[h.hogar_id] = h
        self._households.update(found)
        self._by_phone[phone] = list(found.values())
        return self._by_phone[phone]

    def household_by_dni(self, dni: str) -> HouseholdFacts | None:
        row = self._run(_BY_DNI, dni=dni).first()
        return _household(row) if row else None

    def household(self, hogar_id: str) -> HouseholdFacts | None:
        if hogar_id not in self._households:
            row = self._run(_BY_ID, hogar_id=hogar_id).first()
            self._households[hogar_id] = _household(row) if row else None
        return self._households[hogar_id]

    def dob_failures(self, dni_key: str) -> int:
        if not dni_key:
            return 0
        if dni_key not in self._failures:
            self._failures[dni_key] = self.store.dob_failures(dni_key)
        return self._failures[dni_key]

    def may_try_dni(self, phone: str, dni_key: str) -> bool:
        return self.guard.allowed(phone, dni_key)

    def settlements(self, hogar_id: str, limit: int) -> list[SettlementFacts]:
        # Keyed by the limit read with, not by the rows found: a household with fewer periods
        # than asked for is answered from memory too (the status screen read them twice).
        asked, cached = self._settlements.get(hogar_id, (0, []))
        if asked < limit:
            asked, cached = self._copy(("settlements", hogar_id)) or (0, [])
            if asked >= limit:
                self._settlements[hogar_id] = (asked, cached)
        if asked >= limit:
            return cached[:limit]
        rows = self._run(_SETTLEMENTS, hogar_id=hogar_id, limit=max(limit, 4))
        found = [SettlementFacts(**row._mapping) for row in rows]
        self._settlements[hogar_id] = (max(limit, 4), found)
        self._keep_copy(("settlements", hogar_id), (max(limit, 4), found))
        return found[:limit]

    def co_responsibilities(self, hogar_id: str, periodo: str) -> list[CoRespFacts]:
        key = ("co_responsibilities", hogar_id, periodo)
        kept: tuple[CoRespFacts, ...] | None = self._copy(key)
        if kept is not None:
            return list(kept)
        rows = self._run(_CO_RESPONSIBILITIES, hogar_id=hogar_id, periodo=periodo)
        found = [CoRespFacts(**row._mapping) for row in rows]
        self._keep_copy(key, tuple(found))
        return found

    def _copy(self, key: Hashable) -> Any | None:
        """The process's copy under `key` for this hop's generation (ImportedFacts), or None."""
        if self.imported is None:
            return None
        copies, generation = self.imported
        return copies.get(generation, key)

    def _keep_copy(self, key: Hashable, value: Any) -> None:
        if self.imported is not None:
            copies, generation = self.imported
            copies.keep(generation, key, value)

    def outlook(self, hogar_id: str, phone: str, periodo: str | None) -> Outlook:
        key = (hogar_id, phone, periodo)
        if key not in self._outlooks:
            row = self._run(_OUTLOOK, hogar_id=hogar_id, phone=phone, periodo=periodo).one()
            self._outlooks[key] = Outlook(
                newest_periodo=row.newest_periodo,
                period_end=row.period_end,
                phone_of_record=bool(row.phone_of_record),
                reminders_enabled=bool(row.reminders_enabled),
                phone_opted_out=bool(row.phone_opted_out),
            )
        return self._outlooks[key]

    def schedule_exported_on(self) -> dt.date | None:
        return schedule_exported_on(self.connection())

    def phone_move_hold(self, hogar_id: str, hours: int) -> str | None:
        now = utcnow()
        row = self._run(_MOVE_HOLD, hogar_id=hogar_id, now=now,
                        since=now - dt.timedelta(hours=hours)).one()
        return "open" if row.open else "undone" if row.undone else None

    # --- assisted consultations (dialogs/assisted.py)
    def gestor_by_phone(self, phone: str) -> GestorFacts | None:
        return _gestor(self._run(_GESTOR_BY_PHONE, phone=phone).first())

    def gestor(self, gestor_id: str) -> GestorFacts | None:
        return _gestor(self._run(_GESTOR_BY_ID, gestor_id=gestor_id).first())

    def is_staff_phone(self, phone: str) -> bool:
        return bool(self._run(_STAFF_PHONE, phone=phone).scalar())

    def may_assist(self, gestor_id: str, dni_key: str, cap: int, day: dt.date | None) -> bool:
        return self.guard.assist(gestor_id, dni_key, cap, (day or lima_date(utcnow())).isoformat())

    def assisted_today(self, gestor_id: str, day: dt.date | None) -> int:
        return self.guard.assisted(gestor_id, (day or lima_date(utcnow())).isoformat())

    def summary_sent_today(self, hogar_id: str, day: dt.date) -> bool:
        key = summary_key(hogar_id, day.isoformat())
        return bool(self._run(_SUMMARY_SENT, key=key).scalar())
