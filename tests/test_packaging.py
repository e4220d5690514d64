"""A production install carries the product, not the development tools (issue 12)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = {"core", "dialogs", "gateway", "mijuntos", "models", "workers"}


def test_the_product_wheel_has_no_development_tools(tmp_path: Path) -> None:
    # A copy: setuptools would add whatever a stale build/ of the checkout still holds.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache", "test-artifacts"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w",
                    str(tmp_path)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("mijuntos-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == PRODUCT
    assert not [n for n in names if "fake_at" in n or "demo_" in n or "mijuntos_dev" in n]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "mijuntos.commands" not in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "dialogs/locales/qu.po" in names and "gateway/templates/base.html" in names
