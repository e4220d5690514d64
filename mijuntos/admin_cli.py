"""`mijuntos admin create-user|set-password`: dashboard accounts (passwords hashed)."""

from __future__ import annotations

import click
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from core.settings import Settings
from models import AdminUser, Database


@click.group("admin")
def admin() -> None:
    """Dashboard accounts."""


MIN_PASSWORD = 10
RULE = f"at least {MIN_PASSWORD} characters"


def _checked(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """The password rule, applied to the first entry: a short one is asked again at once."""
    if len(value) < MIN_PASSWORD:
        raise click.BadParameter(RULE)
    return value


# Asked twice, with the rule in the first prompt; `--password` is checked the same way.
_password_option = click.password_option(prompt=f"Password ({RULE})", callback=_checked,
                                         help=f"The password, {RULE}.")


def _set(username: str, password: str, create: bool) -> None:
    if len(password) < MIN_PASSWORD:
        raise click.BadParameter(f"password: {RULE}")
    db = Database(Settings.from_env().database_url)
    db.upgrade()
    with db.session() as s:
        user = s.scalar(select(AdminUser).where(AdminUser.username == username))
        if create and user is not None:
            raise click.ClickException(f"{username}: already exists (use set-password)")
        if not create and user is None:
            raise click.ClickException(f"{username}: no such user")
        if user is None:
            user = AdminUser(username=username, password_hash="")
            s.add(user)
        user.password_hash = generate_password_hash(password)
    db.dispose()


@admin.command("create-user")
@click.argument("username")
@_password_option
def create_user(username: str, password: str) -> None:
    """Create a dashboard user (asks for the password twice: at least 10 characters)."""
    _set(username, password, create=True)
    click.echo(f"user {username} created")


@admin.command("set-password")
@click.argument("username")
@_password_option
def set_password(username: str, password: str) -> None:
    """Change a dashboard user's password (at least 10 characters)."""
    _set(username, password, create=False)
    click.echo(f"password of {username} changed")
