"""The web process's copy of imported facts (gateway/facts.py: ImportedFacts): used only under the
data generation it was read under, dropped when an import says it wrote rows, never older than
FACTS_MAX_AGE, bounded; and the importer's CLI says so after every committed batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis as redis_lib
from click.testing import CliRunner
from flask import Flask
from mijuntos_dev.demo_data import write_demo_data
from sqlalchemy import update

from core.connections import announce_data_change
from core.keys import DATA_GENERATION
from core.settings import Settings
from gateway.facts import ImportedFacts
from mijuntos.cli import main as cli
from mijuntos.importer import import_dir
from models import Database, Settlement
from tests.support import ROSA_PHONE, TEST_TODAY, Phone


def demo(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    write_demo_data(data, 120, today=TEST_TODAY)
    return data


def test_a_copy_is_used_under_its_generation_only() -> None:
    copies = ImportedFacts()
    copies.keep(None, "a", 1)
    assert copies.get(None, "a") == 1
    assert copies.get(b"g1", "a") is None  # another generation: everything kept is dropped
    assert len(copies) == 0
    copies.keep(b"g1", "a", 2)
    copies.keep(b"g0", "b", 3)  # read under a generation that is no longer the one kept
    assert copies.get(b"g1", "a") == 2 and copies.get(b"g1", "b") is None
    assert copies.get(None, "a") is None  # the key lost (a flushed Redis): dropped too


def test_copies_age_out_and_the_least_recently_used_go_first(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("gateway.facts.time.monotonic", lambda: clock[0])
    copies = ImportedFacts(limit=2, max_age=600)
    assert copies.get(b"g", "a") is None  # a hop reads before it keeps: the generation is b"g"
    copies.keep(b"g", "a", 1)
    copies.keep(b"g", "b", 2)
    assert copies.get(b"g", "a") == 1  # "a" used: "b" is now the least recently used
    copies.keep(b"g", "c", 3)
    assert [copies.get(b"g", k) for k in "abc"] == [1, None, 3]
    clock[0] += 601
    assert copies.get(b"g", "a") is None


def _pay_screen(app: Flask) -> str:
    phone = Phone(app.test_client(), ROSA_PHONE)
    phone.dial()
    return phone.send("1")


def test_a_hop_sees_an_import_on_its_next_hop_and_not_before(
    app: Flask, seeded: Database, settings: Settings
) -> None:
    assert "del 12/12 al 16/12/2026" in _pay_screen(app)
    # A write no import announced (not how the data changes; here to show the copy is used):
    with seeded.session() as s:
        s.execute(update(Settlement).where(Settlement.hogar_id == "H00000001",
                                           Settlement.periodo == "2026-6")
                  .values(punto_id="P002"))
    assert "del 12/12 al 16/12/2026" in _pay_screen(app)
    assert announce_data_change(settings) is None  # what the importer does after each batch
    assert "del 14/12 al 15/12/2026" in _pay_screen(app)


def test_the_importer_tells_after_each_batch_that_wrote_rows(seeded: Database, tmp_path: Path) -> None:
    data = demo(tmp_path)
    calls: list[int] = []
    import_dir(seeded, data, batch_size=50, on_commit=lambda: calls.append(1))
    assert len(calls) >= 2  # several batches wrote rows
    calls.clear()
    import_dir(seeded, data, batch_size=50, on_commit=lambda: calls.append(1))
    assert calls == []  # a re-import writes nothing: nothing to tell


def test_mijuntos_import_sets_a_new_generation(
    seeded: Database, redis: redis_lib.Redis, redis_url: str, tmp_path: Path
) -> None:
    data = demo(tmp_path)
    env = {"DATABASE_URL": seeded.url, "REDIS_URL": redis_url, "SECRET_KEY": "test-secret",
           "MIJUNTOS_VAR_DIR": str(tmp_path / "var")}
    redis.delete(DATA_GENERATION)
    result = CliRunner().invoke(cli, ["import", str(data), "--no-progress", "--no-plan"], env=env)
    assert result.exit_code == 0, result.output
    first = redis.get(DATA_GENERATION)
    assert first
    (data / "abonos.csv").write_text((data / "abonos.csv").read_text().replace("cobrado", "no_cobrado", 1))
    result = CliRunner().invoke(cli, ["import", str(data), "--no-progress", "--no-plan"], env=env)
    assert result.exit_code == 0, result.output
    assert redis.get(DATA_GENERATION) not in (None, first)
    assert "warning" not in result.output


def test_an_import_with_redis_down_still_imports_and_says_when_it_shows(
    seeded: Database, tmp_path: Path
) -> None:
    data = demo(tmp_path)
    env = {"DATABASE_URL": seeded.url, "REDIS_URL": "redis://127.0.0.1:1/0",
           "SECRET_KEY": "test-secret", "MIJUNTOS_VAR_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(cli, ["import", str(data), "--no-progress", "--no-plan"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.count("the web processes were not told of the new data") == 1, result.output
    assert "within 10 minutes" in result.output
    with seeded.session() as s:
        assert s.query(Settlement).count() > 10
