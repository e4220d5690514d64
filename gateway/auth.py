"""Callback authentication: Africa's Talking does not sign callbacks, so each carries a secret
in its URL (`?key=...`) and may be limited to the aggregator's networks."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from flask import Flask, Response, request

from gateway.config import Settings

log = logging.getLogger("mijuntos.auth")
CALLBACK_PREFIXES = ("/ussd", "/sms/")


class ConfigError(Exception):
    """The settings are unsafe for where the service runs."""


def check_production(settings: Settings) -> None:
    """In production refuse to start without a callback secret, a real Redis and PostgreSQL."""
    if settings.env != "production":
        return
    problems = []
    if not settings.callback_secret:
        problems.append("CALLBACK_SECRET: must be set")
    if not settings.redis_url:
        problems.append("REDIS_URL: must point at a Redis server (no embedded Redis)")
    if settings.database_url.startswith("sqlite"):
        problems.append("DATABASE_URL: must not be SQLite")
    if settings.secret_key_is_default:
        problems.append("SECRET_KEY: must be set")
    if problems:
        raise ConfigError("production settings: " + "; ".join(problems))


def install(app: Flask, settings: Settings) -> None:
    """Guard every callback route with the secret and the network list, when configured."""
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.callback_networks]
    secret = settings.callback_secret

    @app.before_request
    def _guard() -> Response | None:
        if not request.path.startswith(CALLBACK_PREFIXES):
            return None
        if secret and not hmac.compare_digest(request.args.get("key", ""), secret):
            log.warning("callback refused path=%s: missing or wrong key", request.path)
            return Response("forbidden: missing or wrong key", status=403, mimetype="text/plain")
        if networks:
            try:
                source = ipaddress.ip_address(request.remote_addr or "")
            except ValueError:
                source = None
            if source is None or not any(source in net for net in networks):
                log.warning("callback refused path=%s: source %s not allowed", request.path,
                            request.remote_addr)
                return Response("forbidden: source not allowed", status=403, mimetype="text/plain")
        return None
