"""The rq job that answers callbacks parked during an outage: the web's work, run late on a
worker (the scheduler queues it every minute). Imports no Flask."""

from __future__ import annotations

from core.settings import Settings
from gateway.inbound import replay_parked
from gateway.services import Services, build_services

_services: Services | None = None


def _web_services() -> Services:
    """The web side's parts, built once per process: a work horse, which rq forks per job. The
    development-key warning is the worker's, once at its start (`warn_dev_secret`)."""
    global _services
    if _services is None:
        _services = build_services(Settings.from_env())
    return _services


def replay_job() -> str:
    """Cron: replay callbacks parked while the database or Redis was down."""
    return f"replayed {replay_parked(_web_services())} parked callbacks"
