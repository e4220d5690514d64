"""/simulator: a phone-like page that drives the USSD dialog as the aggregator would."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from gateway.admin import ERRORS, csrf_token, staff_user
from gateway.hops import CallbackError, parse_ussd_hop
from gateway.services import Services
from gateway.ussd import answer
from models.query import Channel

bp = Blueprint("simulator", __name__)


def _allowed() -> bool:
    """Open for demos and training; behind the staff login in production."""
    services: Services = current_app.extensions["mijuntos"]
    return services.settings.env != "production" or bool(staff_user())


@bp.get("/simulator")
def page() -> Response | str:
    if not _allowed():
        return redirect(url_for("admin.login", next="/simulator"))  # type: ignore[return-value]
    services: Services = current_app.extensions["mijuntos"]
    return render_template("simulator.html", code=services.settings.service_code,
                           phone=request.args.get("phone", "+51987654321"), csrf=csrf_token())


@bp.errorhandler(CSRFError)
def stale_page(exc: CSRFError) -> Response:
    """A hop without the page's token (X-CSRFToken): an END screen that says to reload."""
    current_app.logger.warning("simulator hop refused: %s", exc.description)
    return Response("END " + ERRORS["stale_page"], 400, mimetype="text/plain")


@bp.post("/simulator/hop")
def hop() -> Response:
    """One hop, answered by the same code as POST /ussd (no callback key needed in the page; its
    CSRF token, checked by CSRFProtect, is)."""
    if not _allowed():
        return Response("forbidden", 403, mimetype="text/plain")
    services: Services = current_app.extensions["mijuntos"]
    try:
        parsed = parse_ussd_hop(request.form)
    except CallbackError as exc:
        return Response(f"END {exc}", mimetype="text/plain")
    try:
        wire, _ = answer(services, parsed, channel=Channel.SIMULATOR)
    except Exception:
        current_app.logger.exception("simulator hop failed")
        wire = "END " + services.catalog.text("es", "service_down", helpline=services.settings.helpline)
    return Response(wire, mimetype="text/plain")
