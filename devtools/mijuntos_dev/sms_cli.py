"""`mijuntos sms`: text the service as a phone would, through POST /sms/inbound, and show the reply.

The reply is an outbox row keyed by the inbound message's id (`reply:<id>`), which this command
made up: so it waits for exactly that row in the server's database (DATABASE_URL, as the server
has it; `mijuntos up`'s SQLite file by default), whichever provider sends it (the stand-in or a
real account), and never takes a reminder or a notice sent to the same phone meanwhile for it.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path

import click
import requests
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from core.settings import Settings
from models import Database, OutboxMessage, OutboxStatus

POLL_SECONDS = 0.2
# Sent by the provider but not reported delivered yet: wait a little longer for the report.
SENT = (OutboxStatus.SUBMITTED,)
WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING)


def _reachable(url: str) -> str | None:
    """Why the outbox at `url` cannot be read from here, or None."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            return f"no database file at {parsed.database}"
    return None


def _reply_row(db: Database, sms_id: str) -> tuple[str, str, str | None] | None:
    """(status, text, failure reason) of the reply to `sms_id`, None while there is none."""
    with db.session() as s:
        row = s.execute(
            select(OutboxMessage.status, OutboxMessage.text, OutboxMessage.failure_reason)
            .where(OutboxMessage.dedupe_key == f"reply:{sms_id}")
        ).first()
    return (row[0], row[1], row[2]) if row else None


def wait_for_reply(database_url: str, sms_id: str, seconds: float) -> tuple[str, str, str | None] | None:
    """The reply's (status, text, failure reason) once it is final or the time is up; None: no row.

    A reply the provider accepted is shown at once if its delivery report has not come by the
    time; one that is still pending or sending at the end is returned as it is.
    """
    db = Database(database_url)
    try:
        deadline = time.monotonic() + seconds
        row = _reply_row(db, sms_id)
        while time.monotonic() < deadline and (row is None or row[0] in WAITING + SENT):
            time.sleep(POLL_SECONDS)
            row = _reply_row(db, sms_id)
        return row
    finally:
        db.dispose()


def _shown(text: str) -> str:
    return "\n".join(f"  | {line}" for line in click.wrap_text(text, 60).splitlines())


@click.command("sms")
@click.option("--from", "sender", required=True, help="The sending phone, e.g. +51987654321.")
@click.option("--url", default="http://127.0.0.1:5000/sms/inbound", show_default=True)
@click.option("--to", default="1880", show_default=True, help="The short code texted.")
@click.option("--wait", "wait", default=20.0, show_default=True,
              help="Seconds to wait for the reply (read from the outbox in DATABASE_URL); 0: do not wait.")
@click.argument("text")
def sms_command(sender: str, url: str, to: str, wait: float, text: str) -> None:
    """Send TEXT to the service as an inbound SMS and print the reply, as a phone shows it.

    Exit status: 0 the reply came (or --wait 0), 1 it did not come in time or failed.
    """
    form = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "from": sender,
        "to": to,
        "text": text,
        "id": f"cli-{uuid.uuid4().hex}",
        "linkId": uuid.uuid4().hex,
        "networkCode": "71610",
    }
    try:
        response = requests.post(url, data=form, timeout=10)
    except requests.RequestException as exc:
        raise click.ClickException(f"could not reach {url}: {exc}") from exc
    if response.status_code != 200:
        raise click.ClickException(f"server answered {response.status_code}: {response.text}")
    parked = "queued" in response.text  # the server kept it to answer once its database is back
    click.echo(f"sent (id {form['id']})" + (": the server parked it for later" if parked else ""))
    if wait <= 0:
        click.echo("not waiting: the reply goes out through the outbox by the worker")
        return
    database_url = Settings.from_env().database_url
    unreadable = _reachable(database_url)
    row = None
    if unreadable is None:
        try:
            row = wait_for_reply(database_url, form["id"], wait)
        except SQLAlchemyError as exc:
            unreadable = f"the outbox could not be read ({type(exc).__name__})"
    if unreadable is not None:
        raise click.ClickException(
            f"{unreadable}: the reply is not shown (run from the server's checkout, or set "
            "DATABASE_URL as the server has it; --wait 0 does not look)")
    if row is None:
        raise click.ClickException(
            f"no reply within {wait:g} s: the server has not answered this SMS in "
            f"{make_url(database_url).render_as_string(hide_password=True)} (parked during an "
            "outage it is answered within a minute; another database: set DATABASE_URL as the "
            "server has it)")
    status, reply, reason = row
    if status in (OutboxStatus.DELIVERED, OutboxStatus.SUBMITTED):
        note = "delivered" if status == OutboxStatus.DELIVERED else "sent, no delivery report yet"
        click.echo(f"reply from {to} ({note}):")
        click.echo(_shown(reply))
        return
    if status in WAITING:
        raise click.ClickException(
            f"no reply within {wait:g} s: it is {status} in the outbox (is the worker running? "
            "`mijuntos up` starts one, or run `mijuntos worker`)")
    raise click.ClickException(f"the reply was not delivered: {status} ({reason or 'no reason given'})")
