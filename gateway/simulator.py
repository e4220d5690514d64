"""/simulator: a phone-like page that drives the USSD dialog as the aggregator would."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from dialogs.texts import LANGUAGES
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
    catalog = services.draft_catalog
    completeness = {lang: len(catalog.keys) - len(catalog.missing(lang)) for lang in LANGUAGES}
    return render_template("simulator.html", code=services.settings.service_code,
                           phone=request.args.get("phone", "+51987654321"), csrf=csrf_token(),
                           languages=LANGUAGES, shown=completeness, total=len(catalog.keys))


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
    # A review session: every text in the language chosen on the page (else the household's),
    # drafts included, and the keys of the texts shown sent back for the "show keys" switch.
    lang = request.form.get("lang") or None
    catalog = services.draft_catalog.for_review(lang if lang in LANGUAGES else None)
    try:
        wire, _ = answer(services, parsed, channel=Channel.SIMULATOR, catalog=catalog)
    except Exception:
        current_app.logger.exception("simulator hop failed")
        wire = "END " + services.catalog.text("es", "service_down", helpline=services.settings.helpline)
    response = Response(wire, mimetype="text/plain")
    response.headers["X-Catalog-Keys"] = " ".join(catalog.used)
    return response
