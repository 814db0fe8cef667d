"""cert-share: incident sharing and early warning for a national CERT.

create_app() only wires things together: no database writes, no scheduler, no network.

The register_* functions import what they wire when they run: this module runs first whenever any
cert_share module is imported, so imports at its top would load the whole web application (and
its models, services and blueprints) for a script or test that needs only, say, cert_share.stix.
"""
from __future__ import annotations

import gc
import os

from flask import Flask, request

from . import config as settings

# The app's hooks, views and handlers are a few hundred functions.
_MAX_SYNCHRONOUS = 4096


class CertShareFlask(Flask):
    """Flask, with ``ensure_sync`` answered from a table. Flask asks it of every hook and view on
    every request (twenty times per TAXII poll), and each answer inspects the function's code
    flags; a function's answer never changes, so it is worked out once (issue 14)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._synchronous: dict = {}

    def ensure_sync(self, func):
        try:
            return self._synchronous[func]
        except KeyError:
            made = super().ensure_sync(func)
            if len(self._synchronous) < _MAX_SYNCHRONOUS:  # functions made per request are not kept
                self._synchronous[func] = made
            return made
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return super().ensure_sync(func)


def create_app(test_config: dict | None = None, env: str | None = None, *, serving: bool = True) -> Flask:
    """The application. ``serving=False`` is for commands that serve no requests (the command
    line): they need no SECRET_KEY, and in production they get none rather than the public
    development key. Missing or malformed settings raise config.SettingError."""
    config_class = settings.config_for("test" if test_config and test_config.get("TESTING") else env)
    # The instance folder lies in the data directory, not beside the code (an installed package's
    # folder is not the server's to write).
    app = CertShareFlask(__name__, instance_relative_config=True,
                instance_path=settings.instance_folder(config_class.CERT_SHARE_DATA_DIR))
    app.config.from_object(config_class)
    if test_config:
        app.config.update(test_config)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        # Made only for the default database: a command run with DATABASE_URL by a user who may
        # not write the data directory needs nothing there (the maildir makes its own folders).
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "cert-share.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = _normalize_db_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(app.config["SQLALCHEMY_DATABASE_URI"],
                                                              app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    settings.check(app.config, serving=serving)
    if not serving and settings.in_production(app.config) and app.config["SECRET_KEY"] == settings.DEV_SECRET_KEY:
        app.config["SECRET_KEY"] = None
    if app.config["SECRET_KEY"]:
        # Flask checks session cookies against SECRET_KEY_FALLBACKS too; Flask-WTF's CSRF tokens
        # are checked against the same keys given as itsdangerous's key list (the last one signs).
        app.config["WTF_CSRF_SECRET_KEY"] = [*app.config["SECRET_KEY_FALLBACKS"], app.config["SECRET_KEY"]]

    register_url_converters(app)
    register_sessions(app)
    register_observability(app)
    register_proxies(app)
    register_request_limits(app)
    register_extensions(app)
    register_blueprints(app)
    register_health(app)
    register_error_handlers(app)
    register_commands(app)
    register_security_headers(app)
    return app


def worker_app() -> Flask:
    """The app for a long-lived server process (gunicorn via wsgi.py or ``cert-share serve``).

    Everything loaded by then (Flask, SQLAlchemy, the models, the app) lives as long as the
    worker: gc.freeze() keeps it out of the collector's reach, so that collections triggered by
    a request's garbage do not walk a few hundred thousand objects that can never be freed."""
    from .health import check_at_start
    from .logs import configure as configure_logging

    app = create_app()
    configure_logging(app.config)
    check_at_start(app)  # a pending migration is logged now, naming the command to run
    gc.freeze()
    return app


def _normalize_db_url(url: str) -> str:
    # Operators paste libpq-style URLs; SQLAlchemy needs the driver named to pick psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _engine_options(url: str, options: dict) -> dict:
    """Per-backend engine options (see database.py for the SQLite connection class).

    PostgreSQL: psycopg's automatic server-side prepares are off (``prepare_threshold=None``). A
    statement prepared on its 6th run on a connection gets a generic plan that PostgreSQL keeps for
    the connection's life, planned with the statistics of that moment: in a soak started on empty
    tables (no ANALYZE yet), correlation's lookup of an observable's sightings kept a sequential
    scan of ``observables`` and intake grew slower with every report (issue 14). Each statement is
    planned with its own values instead, which costs a fraction of a millisecond per statement."""
    from sqlalchemy.engine import make_url

    from .database import sqlite_engine_options

    if make_url(url).get_backend_name() == "postgresql":
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("prepare_threshold", None)
        options = dict(options, connect_args=connect_args)
    return sqlite_engine_options(url, options)


_OWN_RETRY_AFTER = "cert_share.own_retry_after"


def _own_retry_after(app: Flask):
    """flask-limiter, with its headers on, sets Retry-After on every response of a limited route
    to the later of the response's own value and its window's reset: a 503 asking for a retry in
    5 s would say 60, and a 201 would carry one. The response's own value (none, on a success) is
    noted before the limiter's hook and put back after it; a 429 keeps the limiter's.

    Returns the noting hook, for the caller to register after the limiter (after_request hooks run
    in reverse order); the restoring hook is registered here, before it."""
    missing = object()

    def restore(response):
        # Kept in the request's environ, not g: an app context may outlive one request.
        own = request.environ.pop(_OWN_RETRY_AFTER, missing)
        if own is missing or response.status_code == 429:
            return response
        if own is None:
            response.headers.pop("Retry-After", None)
        else:
            response.headers["Retry-After"] = own
        return response

    def note(response):
        request.environ[_OWN_RETRY_AFTER] = response.headers.get("Retry-After")
        return response

    app.after_request(restore)
    return note


def register_extensions(app: Flask) -> None:
    from . import i18n
    from .auth import limit_storage  # noqa: F401 (registers memory:// before the limiter builds its storage)
    from .database import configure_engine
    from .extensions import babel, csrf, db, limiter, login_manager
    from .schema_upgrade import register_migrate_command

    db.init_app(app)
    register_migrate_command(app)
    i18n.init_app(app, babel)
    csrf.init_app(app)
    # A new app's limit storage is presumed reachable: init_app makes a new one but keeps the
    # previous app's mark that its storage was not (met by tests and scripts making several apps).
    limiter._storage_dead = False
    restore_retry_after = _own_retry_after(app)
    limiter.init_app(app)
    app.after_request(restore_retry_after)  # runs before the limiter's hook (reverse order)
    # The limiter's own lines (storage unreachable, recovered) go where the app's lines go.
    limiter.logger = app.logger.getChild("rate_limits")
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    # The server-side session binds itself to the client (web/auth.py); Flask-Login's own check
    # would trust a client-written X-Forwarded-For.
    login_manager.session_protection = None
    with app.app_context():
        configure_engine(db.engine)


def register_observability(app: Flask) -> None:
    """The request id on every response, and the request counters with the /internal/metrics
    endpoint. First of the hooks, so that the clock starts before the others run."""
    from .logs import register as register_request_ids
    from .monitoring import register as register_monitoring

    register_request_ids(app)
    register_monitoring(app)


def register_proxies(app: Flask) -> None:
    from .proxies import register

    register(app)


def register_request_limits(app: Flask) -> None:
    from .request_limits import register

    register(app)


def register_sessions(app: Flask) -> None:
    from .cookie_sessions import CookieSessionInterface

    app.session_interface = CookieSessionInterface()


def register_url_converters(app: Flask) -> None:
    """Every ``<int:…>`` in a route is a row id: bounded so that no id can overflow a query."""
    from .params import RowIdConverter

    app.url_map.converters["int"] = RowIdConverter


def register_blueprints(app: Flask) -> None:
    from .api import bp as api_bp
    from .taxii import bp as taxii_bp
    from .web import bp as web_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(taxii_bp)


def register_health(app: Flask) -> None:
    from .health import register

    register(app)


def register_error_handlers(app: Flask) -> None:
    from .http_errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from .cli import COMMANDS as CORE_COMMANDS
    from .jobs.cli import COMMANDS as JOB_COMMANDS
    from .reports.cli import COMMANDS as REPORT_COMMANDS

    for command in (*CORE_COMMANDS, *JOB_COMMANDS, *REPORT_COMMANDS):
        app.cli.add_command(command)


def register_security_headers(app: Flask) -> None:
    """Every response's security headers, in one hook.

    Nothing is cached (responses carry TLP-marked content and signed-in pages), except the
    static assets; HSTS in production over HTTPS. No server banner is set here: gunicorn sends
    its name without a version (the development server's banner cannot be changed by the app)."""
    hsts_max_age = app.config["HSTS_MAX_AGE"]
    production = settings.in_production(app.config)
    https_base = app.config["BASE_URL"].startswith("https://")

    # Set unless the response set its own: a case-insensitive scan of the headers once, not one
    # per name (Werkzeug's setdefault lowers every header's name each time, issue 14).
    defaults = (
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Content-Security-Policy",
         "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
         "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
    )

    @app.after_request
    def _headers(response):
        headers = response.headers
        if request.endpoint not in {"static", "web.static"}:
            headers["Cache-Control"] = "no-store"
        if production and hsts_max_age > 0 and (request.is_secure or https_base):
            headers["Strict-Transport-Security"] = f"max-age={hsts_max_age}; includeSubDomains"
        present = {name.lower() for name in headers.keys()}
        for name, value in defaults:
            if name.lower() not in present:
                headers.add(name, value)
        return response
