"""The build backend of pyproject.toml: setuptools' own, plus a `dev` extra for editable installs.

`pip install -e '.[dev]'` from a checkout installs the product, its `test` extra and the checkout's
development tools (devtools/, the `mijuntos-dev` distribution that gives `mijuntos up`,
`demo-data` and the rest). pyproject.toml cannot say "the devtools/ next to this file": a
requirement names a URL, and a `file:` URL written there would be one machine's path, carried
into every wheel's METADATA. So the extra is added here, only by the two editable hooks, as
`mijuntos-dev @ file:///<this checkout>/devtools`: an editable install is of a checkout, on its
own machine, where that path is right. `pip wheel .` and `pip install .` go through setuptools'
build_wheel untouched: the production wheel has no `dev` extra and no local path
(tests/test_packaging.py). devtools/ is installed as a plain (non-editable) wheel that way;
`pip install -e '.[test]' -e ./devtools` remains the form for editing the tools themselves.
pip asks the backend for an editable's metadata; uv takes pyproject.toml's static extras as they
stand (PEP 621 lets it) and sees no `dev`: with uv, name both (`-e '.[test]' -e ./devtools`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from setuptools import build_meta as _setuptools

DEVTOOLS = Path(__file__).resolve().parent.parent / "devtools"

get_requires_for_build_wheel = _setuptools.get_requires_for_build_wheel
get_requires_for_build_sdist = _setuptools.get_requires_for_build_sdist
get_requires_for_build_editable = _setuptools.get_requires_for_build_editable
prepare_metadata_for_build_wheel = _setuptools.prepare_metadata_for_build_wheel
build_wheel = _setuptools.build_wheel
build_sdist = _setuptools.build_sdist


def _add_dev_extra(dist_info: Path) -> None:
    """Declare the `dev` extra in DIST_INFO's METADATA (not without a devtools/ beside it)."""
    if not (DEVTOOLS / "pyproject.toml").is_file():
        return
    metadata = dist_info / "METADATA"
    text = metadata.read_text(encoding="utf-8")
    lines = ("Provides-Extra: dev\n"
             'Requires-Dist: mijuntos[test]; extra == "dev"\n'
             # PEP 508: a space between the URL and its marker's `;`.
             f'Requires-Dist: mijuntos-dev @ {DEVTOOLS.as_uri()} ; extra == "dev"\n')
    headers, blank, body = text.partition("\n\n")  # the headers end at the first blank line
    metadata.write_text(headers.rstrip("\n") + "\n" + lines + blank[1:] + body, encoding="utf-8")


def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: dict | None = None) -> str:
    name: str = _setuptools.prepare_metadata_for_build_editable(metadata_directory, config_settings)
    _add_dev_extra(Path(metadata_directory, name))
    return name


def build_editable(wheel_directory: str, config_settings: dict | None = None,
                   metadata_directory: str | None = None) -> str:
    # setuptools copies a .dist-info it is given into the wheel as it is: one with the extra, made
    # afresh (the same as the frontend's `metadata_directory`, which setuptools would not find:
    # it looks for a .dist-info inside the one pip gives).
    with tempfile.TemporaryDirectory() as prepared:
        prepare_metadata_for_build_editable(prepared, config_settings)
        return str(_setuptools.build_editable(wheel_directory, config_settings, prepared))
