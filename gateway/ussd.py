"""POST /ussd and POST /ussd/events: the Africa's Talking USSD protocol."""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext

from flask import Blueprint, Response, current_app, g, request

from dialogs import Context, Reply, feed, start
from dialogs.effects import Effect
from dialogs.screens import SCREENS
from gateway.effects import apply_effects, needs_database
from gateway.facts import DbFacts, LazyReader
from gateway.hops import UssdHop, parse_ussd_event, parse_ussd_hop
from gateway.http import parse_or_400, plain
from gateway.privacy import mask_phone, phone_key, text_digest
from gateway.services import Services
from gateway.sessions import StoredSession

log = logging.getLogger("mijuntos.ussd")
bp = Blueprint("ussd", __name__)
# A first hop may carry inputs dialed with the code (*1880*1#); more than this is not a person.
MAX_INPUTS_PER_HOP = 8


@bp.post("/ussd")
def ussd() -> Response:
    """One hop of a USSD session; always 200 with CON/END for a well-formed hop."""
    hop = parse_or_400(parse_ussd_hop, request.form, "ussd hop", log)
    if isinstance(hop, Response):
        return hop
    services: Services = current_app.extensions["mijuntos"]
    started = time.perf_counter()
    try:
        wire, screen = answer(services, hop)
        g.screen = screen  # for the hops-by-screen metric
    except Exception:
        log.exception("ussd hop failed session=%s phone=%s", hop.session_id, mask_phone(hop.phone))
        sorry = services.catalog.text("es", "service_down", helpline=services.settings.helpline)
        return plain("END " + sorry)
    log.info(
        "ussd hop session=%s phone=%s screen=%s ms=%.1f",
        hop.session_id, mask_phone(hop.phone), screen, (time.perf_counter() - started) * 1000,
    )
    return plain(wire)


def answer(services: Services, hop: UssdHop) -> tuple[str, str]:
    """The reply to one hop: load the session, run the dialog, store, reply."""
    store, settings = services.store, services.settings
    pkey = phone_key(settings.secret_key, hop.phone)
    stored, resumable = store.load_hop(hop.session_id, pkey)
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
    )
    inputs = hop.inputs
    effects: list[Effect] = []
    reader = LazyReader(services.db.read_engine)
    try:
        facts = DbFacts(reader, store, services.guard)
        if stored is None:
            saved = resumable if not inputs else None
            reply = start(ctx, facts, services.catalog, saved)
            pending = inputs
        else:
            reply = Reply(False, stored.reply, stored.state)
            known = stored.inputs
            seen = text_digest(settings.secret_key, "*".join(inputs[:known]))
            fresh = len(inputs) > known and seen == stored.text
            pending = inputs[known:] if fresh else inputs[-1:]
        if len(pending) > MAX_INPUTS_PER_HOP:
            pending = pending[-1:]  # a flood of `*`: only the newest input matters
        effects.extend(reply.effects)
        for value in pending:
            if reply.end:
                break
            reply = feed(reply.state, value, ctx, facts, services.catalog)
            effects.extend(reply.effects)
    finally:
        reader.close()
    # One Redis pipeline carries the session, the counters and the usage records. Only a hop
    # that changes a household (language, reminders, phone of record) opens a transaction, and
    # it commits before Redis is told: a hop whose rows failed leaves no session trace.
    pipe = store.client.pipeline(transaction=True)
    writes = services.db.session() if needs_database(effects) else nullcontext(None)
    with writes as session:
        apply_effects(effects, session, store, pipe, "ussd", services.guard, stage_usage=True)
    store.save(hop.session_id, StoredSession(reply.state, digest, reply.wire, len(inputs)), pipe)
    if SCREENS[reply.state.screen].resumable:
        store.keep_for_resume(pkey, reply.state, pipe)
    elif reply.state.screen != "resume":
        store.forget_resume(pkey, pipe)
    pipe.execute()
    return reply.wire, reply.state.screen


@bp.post("/ussd/events")
def ussd_event() -> Response:
    """End-of-session notification: logged for operations, nothing to answer."""
    event = parse_or_400(parse_ussd_event, request.form, "ussd event", log)
    if isinstance(event, Response):
        return event
    log.info(
        "ussd session ended session=%s phone=%s status=%s hops=%s ms=%s error=%s",
        event.session_id, mask_phone(event.phone), event.status, event.hops, event.duration_ms,
        event.error[:80],
    )
    return plain("OK")
