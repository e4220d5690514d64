"""The one way out to the provider: Africa's Talking's SMS API through its own SDK."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService
from urllib3.exceptions import NewConnectionError

ACCEPTED = frozenset({100, 101, 102})  # Processed, Sent, Queued
# Worth another try later: risk hold, balance, provider-side errors.
TRANSIENT = frozenset({401, 405, 500, 501, 502})
# Never worth retrying: the number or the route is wrong, or the user blocked us.
PERMANENT = frozenset({402, 403, 404, 406, 407})


class ProviderError(Exception):
    """The whole request failed (network, timeout, non-2xx, unreadable answer): retry later.

    `maybe_sent`: the request may have reached the provider (the answer timed out or could not
    be read), so a retry may deliver a second copy; the outbox records that risk.
    """

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


def _maybe_sent(exc: requests.RequestException) -> bool:
    """False only when the request surely never left: no connection was made."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        return not isinstance(inner, NewConnectionError)
    return True


@dataclass(frozen=True)
class RecipientResult:
    number: str
    status_code: int
    status: str
    message_id: str | None
    cost: str | None

    @property
    def accepted(self) -> bool:
        return self.status_code in ACCEPTED

    @property
    def transient(self) -> bool:
        return self.status_code in TRANSIENT or self.status_code not in ACCEPTED | PERMANENT


class Sender:
    """Sends one text to many recipients in one API call and reads each recipient's result."""

    def __init__(
        self,
        username: str,
        api_key: str,
        sender_id: str | None = None,
        base_url: str = "",
        timeout: tuple[float, float] = (3.05, 10.0),
    ) -> None:
        self.service = SMSService(username, api_key or "unset")
        if base_url:
            # The SDK picks its host from the username; this is how a stand-in is reached.
            base = base_url.rstrip("/")
            self.service._baseUrl = base if base.endswith("/version1") else base + "/version1"
        self.sender_id = sender_id
        self.timeout = timeout

    def send(self, text: str, recipients: Sequence[str]) -> list[RecipientResult]:
        """One API call; per-recipient outcomes, or ProviderError when the call itself failed."""
        try:
            response = self.service.send(
                text, list(recipients), sender_id=self.sender_id, timeout=self.timeout
            )
        except AfricasTalkingException as exc:
            raise ProviderError(f"provider refused the request: {str(exc)[:120]}") from exc
        except requests.RequestException as exc:
            raise ProviderError(f"network: {type(exc).__name__}", maybe_sent=_maybe_sent(exc)) from exc
        if not isinstance(response, dict):
            raise ProviderError("provider answer is not JSON", maybe_sent=True)
        try:
            rows = response["SMSMessageData"]["Recipients"]
            results = [
                RecipientResult(
                    number=str(row["number"]),
                    status_code=int(row["statusCode"]),
                    status=str(row.get("status", "")),
                    message_id=_message_id(row.get("messageId")),
                    cost=str(row["cost"]) if row.get("cost") not in (None, "") else None,
                )
                for row in rows
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"provider answer has no recipients: {type(exc).__name__}",
                                maybe_sent=True) from exc
        return results


def _message_id(raw: object) -> str | None:
    value = str(raw) if raw is not None else ""
    return value if value and value != "None" else None
