"""When the database is out of reach or out of space, what a member's tooling, a TAXII client and a
signed-in analyst see: 503 with Retry-After while the connection is cut, 507 while the disk is
full, each in its route's dialect; nothing stored half-way; and the retry (by external_id) files
the report exactly once as soon as the database is back."""
from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.pool import NullPool

from cert_share import create_app
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Incident
from tests.conftest import _config, auth
from tests.integration.incident_bodies import incident_body
from tests.integration.taxii_world import API, build_world, indicator
from tests.integration.web_login import login, page_token

MEDIA = "application/taxii+json;version=2.1"


def form() -> dict:
    detected = (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")  # typed in UTC
    return {"title": "Ransomware on file servers", "description": "Encrypted shares.",
            "classification": "malicious-code/infected-system", "severity": "high", "tlp": "amber",
            "timezone": "UTC", "detected_at": detected, "started_at": "", "classified_at": "",
            "affected_services": "", "impact": "", "observables": "203.0.113.7\n"}


def row_counts(app) -> dict[str, int]:
    """Rows in every table: a request that failed must leave them all as they were."""
    with app.app_context():
        counts = {t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in db.metadata.sorted_tables}
        db.session.rollback()
        return counts


def reports_with(app, external_id: str) -> list[int]:
    with app.app_context():
        ids = list(db.session.execute(select(Incident.id).where(Incident.external_id == external_id)).scalars())
        db.session.rollback()
        return ids


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


@pytest.fixture
def postgresql_only(database_template):
    if database_template["kind"] != "postgresql":
        pytest.skip("a SQLite file has no connection to cut")


@contextmanager
def connection_cut(app, at: str):
    """Terminate the server process behind this app's connection (pg_terminate_backend, from
    another connection), once, just before the first statement that starts with ``at`` (or,
    with ``at="COMMIT"``, just before the transaction commits; with ``at="CHECKOUT"``, as the
    pool hands a connection out, its ping passed, with no statement listener on the engine): the
    statement then meets a dead connection, exactly as when an administrator or a failover ends
    the session."""
    with app.app_context():
        engine = db.engine
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    cuts: list[str] = []

    def terminate(conn, what: str) -> None:
        terminate_pid(conn.connection.dbapi_connection.info.backend_pid, what)

    def terminate_pid(pid: int, what: str) -> None:
        cuts.append(what)
        with admin.connect() as other:
            # Waits (up to 10 s) until the process has ended, so the cut is certain.
            assert other.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar()

    def before_statement(conn, _cursor, statement, *_args):
        if not cuts and statement.lstrip().upper().startswith(at):
            terminate(conn, statement)

    def before_commit(conn):
        if not cuts:
            terminate(conn, "COMMIT")

    def on_checkout(dbapi_connection, _record, _proxy):
        if not cuts:
            terminate_pid(dbapi_connection.info.backend_pid, "CHECKOUT")

    # The schema gate reads the database's revision once, on the first request: read it now, so
    # that the cut meets the request's own statements (a cut revision read is only "unknown").
    app.test_client().get("/readyz")
    hook = {"COMMIT": ("commit", before_commit), "CHECKOUT": ("checkout", on_checkout)}.get(
        at, ("before_cursor_execute", before_statement))
    event.listen(engine, *hook)
    try:
        yield cuts
    finally:
        event.remove(engine, *hook)
        admin.dispose()


def assert_retry_later(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"


# -- a connection cut mid-request (PostgreSQL) ------------------------------------------------

@pytest.mark.parametrize("at", ["SELECT", "INSERT INTO INCIDENTS", "INSERT INTO OBSERVABLES", "COMMIT"])
def test_a_report_whose_connection_is_cut_gets_503_and_its_retry_files_it_once(
        app, client, factory, postgresql_only, at):
    bank = factory.org("First Bank")
    token = factory.token(bank)
    before = row_counts(app)
    with connection_cut(app, at) as cuts:
        response = client.post("/api/v1/incidents", json=incident_body(external_id="SOC-4711"), headers=auth(token))
    assert cuts, f"no statement starting with {at} ran"
    assert_retry_later(response)
    body = response.json
    assert body["status"] == 503 and body["error"] == "Service unavailable"
    assert "external_id" in body["message"] and "Retry" in body["message"]
    assert row_counts(app) == before, "a cut request left rows behind"

    retry = client.post("/api/v1/incidents", json=incident_body(external_id="SOC-4711"), headers=auth(token))
    assert retry.status_code == 201, retry.json  # the pool replaced the dead connection
    again = client.post("/api/v1/incidents", json=incident_body(external_id="SOC-4711"), headers=auth(token))
    assert (again.status_code, again.json["id"]) == (200, retry.json["id"])
    assert reports_with(app, "SOC-4711") == [retry.json["id"]]


# SELECT: cut under SQLAlchemy's path (a statement listener watches). CHECKOUT: cut as the pool hands
# the connection out, with no statement listener, so the poll's SELECTs run on the driver's cursor
# (driver_sql.py), whose error is raised again as SQLAlchemy raises it: the same 503.
@pytest.mark.parametrize("at", ["SELECT", "CHECKOUT"])
def test_a_taxii_poll_whose_connection_is_cut_gets_a_503_taxii_error_then_works(
        app, client, world, postgresql_only, at):
    world.publish("all-members", [indicator()])
    url = f"{API}collections/{world.collection('all-members').id}/objects/"
    headers = {"Authorization": f"Bearer {world.tokens['bank']}", "Accept": MEDIA}
    with connection_cut(app, at) as cuts:
        response = client.get(url, headers=headers)
    assert cuts
    assert_retry_later(response)
    assert response.headers["Content-Type"] == MEDIA
    assert response.json["http_status"] == "503" and "Retry" in response.json["description"]
    assert len(client.get(url, headers=headers).json["objects"]) == 1


def test_a_taxii_push_whose_connection_is_cut_stores_nothing_and_the_retry_stores_it(
        app, client, world, postgresql_only):
    url = f"{API}collections/{world.collection('intake').id}/objects/"
    headers = {"Authorization": f"Bearer {world.tokens['bank']}", "Accept": MEDIA, "Content-Type": MEDIA}
    bundle = {"objects": [indicator()]}
    before = row_counts(app)
    with connection_cut(app, "COMMIT") as cuts:
        response = client.post(url, json=bundle, headers=headers)
    assert cuts
    assert_retry_later(response)
    assert response.json["http_status"] == "503"
    assert row_counts(app) == before
    stored = client.post(url, json=bundle, headers=headers)
    assert stored.status_code == 202 and stored.json["success_count"] == 1


def test_an_analysts_page_whose_connection_is_cut_gets_a_503_page_then_works(
        app, client, factory, postgresql_only):
    bank = factory.org("First Bank")
    user = factory.user(bank, "analyst")
    assert login(client, user.email).status_code == 302
    with connection_cut(app, "SELECT") as cuts:
        response = client.get("/incidents")
    assert cuts
    assert_retry_later(response)
    assert response.mimetype in ("text/html", "text/plain")
    assert "Retry in 5 seconds" in response.get_data(as_text=True)
    assert client.get("/incidents").status_code == 200


# -- a full disk -------------------------------------------------------------------------------

@contextmanager
def database_full(app, database_template):
    """The database refuses to grow: on SQLite a page cap at its current size (SQLITE_FULL, as a
    full disk gives), on PostgreSQL the driver's disk_full error (SQLSTATE 53100) on every INSERT.
    Leaving the block is the administrator freeing space."""
    with app.app_context():
        engine = db.engine
    state = {"full": True}
    if database_template["kind"] == "sqlite":
        with engine.connect() as conn:
            cap = conn.execute(text("PRAGMA page_count")).scalar()

        def on_connect(dbapi_conn, _record):
            if state["full"]:
                dbapi_conn.execute(f"PRAGMA max_page_count = {cap}")

        hook = ("connect", on_connect)
    else:
        import psycopg

        def refuse_inserts(_conn, _cursor, statement, *_args):
            if state["full"] and statement.lstrip().upper().startswith("INSERT"):
                raise psycopg.errors.DiskFull('could not extend file "base/16384/16397": No space left on device')

        hook = ("before_cursor_execute", refuse_inserts)
    event.listen(engine, *hook)
    engine.dispose()  # pooled connections take the cap when they are opened again
    try:
        yield
    finally:
        state["full"] = False
        event.remove(engine, *hook)
        engine.dispose()


def assert_full(response) -> None:
    assert response.status_code == 507, response.get_data(as_text=True)[:300]
    assert "out of disk space" in response.get_data(as_text=True)


def test_a_full_database_answers_507_on_every_surface_stores_nothing_and_recovers(
        app, client, world, factory, database_template):
    user = factory.user(world.orgs["bank"], "analyst")
    web = app.test_client()
    assert login(web, user.email).status_code == 302
    form_token = page_token(web, "/incidents/new")
    big = "x" * 19_000  # with the observables, more than the free space left in SQLite's pages
    taxii_url = f"{API}collections/{world.collection('intake').id}/objects/"
    taxii = {"Authorization": f"Bearer {world.tokens['bank']}", "Accept": MEDIA, "Content-Type": MEDIA}
    many = [{"type": "ipv4-addr", "value": f"198.51.100.{i}"} for i in range(1, 201)]
    pushed = indicator(description=big * 3)
    before = row_counts(app)

    with database_full(app, database_template):
        api = client.post("/api/v1/incidents",
                          json=incident_body(external_id="SOC-1", description=big, observables=many),
                          headers=auth(world.tokens["bank"]))
        assert_full(api)
        assert api.json["status"] == 507 and api.json["error"] == "Insufficient storage"
        push = client.post(taxii_url, json={"objects": [pushed]}, headers=taxii)
        assert_full(push)
        assert push.headers["Content-Type"] == MEDIA and push.json["http_status"] == "507"
        page = web.post("/incidents/new", data={"csrf_token": form_token, **form(), "description": big})
        assert_full(page)
        assert row_counts(app) == before, "a refused write left rows behind"

    # Space is back: the same requests now go through, once.
    assert client.post("/api/v1/incidents", json=incident_body(external_id="SOC-1", description=big, observables=many),
                       headers=auth(world.tokens["bank"])).status_code == 201
    assert client.post(taxii_url, json={"objects": [pushed]}, headers=taxii).json["success_count"] == 1
    page = web.post("/incidents/new", data={"csrf_token": page_token(web, "/incidents/new"), **form()})
    assert page.status_code == 302
    assert len(reports_with(app, "SOC-1")) == 1


def test_a_report_whose_checkpoint_fails_after_the_commit_is_acknowledged_and_kept(
        app, client, factory, database_template, monkeypatch):
    if database_template["kind"] != "sqlite":
        pytest.skip("checkpoints are SQLite's")
    from cert_share import sqlite_writer
    from tests.sqlite_faults import refuse_checkpoints

    monkeypatch.setattr(sqlite_writer, "CHECKPOINT_INTERVAL", 0.0)  # every commit checkpoints
    token = factory.token(factory.org("First Bank"))
    with app.app_context():
        engine = db.engine
    engine.dispose()
    event.listen(engine, "connect", refuse_checkpoints)
    try:
        response = client.post("/api/v1/incidents", json=incident_body(external_id="SOC-9"), headers=auth(token))
    finally:
        event.remove(engine, "connect", refuse_checkpoints)
        engine.dispose()
    assert response.status_code == 201, response.json
    assert reports_with(app, "SOC-9") == [response.json["id"]]


@pytest.fixture
def small_disk(tmp_path, database_template):
    """An 8 MiB tmpfs holding a copy of the migrated SQLite database (needs CAP_SYS_ADMIN)."""
    if database_template["kind"] != "sqlite":
        pytest.skip("the database file must live on the small filesystem")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip() or done.returncode}")
    try:
        shutil.copy(database_template["path"], mount / "cert-share.db")
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory) -> None:
    """Write a file until the filesystem has no space left."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)


def test_a_disk_that_fills_up_answers_507_and_writes_recover_once_space_is_back(small_disk, factory_on_small_disk):
    app, token = factory_on_small_disk
    client = app.test_client()
    first = client.post("/api/v1/incidents", json=incident_body(external_id="SOC-1"), headers=auth(token))
    assert first.status_code == 201
    with app.app_context(), db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the next write needs new space
    fill(small_disk)
    before = row_counts(app)
    full = client.post("/api/v1/incidents", json=incident_body(external_id="SOC-2", description="y" * 19_000),
                       headers=auth(token))
    assert_full(full)
    assert row_counts(app) == before
    assert client.get("/api/v1/incidents", headers=auth(token)).status_code == 200, "reads go on"

    os.remove(small_disk / "filler")
    assert client.post("/api/v1/incidents", json=incident_body(external_id="SOC-2", description="y" * 19_000),
                       headers=auth(token)).status_code == 201
    assert len(reports_with(app, "SOC-2")) == 1


@pytest.fixture
def factory_on_small_disk(small_disk, tmp_path):
    from tests.conftest import Factory

    app = create_app({**_config(f"sqlite:///{small_disk / 'cert-share.db'}"), "MAILDIR": str(tmp_path / "maildir")})
    factory = Factory(app)
    bank = factory.org("First Bank")
    yield app, factory.token(bank)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
