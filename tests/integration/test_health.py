"""Can a load balancer or Kubernetes tell whether a node is up and ready, and does a node whose
database is not migrated say so on every route instead of half working?

/healthz: the process answers (nothing read, no sign-in, no limit, no cookie). /readyz: the
database answers, its schema is at the head of the shipped migrations, Redis answers when
configured. While the schema is behind, pages, the API and TAXII answer 503 in their own form.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from cert_share import _normalize_db_url, create_app, health
from cert_share.database import MIGRATIONS_DIRECTORY
from cert_share.extensions import db, limiter
from tests.conftest import PG_BASE, Factory, _config, _pg_url, auth
from tests.integration.sql_capture import sql_statements
from tests.integration.waiting import wait_until
from tests.integration.web_login import csrf_token, login

TAXII = "application/taxii+json;version=2.1"
HEAD = ScriptDirectory(MIGRATIONS_DIRECTORY).get_current_head()
PENDING = f"database at revision none, code expects {HEAD}: run `cert-share db upgrade`"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def _make_app(url: str, tmp_path, **settings):
    return create_app({**_config(url), "MAILDIR": str(tmp_path / "maildir"), **settings})


@pytest.fixture
def empty_database_url(database_template, tmp_path):
    """A database nobody has migrated: an empty SQLite file, or a new PostgreSQL database."""
    if database_template["kind"] == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"cs_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_normalize_db_url(PG_BASE), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield _pg_url(PG_BASE, name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def unmigrated(empty_database_url, tmp_path):
    app = _make_app(empty_database_url, tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def stamp(app):
    """Set the database's recorded revision (as a half-done or newer upgrade leaves it), and put
    the head back afterwards: the PostgreSQL database is shared by the whole session."""
    def set_revision(revision: str) -> None:
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})

    yield set_revision
    set_revision(HEAD)


def test_healthz_answers_while_the_database_is_unreachable_with_no_limit_and_no_cookie(tmp_path, monkeypatch):
    # A default limit on every route, for this app only: the limiter is one object for all apps
    # and keeps the first default limit it is given.
    monkeypatch.setattr(limiter.limit_manager, "_default_limits", [])
    app = _make_app(f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}", tmp_path,
                    RATELIMIT_DEFAULT="2 per minute")
    client = app.test_client()
    for _ in range(5):
        response = client.get("/healthz")
        assert response.status_code == 200 and response.get_json() == {"status": "ok"}
        assert "Set-Cookie" not in response.headers
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "Set-Cookie" not in ready.headers
    checks = ready.get_json()["checks"]
    assert checks["database"] == {"ok": False, "reason": "not reachable (OperationalError)"}
    assert checks["schema"]["ok"] is False
    assert ready.get_json()["reason"].startswith("database: not reachable")
    assert [client.get("/readyz").status_code for _ in range(4)] == [503] * 4  # not 429
    assert [client.get("/login").status_code for _ in range(3)][-1] == 429  # the limit is in force


def test_readyz_is_ok_on_a_migrated_database(app, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and "reason" not in body
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["schema"] == {"ok": True, "state": "current", "database": [HEAD], "expected": [HEAD]}
    assert body["checks"]["redis"] == {"ok": True, "configured": False}
    assert "Set-Cookie" not in response.headers


def test_every_kind_of_route_answers_503_on_an_unmigrated_database(unmigrated):
    client = unmigrated.test_client()
    assert client.get("/healthz").status_code == 200

    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["status"] == "unavailable" and body["reason"] == f"schema: {PENDING}"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["schema"] == {"ok": False, "state": "behind", "database": [], "expected": [HEAD],
                                        "reason": PENDING}

    for method, path in [("GET", "/login"), ("POST", "/login"), ("GET", "/"), ("GET", "/incidents"),
                         ("GET", "/no-such-page")]:
        page = client.open(path, method=method, data={"email": "a@b.example", "password": "x"})
        assert page.status_code == 503, (method, path)
        assert page.mimetype == "text/html" and page.headers["Retry-After"] == "5"
        html = page.get_data(as_text=True)
        assert "<h1>Service Unavailable</h1>" in html and "cert-share db upgrade" in html

    token = auth("not-checked-while-the-schema-is-behind")
    for method, path in [("GET", "/api/v1/incidents"), ("POST", "/api/v1/incidents"), ("GET", "/api/v1/openapi.json")]:
        api = client.open(path, method=method, headers=token, json={"title": "x"})
        assert api.status_code == 503 and api.mimetype == "application/json", (method, path)
        assert api.get_json()["status"] == 503 and PENDING in api.get_json()["message"]
        assert api.headers["Retry-After"] == "5"

    for path in ["/taxii2/", "/taxii2/api/collections/"]:
        taxii = client.get(path, headers={**token, "Accept": TAXII})
        assert taxii.status_code == 503 and taxii.headers["Content-Type"] == TAXII
        error = taxii.get_json()
        assert error["http_status"] == "503" and PENDING in error["description"]


def test_the_server_logs_the_pending_migration_at_start_and_an_upgrade_lifts_the_gate(unmigrated, caplog,
                                                                                    monkeypatch):
    with caplog.at_level("ERROR"):
        status = health.check_at_start(unmigrated)
    assert status.state == "behind"
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [PENDING]

    client = unmigrated.test_client()
    assert client.get("/login").status_code == 503
    result = unmigrated.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    # Still the cached answer: the revision is read at most every RECHECK_SECONDS...
    assert client.get("/login").status_code == 503
    later = health.monotonic() + health.RECHECK_SECONDS + 1
    monkeypatch.setattr(health, "monotonic", lambda: later)
    # ...and then the upgrade is seen without a restart.
    assert client.get("/login").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_while_one_request_rereads_the_revision_the_others_do_not_wait_for_it(unmigrated, monkeypatch):
    """A database slow to refuse a connection holds up the one request that reads the revision;
    the others answer at once with the last reading."""
    client = unmigrated.test_client()
    assert client.get("/login").status_code == 503
    entered, release = threading.Event(), threading.Event()
    real_read = health.read_status

    def slow_read(engine):
        entered.set()
        assert release.wait(timeout=30)
        return real_read(engine)

    monkeypatch.setattr(health, "read_status", slow_read)
    later = health.monotonic() + health.RECHECK_SECONDS + 1
    monkeypatch.setattr(health, "monotonic", lambda: later)
    reader = threading.Thread(target=lambda: unmigrated.test_client().get("/login"))
    reader.start()
    try:
        assert entered.wait(timeout=30)
        assert client.get("/api/v1/incidents").status_code == 503  # the last reading...
        assert reader.is_alive()  # ...while the reading request still waits for the database
    finally:
        release.set()
        reader.join(timeout=30)


def test_the_schema_is_read_once_while_it_is_current(app, client):
    assert client.get("/login").status_code == 200
    with sql_statements(app) as statements:
        for path in ("/login", "/login", "/api/v1/openapi.json"):
            assert client.get(path).status_code == 200
    assert not [s for s in statements if "alembic_version" in s]


def test_a_signed_in_analyst_one_migration_behind_gets_the_page_saying_so(app, factory, stamp):
    user = factory.user(factory.org("First Bank"), "analyst")
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    previous = ScriptDirectory(MIGRATIONS_DIRECTORY).get_revision(HEAD).down_revision
    stamp(previous)
    assert client.get("/readyz").status_code == 503  # the probe reads the revision again
    page = client.get("/incidents")
    assert page.status_code == 503 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert f"database at revision {previous}, code expects {HEAD}: run `cert-share db upgrade`" in html
    stamp(HEAD)
    assert client.get("/readyz").status_code == 200
    assert client.get("/incidents").status_code == 200  # still signed in


def test_a_database_upgraded_by_newer_code_keeps_serving_during_a_rolling_upgrade(app, client, stamp):
    stamp("9999_from_the_next_release")
    ready = client.get("/readyz")
    assert ready.status_code == 200
    schema = ready.get_json()["checks"]["schema"]
    assert schema["ok"] is True and schema["state"] == "newer"
    assert "finish deploying the release that upgraded it" in schema["reason"]
    assert client.get("/login").status_code == 200


def _redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture
def redis_down(app, database_url, tmp_path):
    """An app whose REDIS_URL (with a password) points at a port where nothing listens."""
    down = _make_app(database_url, tmp_path,
                     RATELIMIT_STORAGE_URI=f"redis://:{REDIS_PASSWORD}@127.0.0.1:{_closed_port()}/0")
    yield down
    with down.app_context():
        db.session.remove()
        db.engine.dispose()


REDIS_PASSWORD = "redis-password-never-shown"


def test_readyz_names_redis_when_it_is_down(redis_down):
    ready = redis_down.test_client().get("/readyz")
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["reason"] == "redis: not reachable (REDIS_URL)"
    assert body["checks"]["database"]["ok"] and body["checks"]["schema"]["ok"]
    assert REDIS_PASSWORD not in ready.get_data(as_text=True)


def test_sign_in_still_works_while_redis_is_down(redis_down):
    factory = Factory(redis_down)
    user = factory.user(factory.org("First Bank"), "analyst")
    client = redis_down.test_client()
    assert login(client, user.email).status_code == 302
    assert client.get("/incidents").status_code == 200


def test_readyz_is_ok_with_redis_answering(database_url, tmp_path):
    url = "redis://127.0.0.1:6379/15"
    if not _redis_answers(url):
        pytest.skip("no Redis at 127.0.0.1:6379")
    up = _make_app(database_url, tmp_path, RATELIMIT_STORAGE_URI=url)
    try:
        ready = up.test_client().get("/readyz")
        assert ready.status_code == 200 and ready.get_json()["checks"]["redis"] == {"ok": True}
    finally:
        with up.app_context():
            db.engine.dispose()


def test_gunicorn_on_an_unmigrated_database_logs_what_to_run_and_answers_503(empty_database_url, tmp_path):
    """As deployed: the log names the pending migration when a worker starts; the probes answer."""
    port = _closed_port()
    env = {**os.environ, "CERT_SHARE_ENV": "test", "DATABASE_URL": empty_database_url,
           "SECRET_KEY": "test-secret-key", "MAILDIR": str(tmp_path / "maildir")}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:cert_share.gunicorn_conf",
                             "--workers", "1", "--bind", f"127.0.0.1:{port}", "cert_share:worker_app()"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        import http.client

        def answers() -> bool:
            assert proc.poll() is None
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/healthz")
                return connection.getresponse().status == 200
            except OSError:
                return False

        wait_until(answers, timeout=60, what="gunicorn to answer /healthz")
        for path, status in [("/readyz", 503), ("/login", 503), ("/healthz", 200)]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            assert connection.getresponse().status == status, path
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert PENDING in output
    assert "Traceback" not in output


def test_a_probe_after_the_upgrade_lifts_the_gate_at_once(unmigrated):
    """After `cert-share db upgrade` a probe's reading lifts the gate: the form works at once."""
    client = unmigrated.test_client()
    assert client.get("/login").status_code == 503
    assert unmigrated.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    assert client.get("/readyz").status_code == 200
    assert csrf_token(client.get("/login").get_data(as_text=True))


def test_the_scheduler_refuses_to_start_on_a_schema_behind_the_code(unmigrated):
    # Its jobs would fail one after another against the old schema; the unit restarts it later.
    unmigrated.config["SCHEDULER_ENABLED"] = True
    result = unmigrated.test_cli_runner().invoke(args=["scheduler", "run"])
    assert result.exit_code == 2, result.output
    assert "code expects" in result.output and "cert-share db upgrade" in result.output
