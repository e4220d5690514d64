"""Callback authentication: Africa's Talking does not sign callbacks, so each carries a secret
in its URL (`?key=...`) and may be limited to the aggregator's networks."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

from core.settings import Settings

log = logging.getLogger("mijuntos.auth")
CALLBACK_PREFIXES = ("/ussd", "/sms/", "/voice")
# Under /voice but no callback: the prompts' audio, fetched by the provider without a key and
# from wherever its media servers are (gateway/prompts.py; public texts only).
PUBLIC_PREFIXES = ("/voice/prompts/",)


class CallbackGuard:
    """The secret and the network list every callback must satisfy, when configured."""

    def __init__(self, settings: Settings) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in settings.callback_networks]
        self.secret = settings.callback_secret

    def refusal(self, path: str, key: str, remote_addr: str | None) -> str | None:
        """Why this callback is refused (the 403's text), or None when it may go on."""
        # Bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, a 500).
        if self.secret and not hmac.compare_digest(key.encode(), self.secret.encode()):
            log.warning("callback refused path=%s: missing or wrong key", path)
            return "forbidden: missing or wrong key"
        if self.networks:
            try:
                source = ipaddress.ip_address(remote_addr or "")
            except ValueError:
                source = None
            if source is None or not any(source in net for net in self.networks):
                log.warning("callback refused path=%s: source %s not allowed", path, remote_addr)
                return "forbidden: source not allowed"
        return None


FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", ""})


def install(app: Flask, guard: CallbackGuard) -> None:
    """Guard every callback route Flask serves (POST /ussd checks the same guard itself)."""

    @app.before_request
    def _guard() -> Response | None:
        if not request.path.startswith(CALLBACK_PREFIXES) or request.path.startswith(PUBLIC_PREFIXES):
            return None
        refused = guard.refusal(request.path, request.args.get("key", ""), request.remote_addr)
        if refused:
            return Response(refused, status=403, mimetype="text/plain")
        if request.method == "POST" and request.mimetype not in FORM_TYPES:
            # JSON or anything else would read as "field missing": say what is expected.
            log.warning("callback rejected path=%s: body is %s", request.path, request.mimetype or "-")
            return Response("bad request: form fields expected (application/x-www-form-urlencoded)",
                            status=415, mimetype="text/plain")
        return None


def exempt_callbacks(app: Flask, csrf: CSRFProtect) -> None:
    """No CSRF token on the callbacks: the aggregator has no page session; its key stands in.

    Called once the routes are registered: each route under `CALLBACK_PREFIXES` is exempt, and
    nothing else (a new staff or simulator route is protected without anyone remembering to).
    """
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(CALLBACK_PREFIXES):
            csrf.exempt(app.view_functions[rule.endpoint])
