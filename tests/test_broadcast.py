"""Broadcasts: preview, a single-use confirmation, rows made by an rq job, texts checked on the server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from mijuntos_dev.fake_at import FakeAT
from rq import Queue, Worker
from sqlalchemy import select

from core.settings import Settings
from models import Database, Household, OptOut, OutboxMessage
from tests.admin_support import csrf_of, log_in
from tests.support import ROSA_PHONE, SHARED_PHONE
from workers import broadcast
from workers.context import WorkerContext, configure
from workers.dispatch import Dispatcher

TEXT = "Mi Juntos: el punto de pago P002 cierra por huaico. Nueva fecha por SMS."


@pytest.fixture
def staff(app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    return log_in(app, seeded, monkeypatch)


@pytest.fixture
def worker_ctx(settings: Settings, seeded: Database, redis_url: str) -> Iterator[WorkerContext]:
    ctx = configure(settings, redis_url)
    yield ctx
    ctx.db.dispose()


def run_worker(redis: redis_lib.Redis) -> None:
    Worker([Queue("sms", connection=redis)], connection=redis).work(burst=True)


def outbox(db: Database) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def preview(staff: FlaskClient, **form: object) -> tuple[dict[str, object], str]:
    data: dict[str, object] = {"csrf": csrf_of(staff, "/admin/broadcast"), "action": "preview", **form}
    return data, staff.post("/admin/broadcast", data=data).get_data(as_text=True)


def broadcast_id(page: str) -> str:
    found = re.search(r'name="broadcast" value="([^"]+)"', page)
    assert found, page
    return found[1]


def test_a_preview_is_confirmed_once_and_the_rows_are_made_by_a_job(
        staff: FlaskClient, seeded: Database, redis: redis_lib.Redis, worker_ctx: WorkerContext) -> None:
    with seeded.session() as s:
        s.add(OptOut(phone=SHARED_PHONE, source="aggregator"))
    form, page = preview(staff, ut=["PIURA", "PUNO"], text=TEXT)
    assert "Destinatarios: <strong>1</strong> celulares" in page  # Rosa; the shared phone opted out
    assert "GSM7, 1 parte(s)" in page
    bid = broadcast_id(page)
    assert outbox(seeded) == []  # a preview sends nothing
    confirm = {**form, "action": "confirm", "broadcast": bid}
    changed = staff.post("/admin/broadcast", data={**confirm, "text": TEXT + " Gracias."})
    assert "El aviso cambio" in changed.get_data(as_text=True)

    done = staff.post("/admin/broadcast", data=confirm)
    assert done.status_code == 302 and done.headers["Location"] == f"/admin/broadcast/{bid}"  # PRG
    assert outbox(seeded) == []  # not in the request: a job makes the rows
    queue = Queue("sms", connection=redis)
    assert queue.job_ids == [f"broadcast-{bid}"]
    assert "En cola" in staff.get(done.headers["Location"]).get_data(as_text=True)

    again = staff.post("/admin/broadcast", data=confirm)  # a double click, F5, the back button
    assert again.status_code == 302
    repeated = staff.get(again.headers["Location"]).get_data(as_text=True)
    assert "Este aviso ya fue enviado" in repeated
    assert queue.job_ids == [f"broadcast-{bid}"]  # nothing more queued

    run_worker(redis)
    [row] = outbox(seeded)
    assert (row.recipient, row.kind, row.purpose, row.status, row.dedupe_key) == (
        ROSA_PHONE, "broadcast", "broadcast", "pending", f"broadcast:{bid}:H00000001")
    status = staff.get(f"/admin/broadcast/{bid}").get_data(as_text=True)
    assert "Listo: 1 mensajes en cola" in status and "salen 1 SMS a 1 celulares" in status
    staff.post("/admin/broadcast", data=confirm)
    run_worker(redis)
    assert len(outbox(seeded)) == 1  # the second confirm created nothing
    assert staff.post("/admin/broadcast", data={**form, "csrf": "forged"}).status_code == 400


def test_a_confirm_needs_a_live_preview(staff: FlaskClient, seeded: Database, redis: redis_lib.Redis) -> None:
    form, page = preview(staff, ut=["PIURA"], text=TEXT)
    bid = broadcast_id(page)
    forged = staff.post("/admin/broadcast", data={**form, "action": "confirm", "broadcast": "0" * 16})
    assert "La vista previa vencio" in forged.get_data(as_text=True)
    redis.delete(f"mijuntos:broadcast:{bid}")  # the hour passed
    late = staff.post("/admin/broadcast", data={**form, "action": "confirm", "broadcast": bid})
    assert "La vista previa vencio" in late.get_data(as_text=True)
    assert Queue("sms", connection=redis).job_ids == [] and outbox(seeded) == []
    assert staff.get("/admin/broadcast/" + "0" * 16).status_code == 404


def add_households(db: Database, n: int, phones: int) -> None:
    """`n` PIURA households on `phones` phones: household i shares with i + phones, far in id order."""
    import datetime as dt

    with db.session() as s:
        for i in range(n):
            phone = f"+519400{i % phones:05d}"
            s.add(Household(hogar_id=f"H9{i:07d}", dni=f"7{i:07d}", nombres="X", apellidos="Y",
                            fecha_nacimiento=dt.date(1990, 1, 1), phone=phone, idioma="es",
                            ubigeo="200101", unidad_territorial="PIURA", estado="afiliado",
                            reminders_enabled=True))


def test_the_job_is_safe_to_run_again_after_a_crash(staff: FlaskClient, seeded: Database,
                                                    redis: redis_lib.Redis, worker_ctx: WorkerContext,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    add_households(seeded, 20, phones=15)
    form, page = preview(staff, ut=["PIURA"], text=TEXT)
    assert "<strong>16</strong> celulares\nde <strong>21</strong> hogares" in page
    bid = broadcast_id(page)
    confirmed = staff.post("/admin/broadcast", data={**form, "action": "confirm", "broadcast": bid})
    assert confirmed.status_code == 302
    monkeypatch.setattr(broadcast, "PAGE", 4)
    pages = 0

    def dies_after_two_pages(done: broadcast.Progress) -> None:
        nonlocal pages
        pages += 1
        if pages == 2:
            raise ConnectionError("the worker died")

    draft = broadcast.load(redis, bid)
    assert draft is not None
    with pytest.raises(ConnectionError):
        broadcast.create_rows(seeded, draft, on_page=dies_after_two_pages)
    made = len(outbox(seeded))
    assert 0 < made < 21
    assert broadcast.create_broadcast(bid).endswith("21 households, 16 phones")  # the retry
    rows = outbox(seeded)
    assert len(rows) == 21 and len({r.hogar_id for r in rows}) == 21
    broadcast.create_broadcast(bid)  # and once more: nothing new
    assert [r.id for r in outbox(seeded)] == [r.id for r in rows]
    assert "salen 16 SMS a 16 celulares" in staff.get(f"/admin/broadcast/{bid}").get_data(
        as_text=True)
    # A phone shared by households: its rows are neighbours, so one claim sends it one SMS.
    by_phone: dict[str, list[int]] = {}
    for r in rows:
        by_phone.setdefault(r.recipient, []).append(r.id)
    assert all(max(ids) - min(ids) == len(ids) - 1 for ids in by_phone.values())


def test_a_big_broadcast_is_made_by_a_chain_of_short_jobs(
        staff: FlaskClient, seeded: Database, redis: redis_lib.Redis, worker_ctx: WorkerContext,
        monkeypatch: pytest.MonkeyPatch) -> None:
    add_households(seeded, 20, phones=15)
    monkeypatch.setattr(broadcast, "PAGE", 4)
    monkeypatch.setattr(broadcast, "PAGES_PER_JOB", 2)  # 8 rows a job, so 3 jobs and a last empty one
    form, page = preview(staff, ut=["PIURA"], text=TEXT)
    bid = broadcast_id(page)
    staff.post("/admin/broadcast", data={**form, "action": "confirm", "broadcast": bid})
    queue = Queue("sms", connection=redis)
    [first] = queue.jobs
    queue.remove(first)
    first.perform()  # one job, as a worker would: a part of the rows, then the next job queued
    made = len(outbox(seeded))
    # two households on each of the first four phones; the next job goes on after the fourth
    assert made == 8 and [j.args[1:] for j in queue.jobs] == [(8, 4, "+51940000003")]
    assert f"Creando los mensajes: {made} de 21 hogares" in staff.get(f"/admin/broadcast/{bid}").get_data(
        as_text=True)
    run_worker(redis)
    rows = outbox(seeded)
    assert len(rows) == 21 and len({r.dedupe_key for r in rows}) == 21
    assert "Listo: 21 mensajes en cola" in staff.get(f"/admin/broadcast/{bid}").get_data(as_text=True)


def test_a_phone_shared_by_households_is_counted_and_sent_once(
        staff: FlaskClient, seeded: Database, redis: redis_lib.Redis, settings: Settings,
        redis_url: str) -> None:
    form, page = preview(staff, ut=["PUNO"], text=TEXT)  # Carmen and Luz share a phone; Juana has none
    assert "Destinatarios: <strong>1</strong> celulares\nde <strong>2</strong> hogares" in page
    assert "· 1 SMS en total" in page
    bid = broadcast_id(page)
    staff.post("/admin/broadcast", data={**form, "action": "confirm", "broadcast": bid})
    with FakeAT.running(dlr_delay=0.01) as fake:
        ctx = configure(settings.with_(at_base_url=fake.root_url, at_api_key="k",
                                       send_window=("00:00", "24:00")), redis_url)
        run_worker(redis)
        assert len(outbox(seeded)) == 2  # one row per household
        report = Dispatcher(ctx).run(budget_seconds=10)
        ctx.db.dispose()
        assert report.api_calls == 1
        assert [[n["number"] for n in m["recipients"]] for m in fake.messages] == [[SHARED_PHONE]]
    assert {r.status for r in outbox(seeded)} == {"submitted"}


@pytest.mark.parametrize(("text", "says"), [
    ("Atención: el operativo se suspende 😀", '"ó", "😀"'),
    ("Mi Juntos: " + "aviso importante " * 120, "ocuparia 14 partes"),
    ("Mi Juntos: su DNI 01234567 ya figura en el padron", '"01234567"'),
    ("Mi Juntos: llame al 987 654 321 para mas datos", '"987 654 321"'),
    ("Mi Juntos: cobre S/ 200 en la agencia", '"S/ 200"'),
    ("Mi Juntos: cobre sus 200 soles manana", '"200 soles"'),
    ("Mi Juntos: Hola Rosa, venga manana", '"Hola Rosa"'),
    ("Mi Juntos: falta el control CRED de su nino", '"CRED"'),
    ("Mi Juntos: su hogar esta suspendido", '"suspendido"'),
])
def test_the_server_refuses_unsafe_texts(staff: FlaskClient, seeded: Database, redis: redis_lib.Redis,
                                         text: str, says: str) -> None:
    form, page = preview(staff, ut=["PIURA"], text=text)
    assert 'id="problems"' in page and says in page.replace("&#34;", '"'), page
    assert 'id="preview"' not in page and 'name="broadcast"' not in page
    confirm = staff.post("/admin/broadcast", data={**form, "action": "confirm", "broadcast": "0" * 16})
    assert 'id="problems"' in confirm.get_data(as_text=True)  # a forged confirm is checked too
    assert Queue("sms", connection=redis).job_ids == [] and outbox(seeded) == []


def test_a_text_outside_gsm7_is_offered_in_gsm7(staff: FlaskClient, seeded: Database) -> None:
    form, page = preview(staff, ut=["PIURA"], text="Atención: el operativo de mañana se suspende 😀")
    assert "Version sin tildes ni emojis: <q>Atencion: el operativo de mañana se suspende</q>" in page
    taken = staff.post("/admin/broadcast", data={**form, "action": "gsm"}).get_data(as_text=True)
    assert 'id="preview"' in taken and "GSM7, 1 parte(s)" in taken
    assert "Ejemplo: Atencion: el operativo de mañana se suspende</p>" in taken
