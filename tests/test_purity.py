"""dialogs/ is pure: no web framework, Redis, database, HTTP or job queue inside it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FORBIDDEN = {"flask", "redis", "sqlalchemy", "requests", "rq", "psycopg", "werkzeug", "urllib3",
             "http", "socket", "africastalking", "gateway", "models", "workers"}
DIALOGS = Path(__file__).resolve().parent.parent / "dialogs"


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_dialog_module_imports_io_libraries() -> None:
    files = sorted(DIALOGS.glob("*.py"))
    assert files
    for path in files:
        bad = imported_roots(path) & FORBIDDEN
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_importing_dialogs_loads_none_of_them() -> None:
    code = (
        "import sys, dialogs, dialogs.engine, dialogs.screens, dialogs.views;"
        f"print(sorted(m for m in {sorted(FORBIDDEN)!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=DIALOGS.parent)
    assert out.stdout.strip() == "[]"


def test_the_check_itself_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from sqlalchemy.orm import Session\nimport redis.client\n")
    assert imported_roots(sample) & FORBIDDEN == {"sqlalchemy", "redis"}


# workers/ is moving to "never import gateway/": these are the imports left to remove. A new
# one (e.g. gateway.phone_changes in a job) must not be added; take what it needs out of
# gateway/ (into models/ or workers/) instead.
WORKERS_GATEWAY_LEGACY = {
    "gateway.backlog", "gateway.config", "gateway.effects", "gateway.i18n", "gateway.privacy",
    "gateway.services", "gateway.sessions", "gateway.sms", "gateway.usage",
}
WORKERS = DIALOGS.parent / "workers"


def gateway_modules(path: Path) -> set[str]:
    """The gateway modules a file imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "gateway")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "gateway":
                found.update(f"gateway.{a.name}" for a in node.names)
            elif node.module.startswith("gateway."):
                found.add(node.module)
    return found


def test_workers_import_no_gateway_module_beyond_the_legacy_ones() -> None:
    files = sorted(WORKERS.glob("*.py"))
    assert files
    for path in files:
        new = gateway_modules(path) - WORKERS_GATEWAY_LEGACY
        assert not new, f"workers/{path.name} imports {sorted(new)}: workers must not import gateway/"


def test_the_workers_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "job.py"
    sample.write_text("def f():\n    from gateway.phone_changes import move\n    from gateway import ussd\n")
    assert gateway_modules(sample) == {"gateway.phone_changes", "gateway.ussd"}
