"""The programme's data: households, pay points and schedule, settlements, co-responsibilities, queries."""

from __future__ import annotations

from models.admin import AdminUser
from models.base import Base
from models.db import Database
from models.export import DataExport, ExportSource, Freshness, schedule_freshness
from models.gestor import Gestor, GestorStatus
from models.household import Household, HouseholdStatus, Language
from models.outbox import (
    FINAL,
    IMMEDIATE,
    InboundSms,
    OptOut,
    OutboxMessage,
    OutboxStatus,
    ParkedCallback,
    Purpose,
    ReminderControl,
    SkipReason,
)
from models.phone_change import PhoneChange
from models.query import Channel, Query, UsageCursor
from models.schedule import Modality, PayPoint
from models.settlement import (
    CoResponsibility,
    CoResponsibilityType,
    Reason,
    Settlement,
    SettlementStatus,
)

__all__ = [
    "AdminUser",
    "Base",
    "Channel",
    "CoResponsibility",
    "CoResponsibilityType",
    "DataExport",
    "Database",
    "ExportSource",
    "Freshness",
    "FINAL",
    "Gestor",
    "GestorStatus",
    "IMMEDIATE",
    "InboundSms",
    "OptOut",
    "OutboxMessage",
    "OutboxStatus",
    "ParkedCallback",
    "PhoneChange",
    "Purpose",
    "Household",
    "HouseholdStatus",
    "Language",
    "Modality",
    "PayPoint",
    "Query",
    "Reason",
    "ReminderControl",
    "UsageCursor",
    "Settlement",
    "SkipReason",
    "SettlementStatus",
    "schedule_freshness",
]
