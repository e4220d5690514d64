"""A Juntos household, keyed by the programme's hogar_id, with its titular and phone of record."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class HouseholdStatus(StrEnum):
    AFILIADO = "afiliado"
    SUSPENDIDO = "suspendido"
    DESAFILIADO = "desafiliado"


class Language(StrEnum):
    ES = "es"
    QU = "qu"
    AY = "ay"


class Household(Base):
    __tablename__ = "household"

    hogar_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    dni: Mapped[str] = mapped_column(String(8), unique=True)
    nombres: Mapped[str] = mapped_column(String(120))
    apellidos: Mapped[str] = mapped_column(String(120))
    fecha_nacimiento: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(16), index=True)
    idioma: Mapped[str] = mapped_column(String(2), default=Language.ES)
    ubigeo: Mapped[str] = mapped_column(String(6))
    unidad_territorial: Mapped[str] = mapped_column(String(40), index=True)
    estado: Mapped[str] = mapped_column(String(12))
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when a verified caller moves reminders to her own phone: a re-import of the padron
    # must not silently undo the beneficiary's own choice.
    phone_set_by_caller_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    idioma_set_by_caller_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def first_name(self) -> str:
        """The titular's first given name, as used in a greeting."""
        return self.nombres.split()[0].title() if self.nombres.strip() else ""
