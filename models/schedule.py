"""The payment schedule (cronograma): one pay point per period."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Date, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Modality(StrEnum):
    AGENCIA = "agencia"
    ETV = "etv"


class PayPoint(Base):
    __tablename__ = "pay_point"

    periodo: Mapped[str] = mapped_column(String(7), primary_key=True)
    punto_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    modalidad: Mapped[str] = mapped_column(String(8))
    lugar: Mapped[str] = mapped_column(String(120))
    direccion: Mapped[str | None] = mapped_column(String(200))
    fecha_inicio: Mapped[dt.date] = mapped_column(Date)
    fecha_fin: Mapped[dt.date] = mapped_column(Date)
    hora_inicio: Mapped[dt.time] = mapped_column(Time)
    hora_fin: Mapped[dt.time] = mapped_column(Time)
    ubigeo: Mapped[str] = mapped_column(String(6))
