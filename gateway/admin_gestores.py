"""/admin/gestores: the gestores with their day's assisted lookups, the anomaly view, and the
staff's switch that suspends a gestor's assisted mode at once (effective on their next hop)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from flask import Blueprint, redirect, request, url_for
from flask_wtf.csrf import CSRFError

from gateway.admin import ERRORS, _services, login_required, render, staff_user
from models.assisted import roster
from models.clock import LIMA
from models.gestor_review import (
    HISTORY_DAYS,
    NO_HISTORY_MIN_LOOKUPS,
    OUTSIDE_UT,
    VOLUME,
    VOLUME_FACTOR,
    VOLUME_MIN_LOOKUPS,
    ReviewError,
    anomalies,
    set_suspended,
)
from workers.api import drain_before_counting

bp = Blueprint("admin_gestores", __name__, url_prefix="/admin")
log = logging.getLogger("mijuntos.admin")
_GESTOR = re.compile(r"^[A-Za-z0-9]{1,16}$")
ACTIONS = {"suspend": True, "lift": False}
# What the page says after a POST (?hecho=...), in Spanish like the other staff pages.
DONE = {"suspendido": "Gestor {g} suspendido: desde su proxima pantalla no tiene el modo asistido.",
        "levantado": "Se levanto la suspension del gestor {g}.",
        "sin_cambio": "El gestor {g} ya estaba asi: no se cambio nada."}
REASONS = {VOLUME: "volumen inusual", OUTSIDE_UT: "hogares de otra UT"}
NOT_FOUND = "No existe el gestor {g}."


@bp.errorhandler(CSRFError)
def stale_form(exc: CSRFError) -> Any:
    """A suspension form without this session's token (forged, or from before a logout)."""
    log.warning("staff form refused on %s: %s", request.path, exc.description)
    return render("stale.html", error=ERRORS["stale"], back=url_for("admin_gestores.gestores")), 400


@bp.app_template_filter("lima")
def lima_time(moment: dt.datetime) -> str:
    """A stored UTC moment as staff read it: Lima's date and time."""
    return moment.astimezone(LIMA).strftime("%d/%m/%Y %H:%M")


def _day(default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(request.args.get("dia", ""))
    except ValueError:
        return default


@bp.get("/gestores")
@login_required
def gestores() -> Any:
    """Every gestor with today's lookups and verifications; the anomalies of ?dia= (default today)."""
    return _page()


def _page(error: str | None = None, status: int = 200) -> Any:
    services = _services()
    today = services.settings.local_today()
    day = _day(today)
    drain_before_counting(services.db, services.redis, max_batches=2)  # the last minute's too
    with services.db.session() as s:
        rows = roster(s, today)
        flagged = anomalies(s, day)
    done = DONE.get(request.args.get("hecho", ""), "")
    gestor = request.args.get("gestor", "")
    return render("gestores.html", rows=rows, flagged=flagged, today=today, day=day, reasons=REASONS,
                  done=done.format(g=gestor) if done and _GESTOR.match(gestor) else "", error=error,
                  rule={"min": VOLUME_MIN_LOOKUPS, "factor": VOLUME_FACTOR, "days": HISTORY_DAYS,
                        "new": NO_HISTORY_MIN_LOOKUPS}), status


@bp.post("/gestores/suspension")
@login_required
def suspension() -> Any:
    """Suspend a gestor (action=suspend) or lift the suspension (action=lift); CSRF-checked."""
    gestor_id, action = request.form.get("gestor_id", "").strip(), request.form.get("action", "")
    if action not in ACTIONS or not _GESTOR.match(gestor_id):
        return _page(error="Pedido incompleto: elija un gestor y una accion.", status=400)
    user = staff_user() or ""
    try:
        with _services().db.session() as s:
            changed = set_suspended(s, gestor_id, ACTIONS[action], user)
    except ReviewError:
        return _page(error=NOT_FOUND.format(g=gestor_id), status=404)
    if changed:
        log.info("gestor %s: assisted mode %s by staff user %s", gestor_id,
                 "suspended" if ACTIONS[action] else "restored (suspension lifted)", user)
    done = ("suspendido" if ACTIONS[action] else "levantado") if changed else "sin_cambio"
    return redirect(url_for("admin_gestores.gestores", hecho=done, gestor=gestor_id))
