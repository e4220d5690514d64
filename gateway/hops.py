"""Africa's Talking callbacks parsed once, at the edge, into typed values."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import phonenumbers

MAX_TEXT = 500
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


class CallbackError(Exception):
    """A callback is malformed; the message says which field and why."""


@functools.lru_cache(maxsize=4096)
def normalize_phone(raw: str) -> str | None:
    """A Peruvian or international number in E.164, or None when it is not a number."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, "PE")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class UssdHop:
    session_id: str
    service_code: str
    phone: str
    network_code: str
    text: str

    @property
    def inputs(self) -> list[str]:
        """Every input so far, oldest first."""
        return self.text.split("*") if self.text else []


# Control characters (NUL above all: PostgreSQL refuses it in text) are no one typing; a line
# break or a tab in an SMS is.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _field(form: Mapping[str, str], name: str, *, required: bool = True, limit: int = 100,
           typed: bool = False) -> str:
    """A form field, checked. `typed`: what a person typed (a USSD or SMS text), whose control
    characters are dropped so she still gets an answer; in any other field they are refused."""
    value = form.get(name)
    if typed and value and _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    if value is None or (required and not value.strip()):
        if required:
            raise CallbackError(f"{name}: missing")
        return ""
    if len(value) > limit:
        raise CallbackError(f"{name}: longer than {limit} characters")
    if _CONTROL.search(value):
        raise CallbackError(f"{name}: control characters are not allowed")
    return value


def parse_ussd_hop(form: Mapping[str, str]) -> UssdHop:
    """A USSD hop from the aggregator's form fields."""
    session_id = _field(form, "sessionId").strip()
    if not _SESSION_ID.match(session_id):
        raise CallbackError("sessionId: unexpected characters")
    phone = normalize_phone(_field(form, "phoneNumber", limit=32))
    if phone is None:
        raise CallbackError("phoneNumber: not a phone number")
    return UssdHop(
        session_id=session_id,
        service_code=_field(form, "serviceCode", required=False, limit=32).strip(),
        phone=phone,
        network_code=_field(form, "networkCode", required=False, limit=16).strip(),
        text=_field(form, "text", required=False, limit=MAX_TEXT, typed=True),
    )


@dataclass(frozen=True)
class UssdEvent:
    session_id: str
    phone: str | None
    status: str
    hops: int | None
    duration_ms: int | None
    error: str


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


def parse_ussd_event(form: Mapping[str, str]) -> UssdEvent:
    """An end-of-session notification."""
    status = _field(form, "status", limit=20).strip()
    if status not in ("Success", "Incomplete", "Failed"):
        raise CallbackError(f"status: unknown value {status[:20]!r}")
    return UssdEvent(
        session_id=_field(form, "sessionId").strip(),
        phone=normalize_phone(_field(form, "phoneNumber", required=False, limit=32)),
        status=status,
        hops=_int_or_none(form.get("hopsCount")),
        duration_ms=_int_or_none(form.get("durationInMillis")),
        error=_field(form, "errorMessage", required=False, limit=500),
    )


@dataclass(frozen=True)
class InboundSms:
    id: str
    phone: str
    to: str
    text: str
    link_id: str
    network_code: str


MAX_SMS_TEXT = 1600  # ten concatenated parts; more is not a person typing


def parse_inbound_sms(form: Mapping[str, str]) -> InboundSms:
    """An inbound SMS from the aggregator's form fields."""
    message_id = _field(form, "id", limit=64).strip()
    phone = normalize_phone(_field(form, "from", limit=32))
    if phone is None:
        raise CallbackError("from: not a phone number")
    return InboundSms(
        id=message_id,
        phone=phone,
        to=_field(form, "to", required=False, limit=32).strip(),
        text=_field(form, "text", required=False, limit=MAX_SMS_TEXT, typed=True),
        link_id=_field(form, "linkId", required=False, limit=100).strip(),
        network_code=_field(form, "networkCode", required=False, limit=16).strip(),
    )


DELIVERY_STATUSES = frozenset(
    {"Sent", "Submitted", "Buffered", "Success", "Failed", "Rejected", "AbsentSubscriber", "Expired"}
)


@dataclass(frozen=True)
class DeliveryReportForm:
    message_id: str
    status: str
    network_code: str | None
    failure_reason: str | None


def parse_delivery_report(form: Mapping[str, str]) -> DeliveryReportForm:
    """A delivery report for a message id returned at send time."""
    message_id = _field(form, "id", limit=64).strip()
    status = _field(form, "status", limit=24).strip()
    if status not in DELIVERY_STATUSES:
        raise CallbackError(f"status: unknown value {status[:24]!r}")
    return DeliveryReportForm(
        message_id=message_id,
        status=status,
        network_code=_field(form, "networkCode", required=False, limit=16).strip() or None,
        failure_reason=_field(form, "failureReason", required=False, limit=64).strip() or None,
    )


def parse_optout(form: Mapping[str, str]) -> str:
    """The phone number of an opt-out notification."""
    phone = normalize_phone(_field(form, "phoneNumber", limit=32))
    if phone is None:
        raise CallbackError("phoneNumber: not a phone number")
    return phone
