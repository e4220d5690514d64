"""A household's settlement (abono) for one period, and its members' co-responsibilities."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class SettlementStatus(StrEnum):
    PROGRAMADO = "programado"
    COBRADO = "cobrado"
    NO_COBRADO = "no_cobrado"
    SIN_ABONO = "sin_abono"


class Reason(StrEnum):
    INC_SALUD = "INC_SALUD"
    INC_EDUCACION = "INC_EDUCACION"
    SUSPENDIDO = "SUSPENDIDO"
    DESAFILIADO = "DESAFILIADO"
    SIN_MIEMBRO_OBJETIVO = "SIN_MIEMBRO_OBJETIVO"
    DATOS_EN_VERIFICACION = "DATOS_EN_VERIFICACION"
    TARJETA_PENDIENTE = "TARJETA_PENDIENTE"


class CoResponsibilityType(StrEnum):
    SALUD = "salud"
    EDUCACION = "educacion"


class Settlement(Base):
    __tablename__ = "settlement"

    periodo: Mapped[str] = mapped_column(String(7), primary_key=True)
    hogar_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("household.hogar_id"), primary_key=True, index=True
    )
    monto: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    estado: Mapped[str] = mapped_column(String(12))
    motivo: Mapped[str | None] = mapped_column(String(24))
    punto_id: Mapped[str | None] = mapped_column(String(20))


class CoResponsibility(Base):
    __tablename__ = "co_responsibility"

    periodo: Mapped[str] = mapped_column(String(7), primary_key=True)
    hogar_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("household.hogar_id"), primary_key=True
    )
    miembro: Mapped[str] = mapped_column(String(60), primary_key=True)
    tipo: Mapped[str] = mapped_column(String(10), primary_key=True)
    cumple: Mapped[bool] = mapped_column(Boolean)
    detalle: Mapped[str] = mapped_column(String(80), default="")
