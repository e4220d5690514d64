"""`mijuntos dial`: a terminal phone that drives POST /ussd exactly as Africa's Talking does.

When a session ends the aggregator posts its end-of-session notification to /ussd/events; so
does this phone. Its status tells the server whether to offer the phone "continue where you
left off" next time: `Success` for a session that ended as meant (an END screen, or a scripted
run whose inputs were all answered: it hangs up on purpose, so the same command gives the same
screens again), `Incomplete` for a caller who hung up mid-way (Ctrl-D) or a dropped call
(`--drop`), which the server keeps for resuming.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import click
import requests

WIDTH = 30


def screen_box(body: str, scripted: bool = False) -> str:
    """A reply drawn like a phone screen; `scripted`: no prompt under an open screen."""
    kind, _, text = body.partition(" ")
    lines = []
    for raw in text.split("\n"):
        while len(raw) > WIDTH:
            cut = raw.rfind(" ", 0, WIDTH + 1)
            cut = cut if cut > 0 else WIDTH
            lines.append(raw[:cut])
            raw = raw[cut:].lstrip()
        lines.append(raw)
    top = "+" + "-" * (WIDTH + 2) + "+"
    inner = [f"| {line:<{WIDTH}} |" for line in lines]
    if kind == "END":
        return "\n".join([top, *inner, top, "(session closed)"])
    if scripted:
        return "\n".join([top, *inner, top])
    return "\n".join([top, *inner, top, "(reply, or Ctrl-D to hang up)"])


def events_url(hop_url: str) -> str:
    """The end-of-session notification URL beside a hop URL: /ussd?key=K -> /ussd/events?key=K."""
    parts = urlsplit(hop_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/events"))


class Handset:
    """One USSD session against a running server."""

    def __init__(self, url: str, phone: str, service_code: str, network: str = "71610") -> None:
        self.url = url
        self.phone = phone
        self.service_code = service_code
        self.network = network
        self.session_id = f"ATUid_{uuid.uuid4().hex}"
        self.inputs: list[str] = []
        self.hops = 0
        self.last = ""
        self.started = time.monotonic()

    def hop(self) -> str:
        response = requests.post(
            self.url,
            data={
                "sessionId": self.session_id,
                "serviceCode": self.service_code,
                "phoneNumber": self.phone,
                "networkCode": self.network,
                "text": "*".join(self.inputs),
            },
            timeout=10,
        )
        if response.status_code != 200:
            raise click.ClickException(f"server answered {response.status_code}: {response.text}")
        self.hops += 1
        self.last = response.text
        return response.text

    def hang_up(self, status: str) -> int:
        """The aggregator's end-of-session notification for this session; the HTTP status."""
        _, _, shown = self.last.partition(" ")
        response = requests.post(
            events_url(self.url),
            data={
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "sessionId": self.session_id,
                "serviceCode": self.service_code,
                "networkCode": self.network,
                "phoneNumber": self.phone,
                "status": status,
                "cost": "PEN 0.0000",
                "durationInMillis": str(int((time.monotonic() - self.started) * 1000)),
                "hopsCount": str(self.hops),
                "input": self.inputs[-1] if self.inputs else "",
                "lastAppResponse": shown[:500],
                "errorMessage": "",
            },
            timeout=10,
        )
        return response.status_code

    def run(self, answers: Iterator[str | None], show: Callable[[str], None]) -> str:
        """Dial, then answer each screen from `answers` until END or no more answers."""
        body = self.hop()
        show(body)
        while body.startswith("CON "):
            answer = next(answers, None)
            if answer is None:
                break
            self.inputs.append(answer)
            body = self.hop()
            show(body)
        return body


def _typed() -> Iterator[str | None]:
    while True:
        try:
            yield click.prompt("", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.Abort):
            click.echo("\n(hung up)")
            yield None


@click.command("dial")
@click.option("--phone", required=True, help="The calling number, e.g. +51987654321.")
@click.option("--url", default="http://127.0.0.1:5000/ussd", show_default=True)
@click.option("--service-code", default="*1880#", show_default=True)
@click.option("--send", "sends", multiple=True,
              help="Answer the screens with these inputs, in order, then hang up.")
@click.option("--drop", is_flag=True,
              help="End like a dropped call: the next dial from this phone (within "
                   "USSD_RESUME_MINUTES) is offered to continue where it left off.")
def dial_command(phone: str, url: str, service_code: str, sends: tuple[str, ...], drop: bool) -> None:
    """A phone in the terminal: dial the service and answer its screens.

    With --send the inputs answer the screens (each shown after its screen as "> input") and the
    phone then hangs up on purpose: the server is told the session ended, so the same command
    gives the same screens again.
    """
    handset = Handset(url, phone, service_code)
    scripted = bool(sends)

    def show(body: str) -> None:
        if scripted and handset.inputs and handset.hops > 1:
            click.echo(f"> {handset.inputs[-1]}")
        click.echo(screen_box(body, scripted))

    try:
        body = handset.run(iter(sends) if scripted else _typed(), show)
        if body.startswith("END "):
            status = "Success"
        elif drop:
            status = "Incomplete"
            click.echo("(call dropped: a dial from this phone in the next minutes is offered "
                       "to continue where it left off)")
        elif scripted:
            status = "Success"
            click.echo("(hung up: session ended)")
        else:
            # A caller who gives up mid-way is reported as the aggregator reports a drop.
            status = "Incomplete"
            click.echo("(a dial from this phone in the next minutes is offered to continue "
                       "where it left off: 2 starts again)")
        answered = handset.hang_up(status)
    except requests.RequestException as exc:
        raise click.ClickException(f"could not reach {url}: {exc}") from exc
    if answered != 200:
        click.echo(f"warning: {events_url(url)} answered {answered} to the end of the session; "
                   "the next dial from this phone may be offered to continue this one", err=True)
