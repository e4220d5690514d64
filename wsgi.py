"""The WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from __future__ import annotations

from gateway.app import create_app

app = create_app()
