"""The web side: Flask webhooks for Africa's Talking callbacks."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from gateway.auth import check_production
from gateway.auth import install as install_auth
from gateway.config import Settings
from gateway.logs import configure_logging
from gateway.services import build_services


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """The Flask app; settings from the environment unless given."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env()
        if config:
            settings = settings.with_(**config)
    configure_logging(settings.log_level)
    check_production(settings)
    app = Flask(__name__)
    install_auth(app, settings)
    app.extensions["mijuntos"] = build_services(settings)

    from gateway.sms import bp as sms_bp
    from gateway.ussd import bp as ussd_bp

    app.register_blueprint(ussd_bp)
    app.register_blueprint(sms_bp)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    return app
