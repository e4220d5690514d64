"""deploy/alerts.yml against the app it watches: every metric, label and label value an alert
names is one /metrics exports (an alert on a name that does not exist never fires); each alert
has its severity, summary and a runbook section in docs/DEPLOY.md; and, with promtool installed,
`promtool check rules` and the rules' own unit tests (deploy/alerts_test.yml) pass.

No YAML parser: PyYAML is not a dependency, and promtool is the parser that matters. The rules
file is read with regular expressions over its fixed layout, which the checks below hold it to.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from models import Database, OutboxMessage, OutboxStatus
from tests.support import ROSA_PHONE, Phone

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "alerts_test.yml"
DEPLOY = ROOT / "docs" / "DEPLOY.md"
KEY = "s3cret"
# What a family of each type is queried by in PromQL.
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "gauge": ("",), "unknown": ("",)}
SELECTOR = re.compile(r"\b(mijuntos_[a-z_]+)\b(\{[^}]*\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def rules() -> dict[str, str]:
    """Each alert's name and the text of its rule (from its `- alert:` line to the next)."""
    text = RULES.read_text(encoding="utf-8")
    parts = re.split(r"^ *- alert: *(\S+) *$", text, flags=re.M)
    found = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert len(found) == len(parts[1::2]), "two alerts with the same name"
    return found


def expr_of(rule: str) -> str:
    match = re.search(r"^ +expr: *(?:>-)?(.*?)^ +for:", rule, flags=re.M | re.S)
    assert match, "a rule without `expr:` followed by `for:`"
    return match.group(1)


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    anchors = set()
    for line in markdown.splitlines():
        if heading := re.match(r"#{1,6} +(.+?) *$", line):
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


@pytest.fixture
def keyed_app(settings, redis) -> Iterator[Flask]:
    from gateway.app import create_app

    application = create_app(settings.with_(callback_secret=KEY))
    application.testing = True
    yield application
    application.extensions["mijuntos"].close()


def exported(app: Flask, db: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    """/metrics after the app made every series the alerts watch: a hop of each outcome through
    /ussd, and outbox rows of every state (a reply, a reminder)."""
    import gateway.ussd

    client = app.test_client()
    Phone(client, ROSA_PHONE, path=f"/ussd?key={KEY}").dial()  # answered
    assert client.post("/ussd?key=wrong", data={"sessionId": "r"}).status_code == 403  # refused
    assert client.post(f"/ussd?key={KEY}", data={"sessionId": "i", "phoneNumber": "no"}).status_code == 400
    for fault in (gateway.ussd.HopDeadline("spent"), RuntimeError("the database went away")):
        def fail(*_args: object, fault: Exception = fault) -> tuple[str, str]:
            raise fault

        monkeypatch.setattr(gateway.ussd, "answer", fail)
        hop = client.post(f"/ussd?key={KEY}", data={"sessionId": "f", "phoneNumber": ROSA_PHONE, "text": ""})
        assert hop.get_data(as_text=True).startswith("END ")  # deadline, then failed
    with db.session() as s:
        s.add_all(OutboxMessage(recipient=ROSA_PHONE, text="Mi Juntos: prueba", encoding="gsm7", segments=1,
                                purpose="reply" if kind is None else "reminder", kind=kind, status=status,
                                failure_reason="retries_exhausted" if status == OutboxStatus.FAILED else None)
                  for status in OutboxStatus for kind in (None, "reminder"))
    return client.get("/metrics").get_data(as_text=True)


def test_the_rules_file_has_the_layout_the_checks_read() -> None:
    found = rules()
    assert 6 <= len(found) <= 16
    text = RULES.read_text(encoding="utf-8")
    assert re.match(r"(#.*\n)*groups:\n  - name: \S+\n    rules:\n", text)
    for name, rule in found.items():
        assert name.startswith("MiJuntos"), name
        expr_of(rule)
        assert re.search(r"^ +for: *\d+[smh]$", rule, flags=re.M), name
        assert re.search(r"^ +severity: *(critical|warning)$", rule, flags=re.M), name
        assert re.search(r'^ +summary: *".+"$', rule, flags=re.M), name


def test_every_alert_has_its_runbook_section() -> None:
    anchors = heading_anchors(DEPLOY.read_text(encoding="utf-8"))
    assert "payment-day-runbook" in anchors
    for name, rule in rules().items():
        link = re.search(r'^ +runbook: *"docs/DEPLOY\.md#([\w-]+)"$', rule, flags=re.M)
        assert link, f"{name}: no runbook link to docs/DEPLOY.md"
        assert link.group(1) == name.lower(), name
        assert link.group(1) in anchors, f"{name}: docs/DEPLOY.md has no heading '{name}'"
    assert "deploy/alerts.yml" in DEPLOY.read_text(encoding="utf-8")


def test_every_metric_label_and_value_in_the_rules_is_exported(
        keyed_app: Flask, seeded: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    names: set[str] = set()
    labels: dict[str, dict[str, set[str]]] = {}  # series name -> label -> values seen
    for family in text_string_to_metric_families(exported(keyed_app, seeded, monkeypatch)):
        if family.name.startswith("mijuntos_"):
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
        for s in family.samples:
            for label, value in s.labels.items():
                labels.setdefault(s.name, {}).setdefault(label, set()).add(value)
    assert {"mijuntos_ussd_hops_total", "mijuntos_usage_backlog", "mijuntos_outbox_messages"} <= names
    used = set()
    for alert, rule in rules().items():
        for metric, braces in SELECTOR.findall(expr_of(rule)):
            assert metric in names, f"{alert}: /metrics has no {metric}"
            used.add(metric)
            for label, op, value in MATCHER.findall(braces):
                seen = labels.get(metric, {})
                assert label in seen, f"{alert}: {metric} has no label {label} (labels: {sorted(seen)})"
                if op in ("=", "=~"):
                    for one in value.split("|") if op == "=~" else [value]:
                        assert one in seen[label], f"{alert}: {metric}{{{label}}} is never {one!r}"
    assert len(used) >= 6


def promtool() -> str:
    """promtool from PROMTOOL or PATH (Debian's `prometheus` package), or a skip."""
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not found:
        pytest.skip("promtool not installed (Debian's `prometheus` package, ~330 MB with its "
                    "dependencies, is not in CI; set PROMTOOL to a promtool binary to run this)")
    return found


def test_promtool_checks_the_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_the_rules_fire_when_they_should_and_only_then() -> None:
    done = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\S+)", RULE_TESTS.read_text(encoding="utf-8")))
    assert tested == set(rules()), "alerts without a promtool unit test"
