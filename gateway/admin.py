"""/admin: the programme staff's dashboard and broadcasts, behind a login."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from dialogs.gsm import sms_parts
from gateway.charts import bars
from gateway.services import Services
from models import AdminUser, Household, OptOut, OutboxMessage, Settlement
from models.base import utcnow
from models.reports import FUNNEL, usage_report
from workers.usage import drain_before_counting

bp = Blueprint("admin", __name__, url_prefix="/admin")
# Staff-facing messages (the staff pages are in Spanish, like the programme's own tools).
ERRORS = {
    "stale": "El formulario vencio; intente de nuevo.",
    "login": "Usuario o clave incorrectos.",
    "audience": "Elija al menos una UT, un punto de pago o un periodo.",
    "text": "Escriba el mensaje.",
    "changed": "El aviso cambio desde la vista previa: revise y confirme de nuevo.",
}
LIMA = dt.timezone(dt.timedelta(hours=-5))
STAGES = {"planned": "planificados", "sent": "enviados", "delivered": "entregados",
          "failed": "fallidos", "opted_out": "dados de baja"}


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
            return redirect(url_for("admin.login", next=request.path))
        if request.method == "POST" and not _check_csrf():
            return Response("forbidden: stale form, reload the page", 403, mimetype="text/plain")
        return view(*args, **kwargs)

    return wrapped


def _services() -> Services:
    return current_app.extensions["mijuntos"]  # type: ignore[no-any-return]


def render(template: str, **context: Any) -> str:
    return render_template(template, csrf=csrf_token(), **context)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        if not _check_csrf():
            error = ERRORS["stale"]
        else:
            with _services().db.session() as s:
                name = request.form.get("username", "")
                user = s.scalar(select(AdminUser).where(AdminUser.username == name))
                ok = user is not None and check_password_hash(user.password_hash,
                                                              request.form.get("password", ""))
            if ok:
                session.clear()
                session["user"] = request.form["username"]
                target = request.args.get("next", "")
                return redirect(target if target.startswith("/admin") else url_for("admin.dashboard"))
            error = ERRORS["login"]
    return render("login.html", error=error)


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


@bp.get("/")
@login_required
def dashboard() -> Any:
    today = dt.datetime.now(LIMA).date()
    start, end = _day("from", today - dt.timedelta(days=13)), _day("to", today)
    services = _services()
    # The last minute's lookups too; a backlog beyond two batches (a stopped scheduler) is left
    # to the scheduler's job, so the page stays quick.
    drain_before_counting(services.db, services.redis, max_batches=2)
    with services.db.session() as s:
        r = usage_report(s, start, end)
    per_day = bars("Consultas por dia y canal", [
        (day, [c.get("ussd", 0), c.get("sms", 0)]) for day, c in sorted(r.per_day.items())
    ], ["USSD", "SMS"])
    by_ut = bars("Consultas por Unidad Territorial", [
        (ut, [r.by_ut[ut].get("ussd", 0), r.by_ut[ut].get("sms", 0)]) for ut, _ in r.top_uts
    ], ["USSD", "SMS"])
    totals = r.funnel_total
    funnel = bars("Recordatorios y avisos", [(STAGES[stage], [totals[stage]]) for stage in FUNNEL],
                  ["mensajes"])
    operators = bars("Entrega por operador (networkCode)", [
        (network, [ok, bad]) for network, (ok, bad) in sorted(r.delivery_by_network.items())
    ], ["entregados", "fallidos"])
    return render("dashboard.html", r=r, per_day=per_day, by_ut=by_ut, funnel=funnel,
                  operators=operators)


def _filters() -> dict[str, Any]:
    points = [p.strip() for p in request.form.get("points", "").split(",") if p.strip()]
    return {"uts": sorted(request.form.getlist("ut")), "points": points,
            "periodo": request.form.get("periodo", "").strip(), "text": request.form.get("text", "").strip()}


def _audience(f: dict[str, Any]) -> tuple[Any, Any]:
    """(households who get it, households left out: opted out or reminders off)."""
    where: list[Any] = [Household.phone.is_not(None)]
    if f["uts"]:
        where.append(Household.unidad_territorial.in_(f["uts"]))
    if f["points"] or f["periodo"]:
        cond = [Settlement.hogar_id == Household.hogar_id]
        if f["points"]:
            cond.append(Settlement.punto_id.in_(f["points"]))
        if f["periodo"]:
            cond.append(Settlement.periodo == f["periodo"])
        where.append(exists().where(and_(*cond)))
    opted = exists().where(OptOut.phone == Household.phone)
    return and_(*where, Household.reminders_enabled.is_(True), ~opted), and_(
        *where, (Household.reminders_enabled.is_(False)) | opted)


def _token(f: dict[str, Any]) -> str:
    raw = json.dumps(f, sort_keys=True).encode()
    return hmac.new(_services().settings.secret_key.encode(), raw, hashlib.sha256).hexdigest()[:32]


@bp.route("/broadcast", methods=["GET", "POST"])
@login_required
def broadcast() -> Any:
    services = _services()
    with services.db.session() as s:
        ut = Household.unidad_territorial
        uts = list(s.scalars(select(ut).distinct().order_by(ut)))
        periods = list(s.scalars(select(Settlement.periodo).distinct().order_by(Settlement.periodo.desc())))
    f: dict[str, Any] = {"uts": [], "points": "", "periodo": "", "text": ""}
    context: dict[str, Any] = {"uts": uts, "periods": periods, "f": f}
    if request.method == "GET":
        return render("broadcast.html", **context)
    f = _filters()
    context["f"] = {**f, "points": ", ".join(f["points"])}
    if not (f["uts"] or f["points"] or f["periodo"]):
        return render("broadcast.html", error=ERRORS["audience"], **context)
    if not f["text"]:
        return render("broadcast.html", error=ERRORS["text"], **context)
    included, excluded = _audience(f)
    if request.form.get("action") == "confirm":
        if not hmac.compare_digest(request.form.get("token", "").encode(), _token(f).encode()):
            return render("broadcast.html", error=ERRORS["changed"], **context)
        with services.db.session() as s:
            created = _create(s, included, f["text"], f["periodo"] or None)
        return render("broadcast.html", done=created, **context)
    with services.db.session() as s:
        recipients = s.scalar(select(func.count()).select_from(Household).where(included)) or 0
        left_out = s.scalar(select(func.count()).select_from(Household).where(excluded)) or 0
    encoding, segments = sms_parts(f["text"])
    context["preview"] = {"recipients": recipients, "excluded": left_out, "encoding": encoding.upper(),
                          "segments": segments, "token": _token(f)}
    return render("broadcast.html", **context)


def _create(s: Session, included: Any, text: str, periodo: str | None) -> int:
    """Outbox rows for the broadcast, sent by the dispatcher like reminders."""
    bid = uuid.uuid4().hex[:12]
    encoding, segments = sms_parts(text)
    now = utcnow()
    last, total = "", 0
    while True:
        rows = s.execute(
            select(Household.hogar_id, Household.phone, Household.unidad_territorial)
            .where(included, Household.hogar_id > last).order_by(Household.hogar_id).limit(5000)
        ).all()
        if not rows:
            return total
        s.execute(OutboxMessage.__table__.insert(), [  # type: ignore[attr-defined]
            {"recipient": r.phone, "text": text, "encoding": encoding, "segments": segments,
             "purpose": "broadcast", "kind": "broadcast", "status": "pending", "periodo": periodo,
             "dedupe_key": f"broadcast:{bid}:{r.hogar_id}", "hogar_id": r.hogar_id,
             "unidad_territorial": r.unidad_territorial, "subject": bid, "send_after": now,
             "attempts": 0, "dup_risk": False, "created_at": now, "updated_at": now}
            for r in rows
        ])
        total += len(rows)
        last = rows[-1].hogar_id
