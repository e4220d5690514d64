"""How the long-running commands start: unsafe production settings end them with a clear message."""

from __future__ import annotations

import click
import redis

from core.settings import Settings, SettingsError, check_production, mask_url, warn_dev_secret


def check_production_or_exit(settings: Settings, *, sends_sms: bool = False) -> None:
    """`check_production` for a command: its problems as a clear error and exit status 1.

    In development, the warning that the development key is in use, once for this process and
    what it starts (an rq worker's work horses, `mijuntos up`'s children).
    """
    try:
        check_production(settings, sends_sms=sends_sms)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    warn_dev_secret(settings)


def reach_redis_or_exit(connection: redis.Redis, url: str) -> None:
    """Redis answers at start, or the command ends with REDIS_URL named (exit status 1).

    Only at start: once running, the worker and the scheduler outlive a lost Redis
    (mijuntos/keepalive.py), but one that never reached it is misconfigured or started too soon,
    and its supervisor or operator should hear so at once.
    """
    try:
        connection.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise click.ClickException(
            f"REDIS_URL: Redis does not answer at {mask_url(url)} ({type(exc).__name__})") from exc
