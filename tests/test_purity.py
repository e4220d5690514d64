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
