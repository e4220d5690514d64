"""The house reads bottom-up (docs/ARCHITECTURE.md): which folder may import which.

Ground floor: `dialogs` (pure) and `models`. Above them `core`, the shared layer every process
uses, without Flask or rq. Side by side above it: `gateway` (the web) and `workers` (the jobs);
`workers` never imports `gateway`, and `gateway` reaches the worker side only through
`workers.api`. On top: the command line (`mijuntos`), and the development tools
(`mijuntos_dev`, installed apart). No module imports another in a circle, and no function body
imports one of ours except where the list below says why.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {  # import root -> where its files are
    "dialogs": ROOT / "dialogs", "models": ROOT / "models", "core": ROOT / "core",
    "gateway": ROOT / "gateway", "workers": ROOT / "workers", "mijuntos": ROOT / "mijuntos",
    "mijuntos_dev": ROOT / "devtools" / "mijuntos_dev",
}
OURS = frozenset(FOLDERS)
# Which of our packages each may import (itself always).
MAY_IMPORT = {
    "dialogs": set(),
    "models": {"dialogs"},
    "core": {"dialogs", "models"},
    "workers": {"core", "dialogs", "models"},
    "gateway": {"core", "dialogs", "models", "workers"},  # workers: only workers.api, below
    "mijuntos": {"core", "dialogs", "models", "workers", "gateway"},
    "mijuntos_dev": {"core", "dialogs", "models", "workers", "gateway", "mijuntos"},
}
GATEWAY_MAY_USE = frozenset({"workers.api"})
# Libraries a floor must not import: the shared layer serves processes that are not the web.
NO_LIBRARIES = {
    "dialogs": {"flask", "werkzeug", "redis", "sqlalchemy", "rq", "requests", "africastalking"},
    "models": {"flask", "werkzeug", "redis", "rq", "requests", "africastalking", "click"},
    "core": {"flask", "werkzeug", "rq", "africastalking", "click"},
    "workers": {"flask", "werkzeug"},
}
# Imports inside a function body of one of ours, each for start-up time: none today. A new one
# that dodges a circle must instead move what both sides need down a floor.
# `from gateway import create_app`, Flask's app-factory convention (the peer bench imports it):
# gateway/__init__.py's module __getattr__ loads the app on that import only, so `import
# gateway.replay` on the worker side still loads no Flask (test below).
LAZY_ALLOWED: set[tuple[str, str]] = {("gateway", "gateway.app")}


@dataclass(frozen=True)
class Edge:
    source: str  # module, e.g. gateway.sms
    target: str  # module or package imported, e.g. core.settings
    lineno: int
    in_function: bool


def module_name(path: Path, root: str, folder: Path) -> str:
    parts = [root, *path.relative_to(folder).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def edges_of(path: Path, module: str) -> list[Edge]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Edge] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend(Edge(module, a.name, child.lineno, inside) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                if child.module is None or child.level:  # `from . import x`: x is a module
                    found.extend(Edge(module, f"{base}.{a.name}", child.lineno, inside)
                                 for a in child.names)
                elif base in OURS:  # `from gateway import ussd`: the module gateway.ussd
                    found.extend(Edge(module, f"{base}.{a.name}", child.lineno, inside)
                                 for a in child.names)
                else:
                    found.append(Edge(module, base, child.lineno, inside))
            if not isinstance(child, ast.If) or not _is_type_checking(child):
                visit(child, inside)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def project_edges(folders: dict[str, Path]) -> tuple[set[str], list[Edge]]:
    modules: set[str] = set()
    edges: list[Edge] = []
    for root, folder in folders.items():
        for path in sorted(folder.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = module_name(path, root, folder)
            modules.add(name)
            edges.extend(edges_of(path, name))
    return modules, edges


def layer_violations(edges: Iterable[Edge]) -> list[str]:
    problems = []
    for e in edges:
        src, dst = e.source.split(".")[0], e.target.split(".")[0]
        where = f"{e.source} line {e.lineno} imports {e.target}"
        if dst in OURS and dst != src and dst not in MAY_IMPORT[src]:
            problems.append(f"{where}: {src} may not import {dst}")
        elif src == "gateway" and dst == "workers" and e.target not in GATEWAY_MAY_USE:
            problems.append(f"{where}: the web reaches the workers only through workers.api")
        elif dst in NO_LIBRARIES.get(src, ()):
            problems.append(f"{where}: {src} may not import {dst}")
    return problems


def lazy_imports(edges: Iterable[Edge]) -> list[str]:
    return [f"{e.source} line {e.lineno} imports {e.target} inside a function"
            for e in edges if e.in_function and e.target.split(".")[0] in OURS
            and (e.source, e.target) not in LAZY_ALLOWED]


def cycles(modules: set[str], edges: Iterable[Edge]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), over every import."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for e in edges:
        target = e.target
        while target and target not in modules:  # `from models.base import X`: models.base
            target = target.rpartition(".")[0]
        if target and target != e.source:
            graph[e.source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def package_inits_are_thin(edges: Iterable[Edge]) -> list[str]:
    """A package's __init__ imports nothing of ours beyond its own package (models re-exports
    its tables): importing `gateway` must not build the app."""
    return [f"{e.source} imports {e.target}" for e in edges
            if e.source in OURS and e.target.split(".")[0] in OURS
            and e.target.split(".")[0] != e.source]


def test_every_folder_imports_only_the_floors_below_it() -> None:
    modules, edges = project_edges(FOLDERS)
    assert len(modules) > 100  # the walk found the project
    assert layer_violations(edges) == []


def test_no_module_imports_another_in_a_circle() -> None:
    modules, edges = project_edges(FOLDERS)
    assert cycles(modules, edges) == []


def test_no_function_imports_one_of_our_modules() -> None:
    _, edges = project_edges(FOLDERS)
    assert lazy_imports(edges) == []


def test_package_inits_build_nothing() -> None:
    _, edges = project_edges(FOLDERS)
    assert package_inits_are_thin(edges) == []


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checks_catch_a_module_that_breaks_the_layers(tmp_path: Path) -> None:
    write(tmp_path, {
        "workers/__init__.py": "", "workers/jobs.py": "from gateway.sms import handle\n",
        "workers/api.py": "", "workers/context.py": "def f():\n    from workers import jobs\n",
        "gateway/__init__.py": "", "gateway/sms.py": "from workers.context import enqueue\n",
        "gateway/ok.py": "from workers.api import enqueue\n",
        "core/__init__.py": "", "core/settings.py": "import flask\nfrom gateway import sms\n",
    })
    folders = {name: tmp_path / name for name in ("workers", "gateway", "core")}
    modules, edges = project_edges(folders)
    problems = "\n".join(layer_violations(edges))
    assert "workers.jobs line 1 imports gateway.sms: workers may not import gateway" in problems
    assert "gateway.sms line 1 imports workers.context: the web reaches the workers only" in problems
    assert "core.settings line 1 imports flask" in problems
    assert "core.settings line 2 imports gateway.sms" in problems
    assert "gateway.ok" not in problems
    assert cycles(modules, edges) == [["gateway.sms", "workers.context", "workers.jobs"]]
    assert lazy_imports(edges) == ["workers.context line 2 imports workers.jobs inside a function"]


def test_the_command_line_and_the_worker_side_load_no_flask() -> None:
    # werkzeug.security (password hashes for `mijuntos admin`) is not the web stack.
    code = ("import sys, mijuntos.cli, workers.jobs, workers.api, gateway.replay, core.connections;"
            "print(sorted(m for m in ('flask', 'gateway.app', 'gateway.ussd') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_core_loads_neither_flask_nor_rq() -> None:
    code = ("import sys, pkgutil, importlib, core\n"
            "for m in pkgutil.iter_modules(core.__path__): importlib.import_module('core.' + m.name)\n"
            "print(sorted(m for m in ('flask', 'werkzeug', 'rq', 'gateway', 'workers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]"
