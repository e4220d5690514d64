"""`mijuntos dial`: a terminal phone that drives POST /ussd exactly as Africa's Talking does."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import click
import requests

WIDTH = 30


def screen_box(body: str) -> str:
    """A reply drawn like a phone screen."""
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
    footer = "(session closed)" if kind == "END" else "(reply, or Ctrl-D to hang up)"
    return "\n".join([top, *inner, top, footer])


class Handset:
    """One USSD session against a running server."""

    def __init__(self, url: str, phone: str, service_code: str, network: str = "71610") -> None:
        self.url = url
        self.phone = phone
        self.service_code = service_code
        self.network = network
        self.session_id = f"ATUid_{uuid.uuid4().hex}"
        self.inputs: list[str] = []

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
        return response.text

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
@click.option("--send", "sends", multiple=True, help="Answer the screens with these inputs, in order.")
def dial_command(phone: str, url: str, service_code: str, sends: tuple[str, ...]) -> None:
    """A phone in the terminal: dial the service and answer its screens."""
    handset = Handset(url, phone, service_code)
    try:
        handset.run(iter(sends) if sends else _typed(), lambda b: click.echo(screen_box(b)))
    except requests.RequestException as exc:
        raise click.ClickException(f"could not reach {url}: {exc}") from exc
