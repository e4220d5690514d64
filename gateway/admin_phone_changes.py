"""/admin/cambios-de-celular: every move of a household's phone of record, for staff."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, request

from gateway.admin import _services, login_required, render
from models.phone_change import describe, recent_changes

bp = Blueprint("admin_phone_changes", __name__, url_prefix="/admin")
_HOGAR = re.compile(r"^[A-Za-z0-9]{1,16}$")


@bp.get("/cambios-de-celular")
@login_required
def phone_changes() -> Any:
    """The newest moves (of one household with ?hogar=), masked phones only."""
    hogar = request.args.get("hogar", "").strip().upper()
    hogar = hogar if _HOGAR.match(hogar) else ""
    now = dt.datetime.now(dt.UTC)
    with _services().db.session() as s:
        rows = [describe(c, n, now) for c, n in recent_changes(s, (hogar,) if hogar else ())]
    return render("phone_changes.html", rows=rows, hogar=hogar)
