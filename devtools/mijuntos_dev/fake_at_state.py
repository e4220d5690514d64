"""The stand-in Africa's Talking SMS server's state: pricing, injected faults and the message record."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from dialogs.gsm import is_gsm7, septets
from models.operators import OPERATORS

# statusCode -> status, as the live API names them in SMSMessageData.Recipients[].
SEND_STATUS = {
    100: "Success",
    101: "Success",
    102: "Success",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
PRICE_PER_PART = Decimal("0.0300")
CURRENCY = "PEN"
_PHONE = re.compile(r"^\+\d{1,3}\d{3,}$")
# Peru's mobile network codes (models/operators.py, the table the report names them by), picked
# by the number's last digit so a number always gets the same one.
NETWORKS = tuple(OPERATORS)


def sms_parts(text: str) -> int:
    """How many SMS parts `text` is billed as: 160/153 septets in GSM-7, 70/67 UTF-16 units in UCS-2."""
    if is_gsm7(text):
        length, single, multi = septets(text), 160, 153
    else:
        length, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else -(-length // multi)


def network_code(phone: str) -> str:
    """A stable network code for `phone`, one of Peru's (Movistar, Entel, Claro or Bitel)."""
    digits = [int(c) for c in phone if c.isdigit()] or [0]
    return NETWORKS[digits[-1] % len(NETWORKS)]


@dataclass
class Faults:
    """Failures to inject: whole-request HTTP errors, delays, and recipient-level status codes."""

    http_status: int = 500
    http_count: int = 0
    http_body: str = "Internal Server Error"
    delay_seconds: float = 0.0
    delay_count: int = 0
    recipients_status: int = 500
    recipients_count: int = 0
    number_status: dict[str, int] = field(default_factory=dict)
    # phone -> delivery-report statuses to send in order, each (status, failureReason).
    delivery: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class SendRequest:
    """One POST /messaging, parsed."""

    username: str
    to: list[str]
    message: str
    sender: str | None
    enqueue: bool


@dataclass
class Counters:
    """What a lean stand-in keeps instead of every message: totals and accepted recipients per second."""

    requests: int = 0
    refused: int = 0
    recipients: int = 0
    accepted: int = 0
    per_second: dict[int, int] = field(default_factory=dict)  # unix second -> recipients accepted

    def count(self, entry: dict[str, Any]) -> None:
        self.requests += 1
        self.recipients += len(entry.get("to") or ())
        if entry.get("http_status") != 201:
            self.refused += 1
            return
        ok = sum(1 for r in entry.get("recipients", ()) if r["statusCode"] in (100, 101, 102))
        self.accepted += ok
        second = int(time.time())
        self.per_second[second] = self.per_second.get(second, 0) + ok

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "refused": self.refused,
            "recipients": self.recipients,
            "accepted": self.accepted,
            "per_second": [[s, n] for s, n in sorted(self.per_second.items())],
        }


class Ledger:
    """Thread-safe faults and message record; every request also goes to an optional JSON-lines log.

    With `keep_messages=False` (a load test) only the counters are kept, so memory stays flat.
    """

    def __init__(self, log_path: Path | str | None = None, keep_messages: bool = True) -> None:
        self.log_path = Path(log_path) if log_path else None
        self.keep_messages = keep_messages
        self.lock = threading.Lock()
        self.faults = Faults()
        self.messages: list[dict[str, Any]] = []
        self.counters = Counters()

    def reset(self) -> None:
        """Forget faults, recorded messages and counters (the log file is kept)."""
        with self.lock:
            self.faults = Faults()
            self.messages = []
            self.counters = Counters()

    def stats(self) -> dict[str, Any]:
        """Totals so far and accepted recipients per second (what `GET /_stats` answers)."""
        with self.lock:
            return self.counters.as_json()

    def take_http_fault(self) -> tuple[float, int | None, str]:
        """Consume this request's share of the faults: (delay, HTTP status or None, body)."""
        with self.lock:
            f = self.faults
            delay = 0.0
            if f.delay_count > 0:
                f.delay_count -= 1
                delay = f.delay_seconds
            if f.http_count > 0:
                f.http_count -= 1
                return delay, f.http_status, f.http_body
            return delay, None, ""

    def accept(self, req: SendRequest) -> tuple[dict[str, Any], dict[str, Any]]:
        """Price and record an accepted request: the SMSMessageData the API answers, and the record."""
        parts = sms_parts(req.message)
        with self.lock:
            forced: int | None = None
            if self.faults.recipients_count > 0:
                self.faults.recipients_count -= 1
                forced = self.faults.recipients_status
            recipients = [self._recipient(number, parts, forced, req.enqueue) for number in req.to]
        sent = [r for r in recipients if r["statusCode"] in (100, 101, 102)]
        total = sum((PRICE_PER_PART * parts for _ in sent), Decimal(0))
        data = {
            "Message": f"Sent to {len(sent)}/{len(recipients)} Total Cost: {CURRENCY} {total:.4f}",
            "Recipients": recipients,
        }
        entry = {
            "http_status": 201,
            "from": req.sender,
            "to": req.to,
            "message": req.message,
            "parts": parts,
            "recipients": recipients,
        }
        return data, self.record(entry)

    def _recipient(self, number: str, parts: int, forced: int | None, enqueue: bool) -> dict[str, Any]:
        code = forced or self.faults.number_status.get(number) or (102 if enqueue else 101)
        if not _PHONE.match(number):
            code = 403
        ok = code in (100, 101, 102)
        return {
            "statusCode": code,
            "number": number,
            "status": SEND_STATUS.get(code, "InternalServerError"),
            "cost": f"{CURRENCY} {PRICE_PER_PART * parts:.4f}" if ok else "0",
            "messageId": f"ATXid_{uuid.uuid4().hex}" if ok else "None",
        }

    def record(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Append one request to the record and the log file."""
        entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **fields}
        with self.lock:
            self.counters.count(entry)
            if self.keep_messages:
                self.messages.append(entry)
            if self.log_path:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return entry

    def find(self, message_id: str) -> dict[str, Any] | None:
        """The recipient entry a messageId was issued for."""
        with self.lock:
            for entry in self.messages:
                for recipient in entry.get("recipients", []):
                    if recipient["messageId"] == message_id:
                        return dict(recipient)
        return None

    def delivery_plan(self, number: str) -> list[tuple[str, str]]:
        """The delivery-report statuses `number` gets: Success unless planned otherwise."""
        with self.lock:
            return list(self.faults.delivery.get(number, [("Success", "")]))
