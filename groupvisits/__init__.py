"""GroupVisits: shared medical appointments, run by patients and clinicians together."""

import os
from pathlib import Path

from flask import Flask, abort, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import CONFIGS, Config, ProductionConfig

ROOT = Path(__file__).resolve().parent.parent

#: No page loads anything from another host.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def create_app(config: str | type[Config] | dict = "development") -> Flask:
    """Build the application from a config name, class or mapping (tests)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(ROOT / "instance"),
    )
    register_config(app, config)
    register_proxies(app)
    register_extensions(app)
    register_input_checks(app)
    register_blueprints(app)
    register_security(app)
    register_templates(app)
    register_errors(app)
    register_commands(app)
    return app


def register_config(app: Flask, config) -> None:
    overrides = {}
    if isinstance(config, dict):
        overrides = config
        config = overrides.get("CONFIG", "testing")
    if isinstance(config, str):
        config = CONFIGS[config]
    app.config.from_object(config)
    if issubclass(config, ProductionConfig):
        config.check()
        # Use the values just checked, not those read when config.py was imported.
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
        app.config["PUBLIC_BASE_URL"] = os.environ["PUBLIC_BASE_URL"]
        app.config["TRUSTED_PROXY_COUNT"] = config.trusted_proxy_count()
        app.config["RATELIMIT_STORAGE_URI"] = os.environ.get(
            "RATELIMIT_STORAGE_URI", app.config["RATELIMIT_STORAGE_URI"]
        )
        if app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
            app.logger.warning(
                "Sign-in attempts are counted in each worker's own memory: with N workers a "
                "guesser gets N times the allowed tries. Set RATELIMIT_STORAGE_URI to a store "
                "the workers share (memcached:// or redis://)."
            )
    app.config.update({k: v for k, v in overrides.items() if k != "CONFIG"})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)


def register_proxies(app: Flask) -> None:
    """Behind reverse proxies, take the client's address from the X-Forwarded-For they add.

    Only the last TRUSTED_PROXY_COUNT entries are believed, those the proxies appended;
    anything before them came from the client. The sign-in limit per address, sign-ins
    and audit rows all use this address. Scheme and host are not taken from the proxy:
    links in mail come from PUBLIC_BASE_URL and redirects are relative, and a request
    seen as HTTPS would make Flask-WTF demand a Referer, which our pages never send.
    """
    count = app.config["TRUSTED_PROXY_COUNT"]
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=0, x_host=0)


def register_extensions(app: Flask) -> None:
    import groupvisits.models  # noqa: F401  (every table on the metadata)
    from groupvisits.accounts.services import load_sign_in
    from groupvisits.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(token: str):
        return load_sign_in(token, idle_timeout=app.config["IDLE_TIMEOUT"])


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, wait for locks, let readers run beside a writer."""
    module = type(dbapi_connection).__module__
    if "sqlite" not in module:
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the file; it only skips an fsync per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


NUL_MESSAGE = (
    "What was sent holds a null character, which cannot be saved. "
    "Please remove it (it often comes with pasted text) and try again."
)


class IdConverter(IntegerConverter):
    """``<int:...>`` in a route: a number no table can hold is a 404, not a database error."""

    def __init__(self, map, *args, **kwargs) -> None:
        from groupvisits.formutil import MAX_ID

        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register_input_checks(app: Flask) -> None:
    """Refuse input no database column can keep, before any view sees it."""
    app.url_map.converters["int"] = IdConverter

    @app.before_request
    def refuse_null_characters():
        if "\x00" in request.path or any(
            "\x00" in key or "\x00" in value
            for values in (request.args, request.form)
            for key, value in values.items(multi=True)
        ):
            abort(400, NUL_MESSAGE)


def register_blueprints(app: Flask) -> None:
    import importlib

    for area in (
        "accounts",
        "dashboard",
        "people",
        "sites",
        "groups",
        "schedule",
        "roster",
        "team",
        "encounters",
        "agenda",
    ):
        views = importlib.import_module(f"groupvisits.{area}.views")
        app.register_blueprint(views.bp)


def register_security(app: Flask) -> None:
    """Deny-by-default access checks, security headers, no caching of private pages."""
    from groupvisits.permissions import register_permissions

    register_permissions(app)

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static":
            # Pages may hold patient data: never keep them in shared or browser caches.
            headers["Cache-Control"] = "no-store"
        return response


def register_templates(app: Flask) -> None:
    from groupvisits.messages import register_messages

    register_messages(app)
    from flask_wtf.csrf import generate_csrf
    from markupsafe import Markup

    from groupvisits.accounts.models import DISCIPLINES, ROLE_LABELS

    def csrf_input() -> Markup:
        """The hidden CSRF field every form posts (one token per request, no element id)."""
        field = g.get("csrf_input")
        if field is None:
            field = Markup('<input type="hidden" name="csrf_token" value="%s">') % generate_csrf()
            g.csrf_input = field
        return field

    app.jinja_env.globals.update(
        ROLE_LABELS=ROLE_LABELS, DISCIPLINES=DISCIPLINES, csrf_input=csrf_input
    )


def register_errors(app: Flask) -> None:
    from groupvisits.errors import register_error_handlers

    register_error_handlers(app)


def register_commands(app: Flask) -> None:
    from groupvisits.cli import bp as cli_bp

    app.register_blueprint(cli_bp)
