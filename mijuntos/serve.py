"""`mijuntos up`: the service on embedded defaults (SQLite, an embedded Redis) with demo data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from sqlalchemy import func, select

from gateway.config import Settings
from gateway.services import embedded_redis_url
from models import Database, Household


def _has_households(db: Database) -> bool:
    with db.session() as session:
        return bool(session.scalar(select(func.count()).select_from(Household)))


def prepare_demo(settings: Settings, households: int) -> list[str]:
    """Migrate, and on first run write and import demo data; lines to show the user."""
    from mijuntos.demo_data import write_demo_data
    from mijuntos.importer import import_dir

    db = Database(settings.database_url)
    db.upgrade()
    demo_dir = settings.var_dir / "demo"
    lines: list[str] = []
    if not _has_households(db):
        click.echo(f"writing demo data for {households} households to {demo_dir} ...")
        summary = write_demo_data(demo_dir, households)
        report = import_dir(db, demo_dir, progress=True)
        click.echo("\n".join(report.summary_lines()))
        lines = [s.line() for s in summary.samples]
        (settings.var_dir / "demo-identities.txt").write_text("\n".join(lines) + "\n")
    else:
        saved = settings.var_dir / "demo-identities.txt"
        lines = saved.read_text().splitlines() if saved.exists() else []
    db.dispose()
    return lines


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--households", default=2000, show_default=True, help="demo data size on first run")
@click.option("--no-demo", is_flag=True, help="do not write or import demo data")
def up_command(host: str, port: int, workers: int, households: int, no_demo: bool) -> None:
    """Run the web service; with no DATABASE_URL/REDIS_URL, on SQLite and an embedded Redis."""
    settings = Settings.from_env()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DATABASE_URL=settings.database_url)
    if no_demo:
        Database(settings.database_url).upgrade()
        samples: list[str] = []
    else:
        samples = prepare_demo(settings, households)
    server = None
    if not settings.redis_url:
        url, server = embedded_redis_url(settings.var_dir.resolve())
        env["REDIS_URL"] = url
        click.echo(f"embedded Redis at {url}")
    url = f"http://{host}:{port}/ussd"
    click.echo(f"\nMi Juntos is answering USSD hops at {url}")
    click.echo("Try it from another terminal (a phone in the terminal):")
    phone = next((s.split("dial from ")[1].split(" ")[0] for s in samples if "dial from" in s), None)
    click.echo(f"  mijuntos dial --phone {phone or '+51987654321'} --url {url}")
    for line in samples:
        click.echo(f"  demo {line}")
    click.echo("Ctrl-C stops the service.\n")
    command = [
        sys.executable, "-m", "gunicorn", "gateway:create_app()",
        "--workers", str(workers), "--bind", f"{host}:{port}",
        "--access-logfile", "-", "--access-logformat", '%(m)s %(U)s %(s)s %(M)sms',
    ]
    proc = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parent.parent)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the children on TERM too
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
        if server is not None:
            server.stop()
