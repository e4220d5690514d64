"""Settings, read once from the environment."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.errors import SettingsError
from core.redis_urls import SENTINEL_SCHEME, parse_sentinel_url, sentinel_url
from models.base import LIMA

log = logging.getLogger("mijuntos")

DEV_SECRET = "dev-only-secret-change-me"
ENVIRONMENTS = ("development", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
DATABASE_BACKENDS = ("sqlite", "postgresql")  # models/db.py, and the per-dialect SQL (models/clock.py)
REDIS_SCHEMES = ("redis", "rediss", "unix")  # what redis-py's from_url reads
_HH_MM = r"(?:[01]\d|2[0-3]):[0-5]\d"


def mask_url(raw: str) -> str:
    """A URL fit for a message: what stands before the host (user, password) and any password
    parameter replaced by `***`."""
    head, at, tail = raw.rpartition("@")
    if at:
        scheme, sep, _ = head.partition("://")
        raw = f"{scheme}{sep}***@{tail}" if sep else f"***@{tail}"
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", raw)


class _Reader:
    """Reads variables from an environment and collects what is wrong with each."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def wrong(self, name: str, expected: str, shown: str) -> None:
        self.problems.append(f"{name}: {expected}, got {shown!r}")

    def choice(self, name: str, default: str, accepted: tuple[str, ...], *, upper: bool = False) -> str:
        raw = self.raw(name)
        value = (raw.upper() if upper else raw.lower()) or default
        if value not in accepted:
            self.wrong(name, "must be one of " + ", ".join(accepted), raw)
            return default
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None,
                unit: str = "") -> int:
        raw = self.raw(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.wrong(name, "must be an integer", raw)
            return default
        if maximum is not None and not minimum <= value <= maximum:
            self.wrong(name, f"must be between {minimum} and {maximum}{unit}", raw)
        elif value < minimum:
            self.wrong(name, f"must be {minimum} or more{unit}", raw)
        return value

    def integers(self, name: str, default: tuple[int, ...], *, unit: str,
                 distinct: bool = False) -> tuple[int, ...]:
        """Whole numbers of 0 or more separated by commas; empty: the default."""
        raw = self.raw(name)
        if not raw:
            return default
        try:
            values = tuple(int(part) for part in raw.split(","))
        except ValueError:
            values = ()
        if not values or any(v < 0 for v in values):
            self.wrong(name, f"must be {unit} (whole numbers of 0 or more) separated by commas", raw)
            return default
        if distinct and len(set(values)) != len(values):
            self.wrong(name, f"must not name the same number of {unit} twice", raw)
        return values

    def hour(self, name: str, default: str) -> str:
        raw = self.raw(name)
        if raw and not re.fullmatch(_HH_MM, raw):
            self.wrong(name, "must be a time of day as HH:MM (00:00 to 23:59, Lima)", raw)
            return default
        return raw or default

    def window(self, name: str, default: tuple[str, str]) -> tuple[str, str]:
        raw = self.raw(name)
        if not raw:
            return default
        found = re.fullmatch(rf"({_HH_MM})\s*-\s*({_HH_MM}|24:00)", raw)
        if not found:
            self.wrong(name, "must look like 08:00-20:00 (HH:MM-HH:MM, Lima; the end may be 24:00)", raw)
            return default
        start, end = found.group(1), found.group(2)
        if start >= end:  # "HH:MM" strings sort as times do; Clock.in_window needs start < end
            self.wrong(name, "must start before it ends on the same day (a window across midnight "
                       "is not supported; 00:00-24:00 is the whole day)", raw)
            return default
        return start, end

    def database_url(self, name: str, default: str) -> str:
        raw = self.raw(name)
        if not raw:
            return default
        expected = ("must be an SQLAlchemy URL for SQLite or PostgreSQL "
                    "(sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST:5432/DB)")
        try:
            url = make_url(raw)
            backend = url.get_backend_name()
            dialect = url.get_dialect() if backend in DATABASE_BACKENDS else None
        except (ArgumentError, ValueError):
            self.wrong(name, expected, mask_url(raw))
            return raw
        if dialect is None:
            self.wrong(name, expected, mask_url(raw))
            return raw
        try:
            dialect.import_dbapi()
        except ImportError:
            self.wrong(name, f"{expected}: the driver {url.get_driver_name()!r} is not installed",
                       mask_url(raw))
            return raw
        if dialect.is_async:
            self.wrong(name, f"{expected}: {url.get_driver_name()!r} is an asyncio driver",
                       mask_url(raw))
        return raw

    def redis_url(self, name: str) -> str:
        raw = self.raw(name)
        sentinels, master = self.raw("REDIS_SENTINELS"), self.raw("REDIS_SENTINEL_MASTER")
        if sentinels or master:
            if raw:
                self.wrong(name, "give REDIS_URL or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, "
                           "not both", mask_url(raw))
                return raw
            if not (sentinels and master):
                self.wrong("REDIS_SENTINELS" if not sentinels else "REDIS_SENTINEL_MASTER",
                           "REDIS_SENTINELS (HOST:PORT,...) and REDIS_SENTINEL_MASTER go together",
                           sentinels or master)
                return ""
            raw = sentinel_url(sentinels, master)
        if not raw:
            return raw
        if raw.startswith(SENTINEL_SCHEME + "://"):
            try:
                parse_sentinel_url(raw)
            except ValueError as exc:
                self.wrong(name, f"must be a {SENTINEL_SCHEME}://HOST:PORT,HOST:PORT/SERVICE URL: {exc}",
                           mask_url(raw))
            return raw
        parts = urlsplit(raw)
        if parts.scheme not in REDIS_SCHEMES or not (parts.path if parts.scheme == "unix" else parts.netloc):
            self.wrong(name, "must be a redis://HOST:PORT/DB, rediss:// (TLS), unix://PATH or "
                       "redis+sentinel://HOST:PORT,.../SERVICE URL",
                       mask_url(raw))
        return raw

    def http_url(self, name: str) -> str:
        raw = self.raw(name)
        if not raw:
            return raw
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.wrong(name, "must be an http:// or https:// URL with a host", mask_url(raw))
        return raw

    def networks(self, name: str) -> tuple[str, ...]:
        given = tuple(n.strip() for n in self.env.get(name, "").split(",") if n.strip())
        bad = []
        for network in given:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                bad.append(network)
        if bad:
            self.wrong(name, "must be networks (CIDRs such as 196.201.214.0/24) separated by commas",
                       ",".join(bad))
        return given

    def pattern(self, name: str, default: str, regex: str, expected: str) -> str:
        raw = self.raw(name)
        if raw and not re.fullmatch(regex, raw):
            self.wrong(name, expected, raw)
        return raw or default


@dataclass(frozen=True)
class Settings:
    """What the service needs to know about its environment."""

    var_dir: Path = Path("var")
    # Where the .po catalogs are read from (and `mijuntos catalogs import` writes): the package's
    # own by default; a directory of its own keeps reviewed texts across upgrades.
    locales_dir: Path | None = None
    # The voice line's audio prompts (core/prompts.py, docs/VOICE.md); None: var_dir / "prompts".
    prompts_dir: Path | None = None
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = field(default=DEV_SECRET, repr=False)  # secrets stay out of reprs
    service_code: str = "*1880#"
    helpline: str = "1880"
    dob_max_attempts: int = 3
    dob_lock_seconds: int = 30 * 60
    max_dnis_per_phone_per_day: int = 3
    gestor_daily_cap: int = 150  # distinct DNIs a gestor may consult for in a Lima day
    # A USSD hop answers within this, or with the polite END: the aggregator gives up at ~10 s.
    hop_deadline_ms: int = 2000
    # gunicorn's threads per web worker and the keep-alive of an idle connection (gunicorn.conf.py).
    web_threads: int = 2
    web_keepalive_seconds: int = 75
    session_ttl_seconds: int = 5 * 60
    resume_window_seconds: int = 10 * 60
    log_level: str = "INFO"
    # Which texts callers see (core/catalogs.py): reviewed ones, Spanish for the rest; or drafts too.
    translations: str = "reviewed"
    log_format: str = "text"  # LOG_FORMAT=json for JSON lines
    env: str = "development"  # MIJUNTOS_ENV; "production" refuses unsafe settings
    callback_secret: str = field(default="", repr=False)  # required in each callback URL as ?key=... when set
    callback_networks: tuple[str, ...] = ()  # CIDRs callbacks may come from; empty: any
    # Proxies in front of the service (a load balancer) whose X-Forwarded-For/-Proto to trust:
    # without it a network list sees the balancer's address, never the aggregator's.
    trusted_proxies: int = 0
    at_username: str = "sandbox"
    at_api_key: str = field(default="", repr=False)
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
    # The voice line (docs/VOICE.md): calls to the missed-call number are rejected (free for the
    # caller) and called back from VOICE_NUMBER within these Lima hours; empty: no such line.
    voice_missed_call_number: str = ""
    voice_number: str = ""
    voice_call_window: tuple[str, str] = ("08:00", "20:00")
    # Pins "today" on the Lima calendar (tests, training sessions on old data); None: the clock.
    today: dt.date | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Settings from environment variables (the README's "Configuration").

        Every variable is checked here, at start: a wrong one raises one `SettingsError` that
        names each wrong variable, what it accepts and what it got (never a secret's value; a
        URL's password is masked), rather than failing later inside a request or a job.
        """
        env = _Reader(dict(os.environ if environ is None else environ))
        var_dir = Path(env.raw("MIJUNTOS_VAR_DIR") or "var")
        if var_dir.exists() and not var_dir.is_dir():
            env.wrong("MIJUNTOS_VAR_DIR", "must be a directory (or not exist yet)", str(var_dir))
        locales = Path(env.raw("LOCALES_DIR")) if env.raw("LOCALES_DIR") else None
        if locales is not None and not all((locales / f"{lang}.po").is_file()
                                           for lang in ("es", "qu", "ay")):
            env.wrong("LOCALES_DIR", "must be a directory holding es.po, qu.po and ay.po",
                      str(locales))
        prompts = Path(env.raw("PROMPTS_DIR")) if env.raw("PROMPTS_DIR") else None
        usable = prompts or var_dir / "prompts"
        # Given, it must be there (a typo would leave a line with no prompts); the default is made
        # by `mijuntos prompts generate` and may not exist yet.
        if (prompts is not None or usable.exists()) and not (
                usable.is_dir() and os.access(usable, os.R_OK | os.X_OK)):
            env.wrong("PROMPTS_DIR", "must be a directory the service can read (the voice line's "
                      "audio prompts; `mijuntos prompts generate` fills it)", str(usable))
        settings = cls(
            var_dir=var_dir,
            locales_dir=locales,
            prompts_dir=prompts,
            database_url=env.database_url("DATABASE_URL", f"sqlite:///{(var_dir / 'mijuntos.db').resolve()}"),
            redis_url=env.redis_url("REDIS_URL"),
            secret_key=env.raw("SECRET_KEY") or DEV_SECRET,
            service_code=env.pattern("USSD_SERVICE_CODE", "*1880#", r"\*\d+(?:\*\d+)*#",
                                     "must be a USSD code such as *1880# or *384*12#"),
            helpline=env.pattern("HELPLINE", "1880", r"\+?\d[\d -]*",
                                 "must be a phone number (digits, spaces, dashes, a leading +)"),
            dob_max_attempts=env.integer("DOB_MAX_ATTEMPTS", 3, 1),
            dob_lock_seconds=env.integer("DOB_LOCK_MINUTES", 30, 1, unit=" minutes") * 60,
            max_dnis_per_phone_per_day=env.integer("MAX_DNIS_PER_PHONE_PER_DAY", 3, 1),
            gestor_daily_cap=env.integer("GESTOR_DAILY_CAP", 150, 1, 10_000),
            hop_deadline_ms=env.integer("HOP_DEADLINE_MS", 2000, 200, 9000, unit=" ms"),
            web_threads=env.integer("WEB_THREADS", 2, 1),
            web_keepalive_seconds=env.integer("WEB_KEEPALIVE", 75, 1, unit=" seconds"),
            session_ttl_seconds=env.integer("USSD_SESSION_TTL_SECONDS", 300, 1, unit=" seconds"),
            resume_window_seconds=env.integer("USSD_RESUME_MINUTES", 10, 1, unit=" minutes") * 60,
            log_level=env.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            translations=env.choice("TRANSLATIONS", "reviewed", ("reviewed", "drafts")),
            log_format=env.choice("LOG_FORMAT", "text", LOG_FORMATS),
            env=env.choice("MIJUNTOS_ENV", "development", ENVIRONMENTS),
            callback_secret=env.raw("CALLBACK_SECRET"),
            trusted_proxies=env.integer("TRUSTED_PROXIES", 0, 0),
            callback_networks=env.networks("CALLBACK_ALLOWED_NETWORKS"),
            at_username=env.raw("AT_USERNAME") or "sandbox",
            at_api_key=env.raw("AT_API_KEY"),
            at_sender_id=env.raw("AT_SENDER_ID") or None,
            at_base_url=env.http_url("AT_BASE_URL"),
            # rq's Retry refuses fewer than one retry and negative intervals (workers/queues.py).
            sms_max_retries=env.integer("SMS_MAX_RETRIES", 5, 1),
            sms_retry_intervals=env.integers("SMS_RETRY_INTERVALS", (10, 30, 60, 300, 900),
                                             unit="seconds"),
            sms_rate_limit=env.integer("SMS_RATE_LIMIT", 0, 0),
            sms_batch_size=env.integer("SMS_BATCH_SIZE", 500, 1),
            sms_claim_size=env.integer("SMS_CLAIM_SIZE", 2000, 1),
            # Negative offsets would plan reminders after the operation opened; a repeated one,
            # two rows under one dedupe key.
            reminder_offsets=env.integers("REMINDER_OFFSETS_DAYS", (3, 1), unit="days", distinct=True),
            send_window=env.window("SMS_SEND_WINDOW", ("08:00", "20:00")),
            send_start=env.hour("REMINDER_SEND_AT", "09:00"),
            # 0 would take back every claim at once. How far above 1 to keep it is in
            # docs/DEPLOY.md (a fault-injection test uses 1 s on purpose, with slow calls).
            claim_stale_seconds=env.integer("SMS_CLAIM_STALE_SECONDS", 120, 1, unit=" seconds"),
            retention_days=env.integer("SMS_RETENTION_DAYS", 90, 1, unit=" days"),
            data_max_age_days=env.integer("DATA_MAX_AGE_DAYS", 21, 0, unit=" days"),
            voice_missed_call_number=env.pattern("VOICE_MISSED_CALL_NUMBER", "", r"\+\d{6,15}",
                                                 "must be a phone number in E.164, e.g. +5112345678"),
            voice_number=env.pattern("VOICE_NUMBER", "", r"\+\d{6,15}",
                                     "must be a phone number in E.164, e.g. +5112345678"),
            voice_call_window=env.window("VOICE_CALL_WINDOW", ("08:00", "20:00")),
            # Long enough for a mother to notice the SMS and dial; short enough that a lost
            # phone does not keep a household's access for weeks.
            phone_change_grace_hours=env.integer("PHONE_CHANGE_GRACE_HOURS", 72, 1, 30 * 24,
                                                 unit=" hours"),
        )
        if settings.voice_missed_call_number and not settings.voice_number:
            env.problems.append("VOICE_NUMBER: must be set when VOICE_MISSED_CALL_NUMBER is "
                                "(the number missed calls are called back from)")
        if env.problems:
            raise SettingsError(env.problems)
        return settings

    def local_today(self) -> dt.date:
        """Today's date in the programme's time zone: what "not over yet" is judged against."""
        if self.today is not None:
            return self.today
        return dt.datetime.now(ZoneInfo(self.timezone)).date()

    @property
    def prompts_path(self) -> Path:
        """Where the audio prompts are: PROMPTS_DIR, or the var dir's `prompts`."""
        return self.prompts_dir or self.var_dir / "prompts"

    @property
    def secret_key_is_default(self) -> bool:
        return self.secret_key == DEV_SECRET

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests, CLI flags): not checked as from_env checks
        the environment (a test may want a window of 00:00-24:00 or an odd value on purpose)."""
        return replace(self, **changes)


class ConfigError(SettingsError):
    """The settings are valid but unsafe for where the service runs (production)."""


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
        raise ConfigError(problems, "production settings")


DEV_SECRET_WARNED = "MIJUNTOS_DEV_SECRET_WARNED"


def warn_dev_secret(settings: Settings) -> None:
    """Say once, at start, that the development key is in use.

    Once per process tree, not per job: rq forks a work horse per job and each builds its
    services again (gateway/replay.py, every minute), gunicorn forks its workers, `mijuntos up`
    starts the web, the worker and the scheduler. The first process to warn marks its
    environment, and every process it forks or starts afterwards inherits the mark and stays
    quiet. Long-running commands call this before they fork (mijuntos/startup.py).
    """
    if settings.secret_key != DEV_SECRET or os.environ.get(DEV_SECRET_WARNED):
        return
    os.environ[DEV_SECRET_WARNED] = "1"
    log.warning("SECRET_KEY is not set: using the development key")
