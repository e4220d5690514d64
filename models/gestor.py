"""The programme's field staff (gestores), from gestores.csv: who may consult for a titular."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ColumnElement, String, and_
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class GestorStatus(StrEnum):
    ACTIVO = "activo"
    INACTIVO = "inactivo"


class Gestor(Base):
    """A gestor or promotor whose registered phone opens the assisted menu while active.

    `estado` is the programme's, from the latest import: a gestor missing from a later
    gestores.csv is set `inactivo` by that import. `suspended_at` is the staff's own switch (the
    dashboard), for a gestor under review: a re-import does not lift it, only staff do.
    """

    __tablename__ = "gestor"

    gestor_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    nombres: Mapped[str] = mapped_column(String(120))
    apellidos: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(16), unique=True)  # E.164, as household.phone
    unidad_territorial: Mapped[str] = mapped_column(String(40), index=True)
    tambo: Mapped[str | None] = mapped_column(String(80))
    estado: Mapped[str] = mapped_column(String(12), default=GestorStatus.ACTIVO)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    suspended_by: Mapped[str | None] = mapped_column(String(64))  # the staff user's name
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def active(self) -> bool:
        return self.estado == GestorStatus.ACTIVO and self.suspended_at is None


def is_active() -> ColumnElement[bool]:
    """The SQL of `Gestor.active`: the one definition of who has the assisted mode."""
    return and_(Gestor.estado == GestorStatus.ACTIVO, Gestor.suspended_at.is_(None))
