"""`mijuntos call`: a phone in the terminal that rings the voice line as Africa's Talking would.

It plays the AT side of the call (mijuntos_dev.fake_voice) against the service's `/voice`:
prints each prompt as it is heard (a Say's text; a Play's X-Prompt-Text, else its file's name),
takes the keys for each GetDigits from --send or from the keyboard, and can write the audio
heard to one WAV file. The service is found as `mijuntos up` and the Procfile run it: port
$PORT (5000 unless set), its callbacks guarded by $CALLBACK_SECRET.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import click

from mijuntos_dev.fake_voice import DESTINATION, Call, Keys, Outcome, Prompt, VoiceError
from mijuntos_dev.fake_voice_http import where
from mijuntos_dev.fake_voice_xml import KEYS


def default_url() -> str:
    """The service's voice callback on this machine: port $PORT, 5000 unless set."""
    return f"http://127.0.0.1:{os.environ.get('PORT', '').strip() or '5000'}/voice"


def with_key(url: str, key: str | None) -> str:
    """`url` carrying `?key=<key>`, unless it carries one already or there is no key."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not key or any(name == "key" for name, _ in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, ("key", key)])))


def _bad_keys(typed: str) -> str | None:
    bad = sorted(set(typed) - KEYS)
    return "".join(bad) if bad else None


def _typed() -> Iterator[str | None]:
    """Keys from the keyboard at each GetDigits: Enter sends them, an empty line none, Ctrl-D hangs up."""
    while True:
        try:
            typed = click.prompt("", prompt_suffix="keys> ", default="", show_default=False)
        except (EOFError, click.Abort):
            click.echo("")
            return
        typed = typed.strip()
        bad = _bad_keys(typed)
        if bad:
            click.echo(f"(a phone has only 0-9 * #, not {bad!r}: again)")
            continue
        yield typed or None


def _ending(call: Call) -> str:
    seconds = f"{call.duration} s, {call.final.get('currencyCode', '')} {call.final.get('amount', '')}"
    return {
        Outcome.COMPLETED: f"(the service hung up: call over after {seconds})",
        Outcome.CALLER_HUNG_UP: f"(you hung up after {seconds})",
        Outcome.REJECTED: "(the service rejected the call: it costs the caller nothing)",
        Outcome.MISSED: "(missed call: you hung up before it was answered)",
        Outcome.NOT_ANSWERED: "(not answered)",
        Outcome.FAILED: "(the call failed)",
    }[call.outcome or Outcome.FAILED]


@click.command("call")
@click.option("--phone", required=True, help="The calling number, e.g. +51987654321.")
@click.option("--url", default=None,
              help="The service's voice callback [default: http://127.0.0.1:$PORT/voice, "
                   "PORT 5000 unless set].")
@click.option("--key", default=None, help="Added to the URL as ?key= [default: $CALLBACK_SECRET].")
@click.option("--to", "destination", default=DESTINATION, show_default=True, help="The number called.")
@click.option("--send", "sends", multiple=True,
              help="Keys for each GetDigits in order ('' for none: it times out); then hang up.")
@click.option("--wav", "wav_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the audio played, all prompts in order, to this WAV file.")
@click.option("--missed", is_flag=True, help="Ring and hang up before it is answered (a missed call).")
def call_command(phone: str, url: str | None, key: str | None, destination: str, sends: tuple[str, ...],
                 wav_path: Path | None, missed: bool) -> None:
    """A phone in the terminal: ring the voice line, hear its prompts, key in digits.

    With --send each value answers one GetDigits (shown as "> keys") and the phone hangs up
    when they run out; without it, type the keys at each "keys>" (Enter sends them, an empty
    line sends none, Ctrl-D hangs up).
    """
    for typed in sends:
        bad = _bad_keys(typed)
        if bad:
            raise click.BadParameter(f"a phone has only 0-9 * #, not {bad!r} (in {typed!r})",
                                     param_hint="--send")
    scripted = bool(sends)

    def show(event: Prompt | Keys) -> None:
        if isinstance(event, Prompt):
            click.echo(f"  {event.label}" if event.text is not None else f"  [{event.label}]")
        elif not event.sent:
            typed = f" {event.typed}" if scripted and event.typed else ""
            click.echo(f">{typed} (no keys sent: it timed out after {event.timeout} s)")
        elif event.sent != event.typed:
            click.echo(f"{'> ' + str(event.typed) if scripted else ''} (sent {event.sent})".lstrip())
        elif scripted:
            click.echo(f"> {event.typed}")

    inputs = (s or None for s in sends) if scripted else _typed()
    target = url or default_url()
    click.echo(f"ringing {where(target)}" + (" (and hanging up before it is answered)" if missed else ""))
    call = Call(with_key(target, key or os.environ.get("CALLBACK_SECRET") or None),
                phone, inputs, destination=destination, missed=missed, on_event=show)
    call.run(check=False)
    if call.errors:
        raise click.ClickException("; ".join(call.errors))
    click.echo(_ending(call))
    if wav_path is not None:
        try:
            seconds = call.write_wav(wav_path)
        except VoiceError as exc:
            raise click.ClickException(f"{wav_path}: {exc}") from exc
        click.echo(f"wrote {wav_path}: {seconds:.1f} s from {len(call.audio)} played files")
