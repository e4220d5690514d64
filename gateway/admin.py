"""/admin: the programme staff's dashboard and broadcasts, behind a login."""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from dialogs.gsm import is_gsm7
from gateway import broadcast_text
from gateway.charts import bars
from gateway.login_guard import LoginGuard
from gateway.services import Services
from models import AdminUser, Household, schedule_freshness
from models.base import LIMA
from models.funnel import LABELS as STAGE_NAMES
from models.funnel import STAGE_KEYS, sums
from models.operators import operator_label
from models.reports import DEFAULT_DAYS, default_start, usage_report
from models.wave import periods
from workers import api as broadcasts
from workers.api import drain_before_counting

bp = Blueprint("admin", __name__, url_prefix="/admin")
log = logging.getLogger("mijuntos.admin")
# Staff-facing messages (the staff pages are in Spanish, like the programme's own tools).
ERRORS = {
    "stale": "El formulario vencio; intente de nuevo.",
    "login": "Usuario o clave incorrectos.",
    "throttled": "Demasiados intentos fallidos. Por seguridad, espere unos minutos y vuelva a intentar.",
    "unavailable": "No se puede ingresar en este momento; intente de nuevo en unos minutos.",
    "audience": "Elija al menos una UT, un punto de pago o un periodo.",
    "text": "Escriba el mensaje.",
    "changed": "El aviso cambio desde la vista previa: revise y confirme de nuevo.",
    "expired": "La vista previa vencio (vale una hora): pida una nueva vista previa y confirme.",
    "nobody": "Ningun hogar recibiria este aviso: revise las UT, los puntos de pago o el periodo.",
    "queue": "No se pudo guardar ni poner el aviso en cola; intente de nuevo en unos minutos.",
}
# The dashboard's name of each caller channel (models/query.py CALLER_CHANNELS); the stages'
# names are models/funnel.py's LABELS, one for each of the report's stage names.
CHANNEL_NAMES = {"ussd": "USSD", "sms": "SMS"}
JOB_STATES = {"queued": "en cola", "started": "en curso", "finished": "terminada",
              "failed": "fallo (sin mas reintentos)", "scheduled": "esperando un reintento",
              "deferred": "en espera", "stopped": "detenida", "canceled": "cancelada"}
KIND_NAMES = {"reminder": "recordatorios", "notice": "avisos sin pago", "change": "avisos de cambio"}


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def _check_csrf() -> bool:
    sent, kept = request.form.get("csrf", ""), session.get("csrf", "") or "x"
    return hmac.compare_digest(sent.encode(), kept.encode())


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not session.get("user"):
            back = request.full_path if request.method == "GET" and request.query_string else request.path
            return redirect(url_for("admin.login", next=back))
        if request.method == "POST" and not _check_csrf():
            return Response("forbidden: stale form, reload the page", 403, mimetype="text/plain")
        return view(*args, **kwargs)

    return wrapped


def _services() -> Services:
    return current_app.extensions["mijuntos"]  # type: ignore[no-any-return]


def render(template: str, **context: Any) -> str:
    return render_template(template, csrf=csrf_token(), **context)


def _guard() -> LoginGuard:
    guard = current_app.extensions.get("mijuntos_login")
    if guard is None:
        services = _services()
        guard = current_app.extensions["mijuntos_login"] = LoginGuard(services.redis,
                                                                      services.settings.secret_key)
    return guard  # type: ignore[no-any-return]


def safe_next(target: str) -> str | None:
    """`target` if it is a path on this site ("/simulator", "/admin/?from=..."), else None.

    Never an absolute URL, nor "//host" or "/\\host" (browsers read both as another host).
    """
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    return target if not (parts.scheme or parts.netloc) else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status = None, 200
    if request.method == "POST":
        name, address = request.form.get("username", ""), request.remote_addr or "-"
        if not _check_csrf():
            error = ERRORS["stale"]
        else:
            try:
                error, status = _try_login(name, request.form.get("password", ""), address)
            except Exception:  # Redis down: no throttle, so no login (a staff login can reach every phone)
                log.exception("login refused: the failed-login counter is unavailable")
                error, status = ERRORS["unavailable"], 503
            if error is None:
                session.clear()
                session["user"] = name
                return redirect(safe_next(request.args.get("next", "")) or url_for("admin.dashboard"))
    return render("login.html", error=error), status


def _try_login(name: str, password: str, address: str) -> tuple[str | None, int]:
    """(None, 200) when `name` and `password` are right and not throttled; else the error."""
    guard = _guard()
    if guard.blocked(name, address):
        log.warning("login throttled for a username or address")
        return ERRORS["throttled"], 429
    with _services().db.session() as s:
        user = s.scalar(select(AdminUser).where(AdminUser.username == name))
        ok = user is not None and check_password_hash(user.password_hash, password)
    if not ok:
        guard.failed(name, address)
        return ERRORS["login"], 200
    guard.succeeded(name)
    return None, 200


@bp.post("/logout")
@login_required
def logout() -> Any:
    session.clear()
    return redirect(url_for("admin.login"))


def _day(name: str, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default


def _stage_bars(title: str, stages: dict[str, dict[str, int]], names: dict[str, str]) -> str:
    """One bar per funnel stage, one segment per kind of message."""
    return bars(title, [(STAGE_NAMES[stage], [stages[kind][stage] for kind in names])
                        for stage in STAGE_KEYS], list(names.values()))


@bp.get("/")
@login_required
def dashboard() -> Any:
    today = dt.datetime.now(LIMA).date()
    end = _day("to", today)
    start = _day("from", default_start(end))
    services = _services()
    # The last minute's lookups too; a backlog beyond two batches (a stopped scheduler) is left
    # to the scheduler's job, so the page stays quick.
    drain_before_counting(services.db, services.redis, max_batches=2)
    with services.db.session() as s:
        known = periods(s)
        asked = request.args.get("periodo", "")
        r = usage_report(s, start, end, asked if asked in known else None)
        fresh = schedule_freshness(s, services.settings.local_today(),
                                   services.settings.data_max_age_days)
    channels = [(CHANNEL_NAMES[ch], ch) for ch in r.channels]
    names = [name for name, _ in channels]
    per_day = bars("Consultas por dia y canal", [
        (day, [c.get(ch, 0) for ch in r.channels]) for day, c in sorted(r.per_day.items())
    ], names)
    by_ut = bars("Consultas por Unidad Territorial", [
        (ut, [r.by_ut[ut].get(ch, 0) for ch in r.channels]) for ut, _ in r.top_uts
    ], names)
    funnel = _stage_bars(f"Recordatorios y avisos del periodo {r.periodo or '-'} (de cualquier fecha)",
                         r.wave, KIND_NAMES)
    broadcast_funnel = _stage_bars("Avisos masivos creados en estas fechas", {"broadcast": r.broadcasts},
                                   {"broadcast": "avisos masivos"})
    operators = bars("Entrega por operador (networkCode)", [
        (operator_label(network, "desconocido"), [ok, bad])
        for network, (ok, bad) in sorted(r.delivery_by_network.items())
    ], [STAGE_NAMES["delivered"], STAGE_NAMES["delivery_failed"]])
    return render("dashboard.html", r=r, channels=channels, per_day=per_day, by_ut=by_ut,
                  funnel=funnel, broadcast_funnel=broadcast_funnel, operators=operators,
                  periodo=r.periodo or "", periods=known, fresh=fresh,
                  stages=[(key, STAGE_NAMES[key]) for key in STAGE_KEYS], sums=sums(STAGE_NAMES),
                  default_days=DEFAULT_DAYS, chosen=bool(request.args.get("from") or request.args.get("to")))


def _form() -> broadcasts.Draft:
    points = [p.strip() for p in request.form.get("points", "").split(",") if p.strip()]
    return broadcasts.Draft(uts=sorted(request.form.getlist("ut")), points=points,
                            periodo=request.form.get("periodo", "").strip(),
                            text=request.form.get("text", "").strip())


@bp.route("/broadcast", methods=["GET", "POST"])
@login_required
def broadcast() -> Any:
    services = _services()
    with services.db.session() as s:
        ut = Household.unidad_territorial
        uts = list(s.scalars(select(ut).distinct().order_by(ut)))
        known = periods(s)
    context: dict[str, Any] = {"uts": uts, "periods": known, "f": {"uts": [], "points": "", "periodo": "",
                                                                    "text": ""}}
    if request.method == "GET":
        return render("broadcast.html", **context)
    draft = _form()
    action = request.form.get("action", "preview")
    if action == "gsm":  # the operator took the GSM-7 version offered with the error
        draft.text = broadcast_text.gsm_version(draft.text)
    context["f"] = {"uts": draft.uts, "points": ", ".join(draft.points), "periodo": draft.periodo,
                    "text": draft.text}
    if not (draft.uts or draft.points or draft.periodo):
        return render("broadcast.html", error=ERRORS["audience"], **context)
    if not draft.text:
        return render("broadcast.html", error=ERRORS["text"], **context)
    problems = broadcast_text.problems(draft.text)
    if problems:
        return render("broadcast.html", problems=problems, suggestion=_suggestion(draft.text), **context)
    if action == "confirm":
        try:
            return _confirm(services, draft, context)
        except RedisError:
            log.exception("broadcast confirm: Redis did not answer")
            return render("broadcast.html", error=ERRORS["queue"], **context)
    with services.db.session() as s:
        broadcasts.count(s, draft)
    if not draft.households:
        return render("broadcast.html", error=ERRORS["nobody"], **context)
    draft.user = str(session.get("user", ""))
    try:
        broadcasts.save_draft(services.redis, draft)
    except RedisError:
        log.exception("broadcast preview: cannot store the draft")
        return render("broadcast.html", error=ERRORS["queue"], **context)
    return render("broadcast.html", preview=draft, **context)


def _suggestion(text: str) -> str | None:
    """The GSM-7 version of a text with characters outside GSM-7, when it passes every check."""
    if is_gsm7(text):
        return None
    safe = broadcast_text.gsm_version(text)
    return safe if safe and not broadcast_text.problems(safe) else None


def _confirm(services: Services, draft: broadcasts.Draft, context: dict[str, Any]) -> Any:
    """Claim the previewed draft once, queue the job that makes its rows, and redirect (PRG)."""
    bid = request.form.get("broadcast", "")
    kept = broadcasts.load(services.redis, bid)
    if kept is None:
        return render("broadcast.html", error=ERRORS["expired"], **context)
    if not kept.same_form(draft):
        return render("broadcast.html", error=ERRORS["changed"], **context)
    user = str(session.get("user", ""))
    claimed = broadcasts.claim(services.redis, bid, user)
    if claimed == 0:  # the same preview confirmed before (a double click, F5, the back button)
        return redirect(url_for("admin.broadcast_status", bid=bid, again=1))
    if claimed < 0:
        return render("broadcast.html", error=ERRORS["expired"], **context)
    try:
        broadcasts.enqueue(services.queue, bid)
    except Exception:
        log.exception("broadcast %s: could not queue its job", bid)
        broadcasts.unclaim(services.redis, bid)
        return render("broadcast.html", error=ERRORS["queue"], **context)
    log.info("broadcast %s confirmed by %s: %s households, %s phones", bid, user, kept.households,
             kept.phones)
    return redirect(url_for("admin.broadcast_status", bid=bid))


@bp.get("/broadcast/<bid>")
@login_required
def broadcast_status(bid: str) -> Any:
    services = _services()
    draft = broadcasts.load(services.redis, bid)
    if draft is None or not draft.confirmed_by:
        abort(404)
    job_status = ""
    try:
        job = Job.fetch(draft.job or broadcasts.job_id(bid), connection=services.redis)
        status = job.get_status()
        job_status = JOB_STATES.get(status.value if status else "", "")
    except NoSuchJobError:
        pass
    return render("broadcast_result.html", b=draft, again=bool(request.args.get("again")),
                  job_status=job_status)

