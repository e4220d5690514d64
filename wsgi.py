"""The WSGI entry point for gunicorn: `gunicorn wsgi:app`.

Wrong or unsafe settings (`SettingsError`) stop the server with one line on stderr naming the
variables, not a traceback per worker: the exit status is gunicorn's "App failed to load", on
which the master shuts down instead of booting workers that would fail the same way forever.
"""

from __future__ import annotations

import sys

from gunicorn.arbiter import Arbiter

from core.settings import SettingsError
from gateway.app import create_app

try:
    app = create_app()
except SettingsError as exc:
    print(f"mijuntos web: cannot start: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(Arbiter.APP_LOAD_ERROR) from None
