"""`mijuntos prompts`: the voice line's audio prompts, what is synthetic, recorded, missing, stale.

`status` counts them per language (`--detail` names them) and exits 1 when any is missing, for a
deploy check; `generate` synthesizes with espeak-ng every missing or stale one. A production
command, not a demo tool: the programme runs `generate` again whenever the catalogs change. It
never overwrites a recording, with or without `--force` (docs/VOICE.md, "Audio prompts").
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import click
from tqdm import tqdm

from core.catalogs import catalog_for
from core.espeak import MISSING, Espeak, espeak_binary
from core.prompt_audio import PromptError, wav_problem
from core.prompts import PromptStore, Status
from core.settings import Settings
from dialogs.speech import Required, required_prompts
from dialogs.texts import LANGUAGES


def catalog_required(settings: Settings) -> Sequence[Required]:
    """Every phrase the voice line can say, from the catalog it speaks with."""
    return required_prompts(catalog_for(settings))


@dataclass(frozen=True)
class Inputs:
    """Where the commands get the required phrases (a caller of `main` may give its own as `obj`)."""

    required: Callable[[Settings], Sequence[Required]] = catalog_required


def _inputs(ctx: click.Context) -> Inputs:
    given = ctx.find_object(Inputs)
    return given if given is not None else Inputs()


@click.group("prompts")
def prompts_command() -> None:
    """The voice line's audio prompts: status (synthetic, recorded, missing, stale) and generate."""


@prompts_command.command("status")
@click.option("--detail", is_flag=True, help="name every prompt with its status")
@click.pass_context
def status_command(ctx: click.Context, detail: bool) -> None:
    """Per language: synthetic, recorded, missing, stale; exit status 1 if any is missing."""
    settings = Settings.from_env()
    store = PromptStore(settings.prompts_path)
    try:
        found = store.status(_inputs(ctx).required(settings))
    except PromptError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{settings.prompts_path} (PROMPTS_DIR): {len(found)} prompts")
    for lang in LANGUAGES:
        counts = Counter(state for (lng, _), state in found.items() if lng == lang)
        voice = store.voices[lang]
        click.echo(f"{lang}: " + ", ".join(f"{counts[s]} {s}" for s in Status)
                   + f" (voice {voice.espeak}" + (f"; {voice.stand_in})" if voice.stand_in else ")"))
    if detail:
        for (lang, name), state in sorted(found.items(), key=lambda kv: (kv[0][0], kv[1], kv[0][1])):
            problem = wav_problem(store.path(lang, name)) if state is Status.RECORDED else None
            click.echo(f"  {lang} {state:9} {name}" + (f" ({problem})" if problem else ""))
    states = set(found.values())
    if Status.STALE in states or Status.MISSING in states:
        click.echo("(`mijuntos prompts generate` makes the missing and stale ones)")
    if Status.MISSING in states:
        ctx.exit(1)


@prompts_command.command("generate")
@click.option("--force", is_flag=True, help="synthesize every synthetic prompt again (a new espeak-ng)")
@click.pass_context
def generate_command(ctx: click.Context, force: bool) -> None:
    """Synthesize every missing or stale prompt with espeak-ng; recordings are never overwritten."""
    settings = Settings.from_env()
    if espeak_binary() is None:
        raise click.ClickException(MISSING + ": nothing generated")
    store = PromptStore(settings.prompts_path, Espeak())
    required = _inputs(ctx).required(settings)
    try:
        with tqdm(total=len(required), desc="prompts", unit="file",
                  disable=not sys.stderr.isatty()) as bar:
            done = store.generate(required, force=force, each=lambda _: bar.update())
    except PermissionError as exc:
        raise click.ClickException(f"PROMPTS_DIR: cannot write in {settings.prompts_path} ({exc})") from exc
    except PromptError as exc:
        raise click.ClickException(str(exc)) from exc
    for lang in LANGUAGES:
        made = sum(1 for lng, _ in done.made if lng == lang)
        current = sum(1 for lng, _ in done.current if lng == lang)
        kept = sum(1 for lng, _ in done.recorded if lng == lang)
        stand_in = store.voices[lang].stand_in
        click.echo(f"{lang}: {made} made, {current} already current, {kept} recorded (never "
                   f"overwritten)" + (f"; {stand_in}" if stand_in else ""))
