"""Shared fixtures: a migrated database per test (SQLite copy, or a truncated PostgreSQL
database when TEST_DATABASE_URL is set), the app, clients, factories and a live server."""
from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import uuid

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from cert_share import _normalize_db_url, create_app
from cert_share.extensions import db

PG_BASE = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "correct horse battery staple"


def _config(url: str) -> dict:
    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret-key",
            "WTF_CSRF_ENABLED": True, "SCHEDULER_ENABLED": False, "SMTP_HOST": ""}


def _migrate(url: str) -> None:
    from cert_share.schema_upgrade import upgrade

    app = create_app(_config(url))
    with app.app_context():
        upgrade(app)
        db.engine.dispose()


def _pg_url(base: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(_normalize_db_url(base)).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate once per test session; yield how to get a clean database per test."""
    if PG_BASE:
        name = f"cs_test_{os.environ.get('PYTEST_XDIST_WORKER', 'gw')}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(_normalize_db_url(PG_BASE), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = _pg_url(PG_BASE, name)
        _migrate(url)
        yield {"kind": "postgresql", "url": url}
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        _migrate(f"sqlite:///{path}")
        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA journal_mode=DELETE")
        con.close()
        yield {"kind": "sqlite", "path": str(path)}


def _truncate_all(app) -> None:
    with app.app_context():
        # stix_clock keeps its single row (made by migration 0002), as in a freshly migrated
        # database: writers lock that row, and a missing row would make the lock a no-op.
        tables = [t.name for t in db.metadata.sorted_tables if t.name != "stix_clock"]
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            conn.execute(text("UPDATE stix_clock SET last_date_added = NULL"))


@pytest.fixture
def database_url(database_template, tmp_path):
    if database_template["kind"] == "sqlite":
        path = tmp_path / "cert-share.db"
        shutil.copy(database_template["path"], path)
        return f"sqlite:///{path}"
    return database_template["url"]


@pytest.fixture
def app(database_url, database_template, tmp_path):
    app = create_app({**_config(database_url), "MAILDIR": str(tmp_path / "maildir")})
    yield app
    with app.app_context():
        db.session.remove()
        if database_template["kind"] == "postgresql":
            _truncate_all(app)
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """An app context, for calling services directly."""
    with app.app_context():
        yield


class Factory:
    """Creates organizations, users and tokens through the real services."""

    def __init__(self, app):
        self.app = app

    def org(self, name: str, sector: str = "financial-services", kind: str = "member", **kw):
        from cert_share.services.organizations import create_organization

        with self.app.app_context():
            org = create_organization(db.session, name=name, sector=sector, kind=kind, **kw)
            db.session.refresh(org)
            db.session.expunge(org)
            return org

    def cert(self, name: str = "National CERT"):
        return self.org(name, sector="government-national", kind="cert")

    def user(self, org, role: str = "analyst", email: str | None = None, password: str = PASSWORD):
        from cert_share.models import Organization
        from cert_share.services.users import create_user

        with self.app.app_context():
            email = email or f"{role}.{uuid.uuid4().hex[:6]}@{org.slug}.example"
            user = create_user(db.session, email=email, org=db.session.get(Organization, org.id), role=role,
                               password=password)
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    def token(self, org, name: str = "test") -> str:
        from cert_share.models import Organization
        from cert_share.services.tokens import issue_token

        with self.app.app_context():
            _row, secret = issue_token(db.session, db.session.get(Organization, org.id), name)
            return secret


@pytest.fixture
def factory(app):
    return Factory(app)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        app.config["BASE_URL"] = self.url  # the address this server is published at
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    with LiveServer(app) as server:
        yield server


# The property-based tests' seed: chosen (or taken from HYPOTHESIS_SEED) and printed here, in the
# conftest that the controller of an xdist run loads, so that every worker uses the same one.
from .fuzz.profiles import pytest_configure, pytest_report_header, pytest_terminal_summary  # noqa: E402,F401
