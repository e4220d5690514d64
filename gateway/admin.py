"""/admin: the programme staff's dashboard and broadcasts, behind a login."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, generate_csrf
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select
from werkzeug.security import check_password_hash

from core.catalogs import LOCALES_DIR, completeness
from core.keys import key_for
from dialogs.gsm import is_gsm7
from gateway import broadcast_text
from gateway.charts import bars
from gateway.login_guard import LoginGuard
from gateway.services import Services
from models import AdminUser, Household, schedule_freshness
from models.funnel import LABELS as STAGE_NAMES
from models.funnel import STAGE_KEYS, sums
from models.operators import operator_label
from models.query import CHANNEL_NAMES
from models.reports import DEFAULT_DAYS, default_start, usage_report
from models.wave import periods
from workers import api as broadcasts
from workers.api import drain_before_counting

bp = Blueprint("admin", __name__, url_prefix="/admin")
log = logging.getLogger("mijuntos.admin")
# Staff-facing messages (the staff pages are in Spanish, like the programme's own tools).
ERRORS = {
    "stale": "El formulario vencio; intente de nuevo.",
    "stale_page": "La pagina vencio: recarguela e intente de nuevo.",
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
# The dashboard names each caller channel by models/query.py CHANNEL_NAMES; the stages'
# names are models/funnel.py's LABELS, one for each of the report's stage names.
JOB_STATES = {"queued": "en cola", "started": "en curso", "finished": "terminada",
              "failed": "fallo (sin mas reintentos)", "scheduled": "esperando un reintento",
              "deferred": "en espera", "stopped": "detenida", "canceled": "cancelada"}
KIND_NAMES = {"reminder": "recordatorios", "notice": "avisos sin pago", "change": "avisos de cambio"}


# A working day: a login in the morning lasts until the evening, however busy the day, and the
# next day starts with a login (app.py sets Flask's PERMANENT_SESSION_LIFETIME from it).
SESSION_LIFETIME = dt.timedelta(hours=10)


def csrf_token() -> str:
    """The token a page's forms and scripts send back (Flask-WTF's CSRFProtect checks every POST)."""
    return generate_csrf()  # type: ignore[no-any-return]


def _session_key(sid: str) -> str:
    return key_for("staff-session", sid)


def _start_session(name: str) -> None:
    """Log `name` in: a fresh cookie whose id Redis keeps for the session's lifetime only."""
    sid, before = secrets.token_urlsafe(18), session.get("sid")
    lifetime = current_app.permanent_session_lifetime
    client = _services().redis
    client.set(_session_key(sid), name, ex=max(int(lifetime.total_seconds()), 1))
    if isinstance(before, str):  # a login over a login: the session it replaces ends
        client.delete(_session_key(before))
    session.clear()
    session.permanent = True
    session.update(user=name, sid=sid, at=int(time.time()))
    g.staff = name


def _end_session() -> None:
    """Log out for good: the session's id leaves Redis, so a copy of the cookie is worth nothing."""
    sid = session.get("sid")
    session.clear()
    g.staff = None
    if isinstance(sid, str):
        try:
            _services().redis.delete(_session_key(sid))
        except RedisError:  # rare: the request itself was let in by a Redis lookup
            log.exception("logout: the session's id could not be removed; it lapses with its lifetime")


@bp.app_template_global()
def staff_user() -> str | None:
    """The staff member logged in on this request, or None.

    A signed cookie is not enough: its session must still be in Redis (logout removes it) and
    younger than the lifetime, counted from the login, not from the last page seen.
    """
    if "staff" in g:
        return g.staff  # type: ignore[no-any-return]
    name, sid, since = session.get("user"), session.get("sid"), session.get("at")
    user = None
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if (isinstance(name, str) and isinstance(sid, str) and isinstance(since, int)
            and time.time() - since < lifetime):
        try:
            kept = _services().redis.get(_session_key(sid))
        except RedisError:
            log.warning("staff session not checked: Redis did not answer")
            kept = None
        user = name if kept is not None and kept.decode() == name else None  # type: ignore[union-attr]
    if user is None and name is not None:  # logged out, expired or forged: the browser drops it too
        for key in ("user", "sid", "at"):  # not the CSRF token, which a page may be using already
            session.pop(key, None)
    g.staff = user
    return user


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not staff_user():
            back = request.full_path if request.method == "GET" and request.query_string else request.path
            return redirect(url_for("admin.login", next=back))
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


@bp.errorhandler(CSRFError)
def stale_form(exc: CSRFError) -> Any:
    """A staff POST without this session's token (a forged form, or a page from before a logout)."""
    log.warning("staff form refused on %s: %s", request.path, exc.description)
    if request.endpoint == "admin.login":
        return render("login.html", error=ERRORS["stale"]), 400
    back = url_for("admin.dashboard") if request.endpoint == "admin.logout" else request.path
    return render("stale.html", error=ERRORS["stale"], back=back), 400


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status = None, 200
    if request.method == "POST":  # CSRFProtect has checked the form's token
        name, address = request.form.get("username", ""), request.remote_addr or "-"
        try:
            error, status = _try_login(name, request.form.get("password", ""), address)
            if error is None:
                _start_session(name)
        except Exception:  # Redis down: no throttle, so no login (a staff login can reach every phone)
            log.exception("login refused: the failed-login counter or the session store is unavailable")
            error, status = ERRORS["unavailable"], 503
        if error is None:
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
    _end_session()
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
    services = _services()
    today = services.settings.local_today()  # the Lima day, or the one pinned in the settings
    end = _day("to", today)
    start = _day("from", default_start(end))
    # The last minute's lookups too; a backlog beyond two batches (a stopped scheduler) is left
    # to the scheduler's job, so the page stays quick.
    drain_before_counting(services.db, services.redis, max_batches=2)
    with services.db.session() as s:
        known = periods(s)
        asked = request.args.get("periodo", "")
        r = usage_report(s, start, end, asked if asked in known else None)
        fresh = schedule_freshness(s, today, services.settings.data_max_age_days)
    texts = completeness(services.settings.locales_dir or LOCALES_DIR)
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
                  default_days=DEFAULT_DAYS, texts=texts, translations=services.settings.translations,
                  chosen=bool(request.args.get("from") or request.args.get("to")))


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
    draft.user = staff_user() or ""
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
    user = staff_user() or ""
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


FINAL_JOB_STATES = frozenset({"failed", "stopped", "canceled"})  # rq gives up: nothing more will happen


def _progress(bid: str) -> dict[str, Any]:
    """A confirmed broadcast, its job's state, and whether the page may stop following it."""
    services = _services()
    draft = broadcasts.load(services.redis, bid)
    if draft is None or not draft.confirmed_by:
        abort(404)
    job_state = ""
    try:
        job = Job.fetch(draft.job or broadcasts.job_id(bid), connection=services.redis)
        status = job.get_status()
        job_state = status.value if status else ""
    except NoSuchJobError:
        pass
    # Done, or given up: a failed try whose retry is scheduled is still on its way.
    final = draft.state == "done" or job_state in FINAL_JOB_STATES or (
        draft.state == "failed" and not job_state)
    return {"b": draft, "job_status": JOB_STATES.get(job_state, ""), "final": final}


@bp.get("/broadcast/<bid>")
@login_required
def broadcast_status(bid: str) -> Any:
    return render("broadcast_result.html", again=bool(request.args.get("again")), **_progress(bid))


@bp.get("/broadcast/<bid>/progreso")
@login_required
def broadcast_progress(bid: str) -> Any:
    """The status page's changing part, which its script fetches until `final`."""
    progress = _progress(bid)
    return {"state": progress["b"].state, "final": progress["final"],
            "html": render_template("broadcast_progress.html", **progress)}
