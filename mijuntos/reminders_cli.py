"""`mijuntos reminders plan|status|pause|resume|send`: see and steer a wave of reminders."""

from __future__ import annotations

import click
from sqlalchemy import ColumnElement, func, select

from core.catalogs import catalog_for
from core.settings import Settings
from models import OutboxMessage
from workers.context import WorkerContext, configure
from workers.dispatch import Dispatcher, is_paused, set_paused
from workers.planner import plan_reminders, withdraw_opted_out


def _context() -> WorkerContext:
    settings = Settings.from_env()
    return configure(settings)


@click.group("reminders")
def reminders() -> None:
    """Payment reminders and no-payment notices."""


@reminders.command("plan")
@click.option("--progress/--no-progress", default=True)
def plan(progress: bool) -> None:
    """Plan reminders and notices for the active periods now (the scheduler does it too)."""
    ctx = _context()
    ctx.db.upgrade()
    report = plan_reminders(ctx.db, catalog_for(ctx.settings), ctx.settings, progress=progress)
    click.echo(report.line())
    click.echo(f"{withdraw_opted_out(ctx.db)} pending reminders withdrawn after an opt-out")


@reminders.command("send")
@click.option("--budget", default=300.0, show_default=True, help="seconds to keep sending")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="A progress bar over the messages due now.")
def send(budget: float, progress: bool) -> None:
    """Send what is due now, in this process (the scheduler's dispatch job does it too)."""
    click.echo(Dispatcher(_context()).run(budget_seconds=budget, progress=progress).line())


@reminders.command("status")
@click.option("--periodo", default=None, help="only this period")
def status(periodo: str | None) -> None:
    """Counts by state, by kind and by Unidad Territorial; and whether sending is paused."""
    ctx = _context()
    where: list[ColumnElement[bool]] = [OutboxMessage.kind.is_not(None)]
    if periodo:
        where.append(OutboxMessage.periodo == periodo)
    with ctx.db.session() as s:
        by_state = s.execute(
            select(OutboxMessage.kind, OutboxMessage.status, func.count())
            .where(*where).group_by(OutboxMessage.kind, OutboxMessage.status)
            .order_by(OutboxMessage.kind, OutboxMessage.status)
        ).all()
        by_ut = s.execute(
            select(OutboxMessage.unidad_territorial, OutboxMessage.status, func.count())
            .where(*where).group_by(OutboxMessage.unidad_territorial, OutboxMessage.status)
        ).all()
        risky = s.scalar(select(func.count()).select_from(OutboxMessage)
                         .where(*where, OutboxMessage.dup_risk.is_(True)))
    click.echo(f"sending is {'PAUSED' if is_paused(ctx) else 'running'}")
    click.echo("by kind and state:")
    for kind, state, count in by_state:
        click.echo(f"  {kind:<9} {state:<10} {count:>9}")
    states = sorted({state for _, state, _ in by_ut})
    table: dict[str, dict[str, int]] = {}
    for ut, state, count in by_ut:
        table.setdefault(ut or "-", {})[state] = count
    click.echo("by Unidad Territorial:")
    click.echo("  " + f"{'UT':<16}" + "".join(f"{s:>11}" for s in states))
    for ut in sorted(table):
        click.echo("  " + f"{ut:<16}" + "".join(f"{table[ut].get(s, 0):>11}" for s in states))
    click.echo(f"possible duplicates (batch cut off by a stopped worker): {risky}")


@reminders.command("pause")
def pause() -> None:
    """Hold every reminder and notice until `resume` (replies to users still go out)."""
    set_paused(_context().db, True)
    click.echo("reminders paused")


@reminders.command("resume")
def resume() -> None:
    """Let reminders and notices go out again."""
    set_paused(_context().db, False)
    click.echo("reminders resumed")
