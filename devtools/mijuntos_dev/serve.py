"""`mijuntos up`: the service on embedded defaults (SQLite, an embedded Redis) with demo data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
import gunicorn
from sqlalchemy import func, select

from core.connections import redis_url
from core.espeak import espeak_binary
from core.settings import Settings
from mijuntos.importer import import_dir
from mijuntos.startup import check_production_or_exit
from mijuntos_dev.demo_data import write_demo_data
from models import Database, Household


def _has_households(db: Database) -> bool:
    with db.session() as session:
        return bool(session.scalar(select(func.count()).select_from(Household)))


def prepare_demo(settings: Settings, households: int) -> list[str]:
    """Migrate, and on first run write and import demo data; lines to show the user."""
    db = Database(settings.database_url)
    db.upgrade()
    demo_dir = settings.var_dir / "demo"
    lines: list[str] = []
    if not _has_households(db):
        click.echo(f"writing demo data for {households} households to {demo_dir} ...")
        summary = write_demo_data(demo_dir, households)
        report = import_dir(db, demo_dir, progress=True)
        click.echo("\n".join(report.summary_lines()))
        lines = summary.identity_lines()
        (settings.var_dir / "demo-identities.txt").write_text("\n".join(lines) + "\n")
    else:
        saved = settings.var_dir / "demo-identities.txt"
        lines = saved.read_text().splitlines() if saved.exists() else []
    db.dispose()
    return lines


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def metrics_dir(settings: Settings) -> str:
    """Where the web workers keep their counters for /metrics to sum: PROMETHEUS_MULTIPROC_DIR
    if set, else var/metrics, emptied here (counts of a previous run must not be added)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if given:
        return given
    directory = (settings.var_dir / "metrics").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.db"):
        old.unlink()
    return str(directory)


def control_socket_args(settings: Settings) -> list[str]:
    """gunicorn's control socket (gunicornc, gunicorn >= 25.1) under var/, with the rest of the
    demo: its default, $XDG_RUNTIME_DIR or ~/.gunicorn, is shared by every gunicorn of the user."""
    if gunicorn.version_info < (25, 1):
        return []
    return ["--control-socket", str((settings.var_dir / "gunicorn.ctl").resolve())]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mijuntos.cli", *args]


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--households", default=2000, show_default=True, help="demo data size on first run")
@click.option("--no-demo", is_flag=True, help="do not write or import demo data")
def up_command(host: str, port: int, workers: int, households: int, no_demo: bool) -> None:
    """Run web, worker, scheduler and (without AT_API_KEY) a stand-in SMS provider."""
    settings = Settings.from_env()
    # Before anything is embedded: the embedded Redis would reach the children as REDIS_URL.
    check_production_or_exit(settings, sends_sms=True)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DATABASE_URL=settings.database_url)
    # A demo shows the Quechua and Aymara drafts, as a review session would (docs/TRANSLATIONS.md).
    env.setdefault("TRANSLATIONS", "drafts")
    # The web's alone: an rq worker forks a process per job, each of which would add files.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if no_demo:
        Database(settings.database_url).upgrade()
        samples: list[str] = []
    else:
        samples = prepare_demo(settings, households)
    url, server = redis_url(settings)
    if server is not None:
        env["REDIS_URL"] = url
        click.echo(f"embedded Redis at {url}")
    root = Path(__file__).resolve().parents[2]  # the checkout: gunicorn.conf.py, wsgi.py
    children: list[subprocess.Popen[bytes]] = []
    base = f"http://{host}:{port}"
    key = f"?key={settings.callback_secret}" if settings.callback_secret else ""
    if not settings.at_api_key:
        fake_port = _free_port(host)
        log_file = (settings.var_dir / "fake-at.jsonl").resolve()
        children.append(subprocess.Popen(
            _cli("fake-at", "--host", host, "--port", str(fake_port),
                 "--callback-url", f"{base}/sms/delivery{key}",
                 "--optout-url", f"{base}/sms/optout{key}",
                 "--voice-url", f"{base}/voice{key}",  # missed calls called back ring here
                 "--log", str(log_file)),
            env=env, cwd=root,
        ))
        env.update(AT_BASE_URL=f"http://{host}:{fake_port}", AT_USERNAME="sandbox",
                   AT_API_KEY="stand-in")
        click.echo(f"no AT_API_KEY: SMS go to the stand-in provider on port {fake_port}, "
                   f"logged to {log_file}")
    children.append(subprocess.Popen(_cli("worker"), env=env, cwd=root))
    children.append(subprocess.Popen(_cli("scheduler"), env=env, cwd=root))
    if espeak_binary() is not None:
        # The voice line's audio: made once (what is there is kept), in the background; until
        # a file is made, its phrase is said with <Say>.
        children.append(subprocess.Popen(_cli("prompts", "generate"), env=env, cwd=root,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        click.echo("voice prompts: made in the background with espeak-ng (`mijuntos prompts "
                   "status`)")
    click.echo(f"\nMi Juntos is answering USSD hops at {base}/ussd{key}")
    click.echo(f"texts: TRANSLATIONS={env['TRANSLATIONS']} (Quechua and Aymara drafts "
               f"{'shown' if env['TRANSLATIONS'] == 'drafts' else 'hidden'}; docs/TRANSLATIONS.md)")
    phone = next((s.split("dial from ")[1].split(" ")[0] for s in samples if "dial from" in s), None)
    phone = phone or "+51987654321"
    click.echo(f"In a browser: the phone simulator at {base}/simulator, the staff dashboard at "
               f"{base}/admin/ (create a user with `mijuntos admin create-user NAME`)")
    click.echo("From another terminal, be a phone:")
    click.echo(f"  mijuntos dial --phone {phone} --url '{base}/ussd{key}'")
    click.echo(f"  mijuntos sms --from {phone} --url '{base}/sms/inbound{key}' PAGO")
    click.echo(f"  mijuntos call --phone {phone} --url '{base}/voice{key}'   (the voice line; "
               "`mijuntos prompts generate` makes its audio files, docs/VOICE.md)")
    for line in samples:
        click.echo(f"  demo {line}")
    click.echo("Ctrl-C stops everything.\n")
    command = [
        sys.executable, "-m", "gunicorn", "gateway.app:create_app()",
        "--workers", str(workers), "--bind", f"{host}:{port}",
        "--access-logfile", "-", "--access-logformat", '%(m)s %(U)s %(s)s %(M)sms',
    ]
    conf = root / "gunicorn.conf.py"  # the Procfile's settings (JSON logs, metrics), in a checkout
    if conf.exists():
        command += ["--config", str(conf)]
    command += control_socket_args(settings)
    web_env = dict(env, PROMETHEUS_MULTIPROC_DIR=metrics_dir(settings))
    children.insert(0, subprocess.Popen(command, env=web_env, cwd=root))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the children on TERM too
    try:
        children[0].wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        if server is not None:
            server.stop()
