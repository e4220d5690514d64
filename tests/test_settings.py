"""Settings are checked once, at start: a wrong variable stops every process with its name.

`Settings.from_env` collects every problem into one `SettingsError` (`NAME: what is expected,
got 'value'`, never a secret); the `mijuntos` commands print it as click's error and exit 1, and
the web process under gunicorn prints it and stops the server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import ConfigError, Settings, SettingsError, check_production
from gateway.app import create_app

ROOT = Path(__file__).resolve().parent.parent
# Every variable Settings.from_env reads: a subprocess gets none of the developer's own.
VARIABLES = (
    "MIJUNTOS_VAR_DIR", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "USSD_SERVICE_CODE", "HELPLINE",
    "DOB_MAX_ATTEMPTS", "DOB_LOCK_MINUTES", "MAX_DNIS_PER_PHONE_PER_DAY", "USSD_SESSION_TTL_SECONDS",
    "USSD_RESUME_MINUTES", "LOG_LEVEL", "LOG_FORMAT", "MIJUNTOS_ENV", "CALLBACK_SECRET",
    "TRUSTED_PROXIES", "CALLBACK_ALLOWED_NETWORKS", "AT_USERNAME", "AT_API_KEY", "AT_SENDER_ID",
    "AT_BASE_URL", "SMS_MAX_RETRIES", "SMS_RETRY_INTERVALS", "SMS_RATE_LIMIT", "SMS_BATCH_SIZE",
    "SMS_CLAIM_SIZE", "REMINDER_OFFSETS_DAYS", "SMS_SEND_WINDOW", "REMINDER_SEND_AT",
    "SMS_CLAIM_STALE_SECONDS", "SMS_RETENTION_DAYS", "DATA_MAX_AGE_DAYS", "PHONE_CHANGE_GRACE_HOURS",
    "VOICE_MISSED_CALL_NUMBER", "VOICE_NUMBER", "VOICE_CALL_WINDOW", "PROMPTS_DIR",
)


def problems(env: dict[str, str]) -> tuple[str, ...]:
    with pytest.raises(SettingsError) as exc:
        Settings.from_env(env)
    assert str(exc.value) == "settings: " + "; ".join(exc.value.problems)
    return exc.value.problems


# --- good values ---------------------------------------------------------------------------


def test_the_defaults_load(tmp_path: Path) -> None:
    s = Settings.from_env({"MIJUNTOS_VAR_DIR": str(tmp_path)})
    assert s.env == "development" and s.log_level == "INFO" and s.log_format == "text"
    assert s.database_url == f"sqlite:///{(tmp_path / 'mijuntos.db').resolve()}"
    assert s.send_window == ("08:00", "20:00") and s.send_start == "09:00"
    assert s.reminder_offsets == (3, 1) and s.sms_retry_intervals == (10, 30, 60, 300, 900)


def test_good_values_load() -> None:
    s = Settings.from_env({
        "MIJUNTOS_ENV": " Production ", "DATABASE_URL": "postgresql+psycopg://mj:pw@db:5432/mijuntos",
        "REDIS_URL": "rediss://:pw@cache:6380/1", "AT_BASE_URL": "https://api.example.org",
        "LOG_LEVEL": "debug", "LOG_FORMAT": "JSON", "SMS_SEND_WINDOW": "00:00 - 24:00",
        "REMINDER_SEND_AT": "23:59", "REMINDER_OFFSETS_DAYS": "7,3,0", "SMS_RETRY_INTERVALS": "0,5",
        "CALLBACK_ALLOWED_NETWORKS": "196.201.214.0/24, 10.1.2.3, 2001:db8::/32",
        "TRUSTED_PROXIES": "1", "SMS_RATE_LIMIT": "0", "SMS_MAX_RETRIES": "1", "DOB_MAX_ATTEMPTS": "1",
        "SMS_BATCH_SIZE": "1", "SMS_CLAIM_STALE_SECONDS": "1", "USSD_SERVICE_CODE": "*384*12#",
        "HELPLINE": "0800 10 828", "DATA_MAX_AGE_DAYS": "0", "DOB_LOCK_MINUTES": "1",
    })
    assert s.env == "production" and s.log_level == "DEBUG" and s.log_format == "json"
    assert s.send_window == ("00:00", "24:00") and s.send_start == "23:59"
    assert s.reminder_offsets == (7, 3, 0) and s.sms_retry_intervals == (0, 5)
    assert s.callback_networks == ("196.201.214.0/24", "10.1.2.3", "2001:db8::/32")
    assert s.redis_url == "rediss://:pw@cache:6380/1" and s.dob_lock_seconds == 60
    assert Settings.from_env({"REDIS_URL": "unix:///run/redis.sock"}).redis_url == "unix:///run/redis.sock"
    assert Settings.from_env({"DATABASE_URL": "sqlite:///var/x.db"}).database_url == "sqlite:///var/x.db"


def test_settings_built_directly_or_changed_are_not_checked() -> None:
    """Tests and benches build Settings directly and with `with_`: those are not checked."""
    odd = Settings(claim_stale_seconds=0, send_start="24:00").with_(sms_rate_limit=-1)
    assert odd.claim_stale_seconds == 0 and odd.sms_rate_limit == -1


# --- each wrong value, named ---------------------------------------------------------------

WRONG = [  # variable, value, what the message says is expected
    ("MIJUNTOS_ENV", "prod", "must be one of development, production"),
    ("MIJUNTOS_ENV", "test", "must be one of development, production"),
    ("REMINDER_SEND_AT", "9am", "must be a time of day as HH:MM"),
    ("REMINDER_SEND_AT", "9:00", "must be a time of day as HH:MM"),
    ("REMINDER_SEND_AT", "24:00", "must be a time of day as HH:MM"),
    ("SMS_SEND_WINDOW", "25:00-20:00", "must look like 08:00-20:00"),
    ("SMS_SEND_WINDOW", "8:00-20:00", "must look like 08:00-20:00"),
    ("SMS_SEND_WINDOW", "08:00", "must look like 08:00-20:00"),
    ("SMS_SEND_WINDOW", "20:00-08:00", "a window across midnight is not supported"),
    ("SMS_SEND_WINDOW", "08:00-08:00", "must start before it ends"),
    ("REMINDER_OFFSETS_DAYS", "3,-1", "must be days (whole numbers of 0 or more) separated by commas"),
    ("REMINDER_OFFSETS_DAYS", "3,,1", "must be days (whole numbers of 0 or more) separated by commas"),
    ("REMINDER_OFFSETS_DAYS", "3,1,3", "must not name the same number of days twice"),
    ("SMS_RETRY_INTERVALS", "10,-30", "must be seconds (whole numbers of 0 or more)"),
    ("SMS_RETRY_INTERVALS", "10s", "must be seconds (whole numbers of 0 or more)"),
    ("DATABASE_URL", "9am", "must be an SQLAlchemy URL for SQLite or PostgreSQL"),
    ("DATABASE_URL", "mysql://db/mijuntos", "must be an SQLAlchemy URL for SQLite or PostgreSQL"),
    ("DATABASE_URL", "postgresql+psycopg://db:port/x", "must be an SQLAlchemy URL"),
    ("DATABASE_URL", "postgresql+psycopg2://db/mijuntos", "the driver 'psycopg2' is not installed"),
    ("REDIS_URL", "localhost:6379", "must be a redis://HOST:PORT/DB, rediss:// (TLS), unix://PATH or "
     "redis+sentinel://HOST:PORT,.../SERVICE URL"),
    ("REDIS_URL", "redis+sentinel://sentinel1/mymaster", "sentinel 'sentinel1': expected HOST:PORT"),
    ("REDIS_URL", "redis+sentinel://s1:26379", "expected /SERVICE"),
    ("REDIS_URL", "http://cache:6379/0", "must be a redis://HOST:PORT/DB"),
    ("REDIS_URL", "unix://", "must be a redis://HOST:PORT/DB"),
    ("AT_BASE_URL", "api.africastalking.com", "must be an http:// or https:// URL with a host"),
    ("AT_BASE_URL", "ftp://files.example.org", "must be an http:// or https:// URL with a host"),
    ("LOG_LEVEL", "LOUD", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("LOG_FORMAT", "xml", "must be one of text, json"),
    ("CALLBACK_ALLOWED_NETWORKS", "africastalking", "must be networks (CIDRs"),
    ("CALLBACK_ALLOWED_NETWORKS", "10.0.0.0/33", "must be networks (CIDRs"),
    ("TRUSTED_PROXIES", "-1", "must be 0 or more"),
    ("TRUSTED_PROXIES", "one", "must be an integer"),
    ("DOB_MAX_ATTEMPTS", "0", "must be 1 or more"),
    ("DOB_LOCK_MINUTES", "0", "must be 1 or more minutes"),
    ("MAX_DNIS_PER_PHONE_PER_DAY", "0", "must be 1 or more"),
    ("USSD_SESSION_TTL_SECONDS", "0", "must be 1 or more seconds"),
    ("USSD_RESUME_MINUTES", "-5", "must be 1 or more minutes"),
    ("SMS_MAX_RETRIES", "0", "must be 1 or more"),
    ("SMS_RATE_LIMIT", "-10", "must be 0 or more"),
    ("SMS_BATCH_SIZE", "0", "must be 1 or more"),
    ("SMS_CLAIM_SIZE", "-1", "must be 1 or more"),
    ("SMS_CLAIM_STALE_SECONDS", "0", "must be 1 or more seconds"),
    ("SMS_RETENTION_DAYS", "0", "must be 1 or more days"),
    ("DATA_MAX_AGE_DAYS", "-1", "must be 0 or more days"),
    ("PHONE_CHANGE_GRACE_HOURS", "721", "must be between 1 and 720 hours"),
    ("USSD_SERVICE_CODE", "1880", "must be a USSD code such as *1880#"),
    ("HELPLINE", "llame al 1880", "must be a phone number"),
]


@pytest.mark.parametrize(("name", "value", "expected"), WRONG, ids=[f"{n}={v}" for n, v, _ in WRONG])
def test_a_wrong_value_is_refused_naming_the_variable(name: str, value: str, expected: str) -> None:
    [problem] = problems({name: value})
    assert problem.startswith(f"{name}: must ") and expected in problem, problem
    assert problem.endswith(f", got {value!r}"), problem


def test_of_a_list_of_networks_only_the_wrong_ones_are_shown() -> None:
    [problem] = problems({"CALLBACK_ALLOWED_NETWORKS": "10.0.0.0/8, africastalking ,196.201.214.0/24,x"})
    assert problem.endswith(", got 'africastalking,x'"), problem


def test_a_value_that_is_right_is_not_among_the_problems() -> None:
    [problem] = problems({"MIJUNTOS_ENV": "production", "LOG_LEVEL": "WARNING", "SMS_RATE_LIMIT": "-1"})
    assert problem.startswith("SMS_RATE_LIMIT:")


def test_every_problem_is_listed_at_once() -> None:
    found = problems({"MIJUNTOS_ENV": "prod", "REMINDER_SEND_AT": "9am", "SMS_BATCH_SIZE": "0",
                      "CALLBACK_ALLOWED_NETWORKS": "nowhere", "LOG_FORMAT": "xml"})
    assert sorted(p.split(":")[0] for p in found) == [
        "CALLBACK_ALLOWED_NETWORKS", "LOG_FORMAT", "MIJUNTOS_ENV", "REMINDER_SEND_AT", "SMS_BATCH_SIZE"]


def test_a_var_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("")
    [problem] = problems({"MIJUNTOS_VAR_DIR": str(tmp_path / "var")})
    assert problem.startswith("MIJUNTOS_VAR_DIR: must be a directory")


def test_the_prompts_dir_is_the_var_dirs_unless_given(tmp_path: Path) -> None:
    assert Settings.from_env({"MIJUNTOS_VAR_DIR": str(tmp_path)}).prompts_path == tmp_path / "prompts"
    assert Settings(var_dir=tmp_path).prompts_path == tmp_path / "prompts"
    given = tmp_path / "audio"
    given.mkdir()
    assert Settings.from_env({"PROMPTS_DIR": str(given)}).prompts_path == given


def test_a_prompts_dir_that_cannot_be_used_is_refused(tmp_path: Path) -> None:
    expected = "PROMPTS_DIR: must be a directory the service can read"
    (tmp_path / "a-file").write_text("")
    for given in (tmp_path / "a-file", tmp_path / "not-there"):  # given, it must be there
        [problem] = problems({"MIJUNTOS_VAR_DIR": str(tmp_path), "PROMPTS_DIR": str(given)})
        assert problem.startswith(expected) and problem.endswith(f"got {str(given)!r}"), problem
    (tmp_path / "prompts").write_text("")  # the default, where a file is in the way
    [problem] = problems({"MIJUNTOS_VAR_DIR": str(tmp_path)})
    assert problem.startswith(expected), problem


def test_no_secret_is_echoed() -> None:
    env = {"SECRET_KEY": "sk-hunter2", "AT_API_KEY": "at-hunter2", "CALLBACK_SECRET": "cb-hunter2",
           "DATABASE_URL": "postgres://mijuntos:db-hunter2@db.internal:5432/mijuntos",
           "REDIS_URL": "http://:redis-hunter2@cache.internal:6379/0", "MIJUNTOS_ENV": "prod"}
    found = problems(env)
    message = "; ".join(found)
    assert "hunter2" not in message
    assert "DATABASE_URL: " in message and "got 'postgres://***@db.internal:5432/mijuntos'" in message
    assert "REDIS_URL: " in message and "got 'http://***@cache.internal:6379/0'" in message
    query = problems({"DATABASE_URL": "mysql://db/mj?user=mj&password=db-hunter2"})
    assert "hunter2" not in query[0] and "password=***" in query[0]
    # nor in a repr (a traceback's locals, a debug line)
    settings = Settings.from_env({k: v for k, v in env.items() if k not in ("DATABASE_URL", "REDIS_URL",
                                                                        "MIJUNTOS_ENV")})
    assert "hunter2" not in repr(settings)


def test_production_problems_are_a_settings_error_too(tmp_path: Path) -> None:
    unsafe = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/x.db", env="production")
    with pytest.raises(SettingsError) as exc:
        check_production(unsafe)
    assert isinstance(exc.value, ConfigError) and str(exc.value).startswith("production settings: ")
    assert "CALLBACK_SECRET: must be set" in exc.value.problems


# --- every process refuses to start --------------------------------------------------------


def clean_env(tmp_path: Path, **given: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    return {**env, "MIJUNTOS_VAR_DIR": str(tmp_path / "var"), **given}


def mijuntos(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("mijuntos")  # the installed console script
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "mijuntos.cli", *args]


PROD = "MIJUNTOS_ENV: must be one of development, production, got 'prod'"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["worker", "--burst"], ["scheduler"],
                                     ["report"], ["reminders", "status"], ["up", "--no-demo"]])
def test_a_command_with_wrong_settings_exits_with_the_message(tmp_path: Path, command: list[str]) -> None:
    done = subprocess.run(mijuntos(*command), env=clean_env(tmp_path, MIJUNTOS_ENV="prod"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.strip() == f"Error: settings: {PROD}"
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "var").exists()  # nothing started: no database, no embedded Redis


def test_a_command_lists_every_problem(tmp_path: Path) -> None:
    done = subprocess.run(mijuntos("db", "upgrade"), cwd=tmp_path, capture_output=True, text=True,
                          env=clean_env(tmp_path, MIJUNTOS_ENV="prod", REMINDER_SEND_AT="9am"), timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert PROD in done.stderr and "REMINDER_SEND_AT: must be a time of day as HH:MM" in done.stderr


def test_create_app_refuses_wrong_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MIJUNTOS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MIJUNTOS_ENV", "prod")
    with pytest.raises(SettingsError, match="MIJUNTOS_ENV: must be one of development, production"):
        create_app()
    with pytest.raises(SettingsError, match="MIJUNTOS_ENV"):
        create_app({"secret_key": "given"})  # a dict of changes still starts from the environment


def test_gunicorn_stops_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    """The Procfile's web process: one line naming the variable, and gunicorn's master stops
    before it boots a worker that would fail the same way."""
    env = clean_env(tmp_path, MIJUNTOS_ENV="prod", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    command = [sys.executable, "-m", "gunicorn", "wsgi:app", "--config", str(ROOT / "gunicorn.conf.py"),
               "--workers", "2", "--bind", "127.0.0.1:0", "--no-control-socket"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, done.stderr  # gunicorn's APP_LOAD_ERROR: the master stopped
    # Checked once, by the master (gunicorn.conf.py), before any worker boots.
    assert done.stderr.count(f"mijuntos web: cannot start: settings: {PROD}") == 1, done.stderr
    assert "Booting worker" not in done.stderr and "Traceback" not in done.stderr


def test_the_web_threads_and_keep_alive_are_checked_by_the_master(tmp_path: Path) -> None:
    env = clean_env(tmp_path, MIJUNTOS_ENV="development", WEB_THREADS="4", WEB_KEEPALIVE="0s",
                    PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    command = [sys.executable, "-m", "gunicorn", "wsgi:app", "--config", str(ROOT / "gunicorn.conf.py"),
               "--workers", "1", "--bind", "127.0.0.1:0", "--no-control-socket"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, done.stderr
    assert ("mijuntos web: cannot start: settings: WEB_KEEPALIVE: must be an integer, got '0s'"
            in done.stderr), done.stderr
    assert "Booting worker" not in done.stderr and "Traceback" not in done.stderr



def test_wsgi_alone_stops_gunicorn_with_the_message(tmp_path: Path) -> None:
    """Without gunicorn.conf.py (another way of serving wsgi:app), the app's own check stops the
    worker with gunicorn's "App failed to load", and the master with it."""
    env = clean_env(tmp_path, MIJUNTOS_ENV="prod", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    empty = tmp_path / "empty.conf.py"  # gunicorn would read ./gunicorn.conf.py by default
    empty.write_text("")
    command = [sys.executable, "-m", "gunicorn", "wsgi:app", "--config", str(empty), "--workers", "1",
               "--bind", "127.0.0.1:0", "--no-control-socket"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, done.stderr
    assert f"mijuntos web: cannot start: settings: {PROD}" in done.stderr
    assert "App failed to load" in done.stderr


def test_the_missed_call_line_needs_the_number_it_calls_back_from() -> None:
    with pytest.raises(SettingsError) as exc:
        Settings.from_env({"VOICE_MISSED_CALL_NUMBER": "+5111880000"})
    assert "VOICE_NUMBER: must be set when VOICE_MISSED_CALL_NUMBER is" in str(exc.value)
    with pytest.raises(SettingsError) as exc:
        Settings.from_env({"VOICE_NUMBER": "1880", "VOICE_CALL_WINDOW": "20:00-08:00"})
    assert "VOICE_NUMBER: must be a phone number in E.164" in str(exc.value)
    assert "VOICE_CALL_WINDOW: must start before it ends" in str(exc.value)
    both = Settings.from_env({"VOICE_MISSED_CALL_NUMBER": "+5111880000", "VOICE_NUMBER": "+5111880001"})
    assert both.voice_number == "+5111880001" and both.voice_call_window == ("08:00", "20:00")
