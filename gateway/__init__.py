"""The web side: Flask webhooks for Africa's Talking callbacks."""

from __future__ import annotations

from typing import Any

from flask import Flask

from gateway.auth import check_production
from gateway.auth import install as install_auth
from gateway.config import Settings
from gateway.logs import configure_logging
from gateway.ops import install as install_ops
from gateway.services import build_services


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """The Flask app; settings from the environment unless given."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env()
        if config:
            settings = settings.with_(**config)
    configure_logging(settings.log_level, settings.log_format)
    check_production(settings)
    app = Flask(__name__)
    app.secret_key = settings.secret_key
    install_auth(app, settings)
    services = build_services(settings)
    app.extensions["mijuntos"] = services
    install_ops(app, services)

    from gateway.admin import bp as admin_bp
    from gateway.simulator import bp as simulator_bp
    from gateway.sms import bp as sms_bp
    from gateway.ussd import bp as ussd_bp

    app.register_blueprint(ussd_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(simulator_bp)

    return app
