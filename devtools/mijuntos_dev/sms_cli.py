"""`mijuntos sms`: text the service as a phone would, through POST /sms/inbound."""

from __future__ import annotations

import datetime as dt
import uuid

import click
import requests


@click.command("sms")
@click.option("--from", "sender", required=True, help="The sending phone, e.g. +51987654321.")
@click.option("--url", default="http://127.0.0.1:5000/sms/inbound", show_default=True)
@click.option("--to", default="1880", show_default=True, help="The short code texted.")
@click.argument("text")
def sms_command(sender: str, url: str, to: str, text: str) -> None:
    """Send TEXT to the service as an inbound SMS; the reply goes out through the outbox."""
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
    click.echo(f"sent (id {form['id']}); the reply is sent through the outbox by the worker")
