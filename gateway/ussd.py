"""POST /ussd and POST /ussd/events: the Africa's Talking USSD protocol."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextlib import nullcontext
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import redis
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import DBAPIError

from core.logs import REQUEST_ID
from core.privacy import mask_phone, phone_key, text_digest
from core.redis_batch import Batch
from dialogs import Context, Reply, feed, start
from dialogs.effects import Effect
from dialogs.screens import SCREENS
from dialogs.state import SessionState
from dialogs.texts import Catalog
from dialogs.validate import dni_key, parse_dni
from gateway.auth import CallbackGuard
from gateway.effects import apply_effects, needs_database
from gateway.facts import DbFacts
from gateway.hops import UssdHop, parse_ussd_event, parse_ussd_hop
from gateway.http import parse_or_400, plain
from gateway.metrics import count_effects, observe, request_id
from gateway.phone_changes import queue_notices
from gateway.services import Services
from gateway.sessions import StoredSession
from models.query import Channel

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("mijuntos.ussd")
bp = Blueprint("ussd", __name__)
# A first hop may carry inputs dialed with the code (*1880*1#); more than this is not a person.
MAX_INPUTS_PER_HOP = 8
# A hop's form is a few hundred bytes; the text field alone is cut at 500 characters.
MAX_BODY = 16 * 1024


class UssdEndpoint:
    """POST /ussd as a WSGI callable in front of Flask, which serves every other path.

    A hop is the service's hottest path and Flask's request machinery (its contexts, a session,
    werkzeug's form parser, before/after hooks) was a third of a hop's CPU when profiled under
    load. This does what they did for /ussd and nothing else: the callback guard, a request id
    (X-Request-Id, and on every log line), the form parsed at the edge, the metrics, one DEBUG
    line, and an answer that is always 200 with CON/END for a well-formed hop.
    """

    def __init__(self, app: WSGIApplication, services: Services, guard: CallbackGuard) -> None:
        self.app = app
        self.services = services
        self.guard = guard

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/ussd":
            return self.app(environ, start_response)
        started = time.perf_counter()
        rid = request_id(environ.get("HTTP_X_REQUEST_ID"))
        token = REQUEST_ID.set(rid)
        try:
            status, body, screen = self.handle(environ)
        except Exception:  # a caller never sees a crash, whatever broke
            log.exception("ussd request failed")
            status, body, screen = 200, "END " + self.sorry(), "failed"
        finally:
            REQUEST_ID.reset(token)
        observe("/ussd", status, started, screen, body if status == 200 else None)
        data = body.encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"),
                   ("Content-Length", str(len(data))), ("X-Request-Id", rid)]
        if status == 405:
            headers.append(("Allow", "POST"))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [data]

    def sorry(self) -> str:
        settings = self.services.settings
        return self.services.catalog.text("es", "service_down", helpline=settings.helpline)

    def handle(self, environ: WSGIEnvironment) -> tuple[int, str, str | None]:
        """(status, body, screen answered) for one request to /ussd."""
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, "method not allowed: POST a hop", None
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        refused = self.guard.refusal("/ussd", query.get("key", ""), environ.get("REMOTE_ADDR"))
        if refused:
            return 403, refused, None
        content_type = environ.get("CONTENT_TYPE", "")
        if content_type and not content_type.startswith("application/x-www-form-urlencoded"):
            log.warning("ussd hop rejected: body is not form-encoded")
            return 415, "bad request: form fields expected (application/x-www-form-urlencoded)", None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            log.warning("ussd hop rejected: body of %s bytes", environ.get("CONTENT_LENGTH"))
            return 413, f"bad request: body over {MAX_BODY} bytes", None
        body = environ["wsgi.input"].read(length).decode("utf-8", "replace")
        form: dict[str, str] = {}
        for name, value in parse_qsl(body, keep_blank_values=True):
            form.setdefault(name, value)  # the first of a repeated field, as werkzeug gives it
        hop = parse_or_400(parse_ussd_hop, form, "ussd hop", log)
        if isinstance(hop, Response):
            return hop.status_code, hop.get_data(as_text=True), None
        services = self.services
        started = time.perf_counter()
        try:
            wire, screen = answer(services, hop)
        except HopDeadline as exc:
            log.warning("ussd hop over its deadline (%s ms): %s session=%s phone=%s",
                        services.settings.hop_deadline_ms, exc, hop.session_id, mask_phone(hop.phone))
            services.db.drop_read_connection()
            return 200, "END " + self.sorry(), "deadline"
        except Exception:
            log.exception("ussd hop failed session=%s phone=%s", hop.session_id, mask_phone(hop.phone))
            services.db.drop_read_connection()  # it may be the part that broke
            return 200, "END " + self.sorry(), "failed"
        # DEBUG: a line per hop was 6 % of a hop's CPU under load (py-spy). Sessions end with an
        # INFO line (/ussd/events); hops by screen and latency are in /metrics; failures and
        # refusals are WARNING or ERROR. LOG_LEVEL=DEBUG shows every hop.
        log.debug(
            "ussd hop session=%s phone=%s screen=%s ms=%.1f",
            hop.session_id, mask_phone(hop.phone), screen, (time.perf_counter() - started) * 1000,
        )
        return 200, wire, screen


class HopDeadline(Exception):
    """The hop's deadline (HOP_DEADLINE_MS) is spent: the caller gets the polite END."""


# A statement cancelled by its timeout, a lock not granted in time (PostgreSQL's SQLSTATEs), or
# SQLite's busy timeout: a wait the hop's deadline cut short.
_TIMED_OUT = ("57014", "55P03")


def timed_out(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in _TIMED_OUT or "database is locked" in str(exc.orig)


def answer(services: Services, hop: UssdHop, channel: str = "ussd",
           catalog: Catalog | None = None) -> tuple[str, str]:
    """The reply to one hop: load the session, run the dialog, store, reply.

    `channel` names the usage records: "sim" for the browser simulator, so demos and training
    are not counted as the programme's USSD lookups. `catalog`: the simulator's, for a review
    session (a language chosen, the keys recorded); else the one TRANSLATIONS gives callers.

    The hop answers within HOP_DEADLINE_MS or raises `HopDeadline` (the polite END): its reads
    have that statement timeout, its writes wait for locks only as long as is left, and a hop
    that spent its deadline before writing writes nothing (no row, no session state).
    """
    store, settings = services.store, services.settings
    deadline = time.monotonic() + settings.hop_deadline_ms / 1000
    pkey = phone_key(settings.secret_key, hop.phone)
    inputs = hop.inputs
    # A DNI typed in this hop or the one before (then the date follows it) is read for its
    # wrong-date count in the same MGET; any other the dialog asks about is read on its own.
    dnis = tuple(dni_key(settings.secret_key, dni) for v in inputs[-2:] if (dni := parse_dni(v)))
    stored, resumable, generation, failures = store.load_hop(hop.session_id, pkey, dnis)
    if stored is not None and not stored.belongs_to(pkey):
        # The session id came from another phone (an aggregator fault, or someone replaying
        # it): nothing of that session, not even its cached reply to a resent hop, and none of
        # its inputs. This phone starts its own session under the id.
        log.warning("ussd session id reused by another phone session=%s phone=%s",
                    hop.session_id, mask_phone(hop.phone))
        stored, inputs = None, []
    digest = text_digest(settings.secret_key, hop.text)
    if stored is not None and stored.text == digest:
        return stored.reply, stored.state.screen  # a resent hop: same answer, no new state
    ctx = Context(
        phone=hop.phone,
        secret=settings.secret_key,
        helpline=settings.helpline,
        service_code=settings.service_code,
        max_dob_attempts=settings.dob_max_attempts,
        lock_minutes=settings.dob_lock_seconds // 60,
        today=settings.local_today(),
        data_max_age_days=settings.data_max_age_days,
        channel=channel,
        phone_grace_hours=settings.phone_change_grace_hours,
        gestor_cap=settings.gestor_daily_cap,
    )
    try:
        reply, effects = converse(services, ctx, stored, resumable, inputs, catalog, generation,
                                  failures)
    except DBAPIError as exc:
        if timed_out(exc):
            raise HopDeadline("a read waited past the deadline") from exc
        if not exc.connection_invalidated:
            raise
        # The read connection died (a database restart, a failover): no row and no session state
        # is written before the dialog ends, so the hop is read again once on a fresh connection
        # (a new DNI may be counted twice in the phone's daily window: erring on the safe side).
        log.warning("ussd hop: database connection lost, reading again session=%s", hop.session_id)
        services.db.drop_read_connection()
        reply, effects = converse(services, ctx, stored, resumable, inputs, catalog, generation,
                                  failures)
    # One Redis command carries the session, the counters and the usage records (core/redis_batch.py).
    # Only a hop that changes a household (language, reminders, phone of record) opens a
    # transaction, and it commits before Redis is told: a hop whose rows failed leaves no trace.
    pipe = Batch(store.line)
    left_ms = int((deadline - time.monotonic()) * 1000)
    if left_ms <= 0:
        raise HopDeadline("spent before writing")
    writes = services.db.bounded_session(left_ms) if needs_database(effects) else nullcontext(None)
    try:
        with writes as session:
            notices = apply_effects(effects, session, store, pipe, channel, services.guard,
                                    stage_usage=True)
    except DBAPIError as exc:
        if timed_out(exc):
            raise HopDeadline("a write waited past the deadline") from exc
        raise
    stored_now = StoredSession(reply.state, digest, reply.wire, len(hop.inputs), pkey)
    store.save(hop.session_id, stored_now, pipe)
    if SCREENS[reply.state.screen].resumable and reply.state.gestor is None:
        store.keep_for_resume(pkey, reply.state, pipe, session_id=hop.session_id)
    elif reply.state.screen != "resume":
        store.forget_resume(pkey, pipe)
    pipe.execute()
    queue_notices(services, notices)  # committed above: a phone that loses a household is told
    count_effects(effects, channel)
    return reply.wire, reply.state.screen


def converse(
    services: Services,
    ctx: Context,
    stored: StoredSession | None,
    resumable: SessionState | None,
    inputs: list[str],
    catalog: Catalog | None = None,
    generation: bytes | None = None,
    failures: dict[str, int] | None = None,
) -> tuple[Reply, list[Effect]]:
    """The dialog's reply to a hop's new inputs, and the effects to carry out (nothing written).
    `generation`: the data generation the hop read, under which the process's copy of imported
    facts may be used (gateway/facts.py: ImportedFacts); `failures`: wrong-date counts the hop
    read already, by DNI key."""
    effects: list[Effect] = []
    facts = DbFacts(services.db.read_connection, services.store, services.guard,
                    imported=(services.imported, generation), failures=failures)
    # The simulator is where reviewers and trainers see the draft translations, whatever
    # TRANSLATIONS says for callers (docs/TRANSLATIONS.md).
    if catalog is None:
        catalog = services.draft_catalog if ctx.channel == Channel.SIMULATOR else services.catalog
    if stored is None:
        saved = resumable if not inputs else None
        reply = start(ctx, facts, catalog, saved, offers=not inputs)
        pending = inputs
    else:
        reply = Reply(False, stored.reply, stored.state)
        known = stored.inputs
        seen = text_digest(ctx.secret, "*".join(inputs[:known]))
        fresh = len(inputs) > known and seen == stored.text
        pending = inputs[known:] if fresh else inputs[-1:]
    if len(pending) > MAX_INPUTS_PER_HOP:
        pending = pending[-1:]  # a flood of `*`: only the newest input matters
    effects.extend(reply.effects)
    for value in pending:
        if reply.end:
            break
        reply = feed(reply.state, value, ctx, facts, catalog)
        effects.extend(reply.effects)
    return reply, effects


@bp.post("/ussd/events")
def ussd_event() -> Response:
    """End-of-session notification: logged for operations.

    `Success` is a session that ended as meant (mijuntos dial reports a scripted run so): its
    phone is not offered to resume it. `Incomplete` and `Failed` (a call dropped, timed out or
    failed) keep the resume offer: that is what it is for.
    """
    event = parse_or_400(parse_ussd_event, request.form, "ussd event", log)
    if isinstance(event, Response):
        return event
    resumable = "kept"
    if event.status == "Success":
        services: Services = current_app.extensions["mijuntos"]
        pkey = phone_key(services.settings.secret_key, event.phone) if event.phone else None
        try:
            ended = services.store.ended_on_purpose(event.session_id, pkey)
            resumable = "forgotten" if ended else "none"
        except redis.RedisError:  # a notification only: the offer then lapses with its TTL
            resumable = "unknown (Redis unavailable)"
    log.info(
        "ussd session ended session=%s phone=%s status=%s hops=%s ms=%s resume=%s error=%s",
        event.session_id, mask_phone(event.phone), event.status, event.hops, event.duration_ms,
        resumable, event.error[:80],
    )
    return plain("OK")
