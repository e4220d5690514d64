"""Settings, read once from the environment."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from models.base import LIMA

DEV_SECRET = "dev-only-secret-change-me"


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name}: must be an integer, got {raw!r}") from exc


def _days(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        raise ValueError(f"{name}: must be 0 or more days, got {value}")
    return value


def _ints(env: dict[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return tuple(int(part) for part in raw.split(","))
    except ValueError as exc:
        raise ValueError(f"{name}: must be integers separated by commas, got {raw!r}") from exc


def _grace_hours(env: dict[str, str]) -> int:
    # Long enough for a mother to notice the SMS and dial; short enough that a lost phone does
    # not keep a household's access for weeks.
    hours = _int(env, "PHONE_CHANGE_GRACE_HOURS", 72)
    if not 1 <= hours <= 30 * 24:
        raise ValueError(f"PHONE_CHANGE_GRACE_HOURS: must be between 1 and 720 hours, got {hours}")
    return hours


def _window(raw: str) -> tuple[str, str]:
    start, sep, end = raw.strip().partition("-")
    if not sep or len(start.strip()) != 5 or len(end.strip()) != 5:
        raise ValueError(f"SMS_SEND_WINDOW: must look like 08:00-20:00, got {raw!r}")
    return start.strip(), end.strip()


@dataclass(frozen=True)
class Settings:
    """What the service needs to know about its environment."""

    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = DEV_SECRET
    service_code: str = "*1880#"
    helpline: str = "1880"
    dob_max_attempts: int = 3
    dob_lock_seconds: int = 30 * 60
    max_dnis_per_phone_per_day: int = 3
    session_ttl_seconds: int = 5 * 60
    resume_window_seconds: int = 10 * 60
    log_level: str = "INFO"
    log_format: str = "text"  # LOG_FORMAT=json for JSON lines
    env: str = "development"  # MIJUNTOS_ENV; "production" refuses unsafe settings
    callback_secret: str = ""  # required in each callback URL as ?key=... when set
    callback_networks: tuple[str, ...] = ()  # CIDRs callbacks may come from; empty: any
    # Proxies in front of the service (a load balancer) whose X-Forwarded-For/-Proto to trust:
    # without it a network list sees the balancer's address, never the aggregator's.
    trusted_proxies: int = 0
    at_username: str = "sandbox"
    at_api_key: str = ""
    at_sender_id: str | None = None
    at_base_url: str = ""  # empty: the SDK's own host; the stand-in server's URL in demos and tests
    sms_max_retries: int = 5
    sms_retry_intervals: tuple[int, ...] = (10, 30, 60, 300, 900)
    sms_timeout_seconds: float = 10.0
    sms_rate_limit: int = 0  # messages per second to the provider; 0: no limit
    sms_batch_size: int = 500  # recipients of one bulk API call
    sms_claim_size: int = 2000  # rows one dispatcher takes at a time (the batch at risk if it dies)
    reminder_offsets: tuple[int, ...] = (3, 1)  # days before a payment operation opens
    send_window: tuple[str, str] = ("08:00", "20:00")  # America/Lima
    send_start: str = "09:00"  # when planned reminders go out, America/Lima
    timezone: str = LIMA.key  # models/base.py: the one definition of the programme's clock
    retention_days: int = 90  # sent messages' texts and numbers are purged after this
    # How long the former phone of record is still recognised and may undo a change of phone.
    phone_change_grace_hours: int = 72
    claim_stale_seconds: int = 120  # a batch claimed longer ago was cut off by a dead worker
    # Schedule data exported longer ago than this is stale: payment screens say "Datos al DD/MM",
    # the dashboard warns (docs/USSD.md, docs/DEPLOY.md).
    data_max_age_days: int = 21
    # Pins "today" on the Lima calendar (tests, training sessions on old data); None: the clock.
    today: dt.date | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Settings from environment variables (see docs/CONFIG in the README)."""
        env = dict(os.environ if environ is None else environ)
        var_dir = Path(env.get("MIJUNTOS_VAR_DIR", "var"))
        return cls(
            var_dir=var_dir,
            database_url=env.get("DATABASE_URL", "").strip()
            or f"sqlite:///{(var_dir / 'mijuntos.db').resolve()}",
            redis_url=env.get("REDIS_URL", "").strip(),
            secret_key=env.get("SECRET_KEY", "").strip() or DEV_SECRET,
            service_code=env.get("USSD_SERVICE_CODE", "").strip() or "*1880#",
            helpline=env.get("HELPLINE", "").strip() or "1880",
            dob_max_attempts=_int(env, "DOB_MAX_ATTEMPTS", 3),
            dob_lock_seconds=_int(env, "DOB_LOCK_MINUTES", 30) * 60,
            max_dnis_per_phone_per_day=_int(env, "MAX_DNIS_PER_PHONE_PER_DAY", 3),
            session_ttl_seconds=_int(env, "USSD_SESSION_TTL_SECONDS", 300),
            resume_window_seconds=_int(env, "USSD_RESUME_MINUTES", 10) * 60,
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            log_format=env.get("LOG_FORMAT", "").strip().lower() or "text",
            env=env.get("MIJUNTOS_ENV", "").strip() or "development",
            callback_secret=env.get("CALLBACK_SECRET", "").strip(),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
            callback_networks=tuple(
                n.strip() for n in env.get("CALLBACK_ALLOWED_NETWORKS", "").split(",") if n.strip()
            ),
            at_username=env.get("AT_USERNAME", "").strip() or "sandbox",
            at_api_key=env.get("AT_API_KEY", "").strip(),
            at_sender_id=env.get("AT_SENDER_ID", "").strip() or None,
            at_base_url=env.get("AT_BASE_URL", "").strip(),
            sms_max_retries=_int(env, "SMS_MAX_RETRIES", 5),
            sms_retry_intervals=_ints(env, "SMS_RETRY_INTERVALS", (10, 30, 60, 300, 900)),
            sms_rate_limit=_int(env, "SMS_RATE_LIMIT", 0),
            sms_batch_size=_int(env, "SMS_BATCH_SIZE", 500),
            sms_claim_size=_int(env, "SMS_CLAIM_SIZE", 2000),
            reminder_offsets=_ints(env, "REMINDER_OFFSETS_DAYS", (3, 1)),
            send_window=_window(env.get("SMS_SEND_WINDOW", "08:00-20:00")),
            send_start=env.get("REMINDER_SEND_AT", "").strip() or "09:00",
            claim_stale_seconds=_int(env, "SMS_CLAIM_STALE_SECONDS", 120),
            retention_days=_int(env, "SMS_RETENTION_DAYS", 90),
            data_max_age_days=_days(env, "DATA_MAX_AGE_DAYS", 21),
            phone_change_grace_hours=_grace_hours(env),
        )

    def local_today(self) -> dt.date:
        """Today's date in the programme's time zone: what "not over yet" is judged against."""
        if self.today is not None:
            return self.today
        return dt.datetime.now(ZoneInfo(self.timezone)).date()

    @property
    def secret_key_is_default(self) -> bool:
        return self.secret_key == DEV_SECRET

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests, CLI flags)."""
        return replace(self, **changes)


class ConfigError(Exception):
    """The settings are unsafe for where the service runs."""


def check_production(settings: Settings, *, sends_sms: bool = False) -> None:
    """In production refuse to start without a callback secret, a real Redis and PostgreSQL.

    Every process checks (web, worker, scheduler, `mijuntos up`); one that sends SMS also needs
    the provider account, or it would fall back to no provider at all.
    """
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
    if sends_sms and not settings.at_api_key:
        problems.append("AT_API_KEY: must be set (no stand-in provider in production)")
    if problems:
        raise ConfigError("production settings: " + "; ".join(problems))
