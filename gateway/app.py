"""The Flask app: the service's web process, built from its settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, send_from_directory
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from core.espeak import Espeak, espeak_binary
from core.logs import configure_logging
from core.prompts import PromptStore
from core.settings import Settings, check_production
from dialogs.speech import required_prompts
from gateway.admin import SESSION_LIFETIME
from gateway.admin import bp as admin_bp
from gateway.admin_gestores import bp as admin_gestores_bp
from gateway.admin_phone_changes import bp as admin_phone_changes_bp
from gateway.auth import CALLBACK_PREFIXES, CallbackGuard, exempt_callbacks
from gateway.auth import install as install_auth
from gateway.ops import install as install_ops
from gateway.prompts import PromptFiles
from gateway.prompts import bp as prompts_bp
from gateway.prompts import install as install_prompts
from gateway.services import build_services
from gateway.simulator import bp as simulator_bp
from gateway.sms import bp as sms_bp
from gateway.ussd import UssdEndpoint
from gateway.ussd import bp as ussd_bp
from gateway.voice import bp as voice_bp


class PageSessions(SecureCookieSessionInterface):
    """Signed-cookie sessions for the pages people use (staff pages, the simulator), not callbacks.

    Flask opens the session on every request, building a signing serializer each time: 3 % of a
    USSD hop's CPU for a cookie no aggregator sends. Callbacks get an empty session that is never
    saved (writing to it is an error).
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(CALLBACK_PREFIXES):
            return self.null_session_class()
        return super().open_session(app, request)


def _favicon() -> Response:
    """The tab's icon, where browsers ask for it (and the pages point to it)."""
    return send_from_directory(Path(__file__).parent / "static", "favicon.ico",
                               mimetype="image/vnd.microsoft.icon", max_age=7 * 24 * 3600)


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
    # The staff login's cookie: not readable by scripts, not sent on cross-site posts, and only
    # over HTTPS in production (TLS ends at the balancer or at gunicorn, docs/DEPLOY.md). It lasts
    # a working day from the login (gateway/admin.py checks that, and that no logout ended it).
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.env == "production",
                      PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME, SESSION_REFRESH_EACH_REQUEST=False)
    app.session_interface = PageSessions()
    # Every POST of a page (staff forms, the simulator's hops) carries its session's token: the
    # forms in a field named "csrf", scripts in an X-CSRFToken header. Callbacks are exempt below.
    app.config.update(WTF_CSRF_FIELD_NAME="csrf",
                      WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()))
    csrf = CSRFProtect(app)
    guard = CallbackGuard(settings)
    install_auth(app, guard)
    services = build_services(settings)
    app.extensions["mijuntos"] = services
    install_ops(app, services)
    # The voice line's audio (gateway/prompts.py); espeak-ng, where installed, makes the cache
    # of dynamic texts on demand, within a voice hop's time.
    synthesizer = Espeak(timeout_seconds=2) if espeak_binary() else None
    install_prompts(app, PromptFiles(PromptStore(settings.prompts_path, synthesizer),
                                     lambda: required_prompts(services.catalog)))

    app.register_blueprint(ussd_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(voice_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(admin_phone_changes_bp)
    app.register_blueprint(admin_gestores_bp)
    app.register_blueprint(simulator_bp)
    app.register_blueprint(prompts_bp)
    exempt_callbacks(app, csrf)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    app.wsgi_app = UssdEndpoint(app.wsgi_app, services, guard)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        hops = settings.trusted_proxies  # outermost: every route, /ussd included, sees the client
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    return app
