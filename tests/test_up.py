"""`mijuntos up` (what ./scripts/demo runs): embedded Redis, SQLite, demo data, gunicorn."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import gunicorn
from click.testing import CliRunner
from mijuntos_dev.dial import Handset
from sqlalchemy import select

from core.embedded import EmbeddedRedis
from mijuntos.cli import main
from models import Database, OutboxMessage, Purpose


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_up_serves_demo_data_on_embedded_defaults(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "XDG_RUNTIME_DIR",
                        "MIJUNTOS_DEV_SECRET_WARNED")}
    env["MIJUNTOS_VAR_DIR"] = str(tmp_path / "var")
    env["HOME"] = str(tmp_path / "home")  # gunicorn's control socket must not land here
    log = (tmp_path / "up.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mijuntos.cli", "up", "--port", str(port), "--households", "40",
         "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        output = ""
        while time.monotonic() < deadline:
            output = (tmp_path / "up.log").read_text()
            if "Booting worker" in output:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    pass
            assert proc.poll() is None, output
            time.sleep(0.2)
        phone = re.search(r"mijuntos dial --phone (\+51\d{9})", output)
        assert phone, output
        handset = Handset(f"http://127.0.0.1:{port}/ussd", phone.group(1), "*1880#")
        replies: list[str] = []
        handset.run(iter(["1", "0"]), replies.append)
        assert replies[0].startswith("CON Hola ")
        assert replies[1].startswith("CON ") and "Pago" in replies[1]
        assert (tmp_path / "var" / "mijuntos.db").exists()
        assert EmbeddedRedis(tmp_path / "var" / "redis").answering()
        # SMS: the reply goes out through the worker to the stand-in, whose report lands back.
        texted = CliRunner().invoke(main, ["sms", "--from", phone.group(1), "--url",
                                           f"http://127.0.0.1:{port}/sms/inbound", "PAGO"],
                                    env={"DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'mijuntos.db'}"})
        assert texted.exit_code == 0, texted.output
        assert "| Mi Juntos: pago" in texted.output, texted.output  # the reply, as the phone gets it
        db = Database(f"sqlite:///{tmp_path / 'var' / 'mijuntos.db'}")
        status, text = None, None
        while time.monotonic() < deadline and status != "delivered":
            with db.session() as s:
                # The demo's scheduler may have texted notices to other phones: wait on the reply.
                row = s.execute(select(OutboxMessage.status, OutboxMessage.text).where(
                    OutboxMessage.recipient == phone.group(1),
                    OutboxMessage.purpose == Purpose.REPLY)).first()
                status, text = row if row else (None, None)
            time.sleep(0.2)
        assert status == "delivered", (tmp_path / "up.log").read_text()[-3000:]
        assert text and text.startswith("Mi Juntos: pago"), text
        sent = [json.loads(line) for line in (tmp_path / "var" / "fake-at.jsonl").read_text().splitlines()]
        assert any(m["message"] == text and m["recipients"][0]["number"] == phone.group(1)
                   for m in sent), sent
        db.dispose()
        # gunicorn >= 25.1's control socket: under var/ with the rest, not in the home directory.
        if gunicorn.version_info >= (25, 1):
            assert (tmp_path / "var" / "gunicorn.ctl").is_socket()
        assert not (tmp_path / "home" / ".gunicorn").exists()
        output = (tmp_path / "up.log").read_text()
        assert output.count("SECRET_KEY is not set") == 1, output  # up's, not each process's
        assert "POST /sms/inbound" in output and "POST /sms/delivery" not in output, output[-3000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        log.close()
    assert not EmbeddedRedis(tmp_path / "var" / "redis").answering()
