"""Does the backup the README prescribes restore into a working copy of the platform?

PostgreSQL: ``pg_dump --format=custom`` of a database in use, ``pg_restore`` into an empty one.
SQLite: the online backup API (``sqlite3 DB ".backup FILE"``), taken while the app holds the
database open. Either way every table of the copy holds the same rows (count and a checksum of
its contents), the copy is at the same schema revision, and a member's token still reads its
reports from an app made on the copy.
"""
from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from cert_share import _normalize_db_url, create_app
from tests.conftest import _config, auth
from tests.integration.incident_bodies import incident_body


def _table_fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of its rows in primary-key order (as text)."""
    engine = create_engine(_normalize_db_url(url))
    found = {}
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            for table in sorted(inspector.get_table_names()):
                key = inspector.get_pk_constraint(table)["constrained_columns"] or \
                    [c["name"] for c in inspector.get_columns(table)]
                order = ", ".join(f'"{c}"' for c in key)
                rows = conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}')).all()
                found[table] = (len(rows), hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest())
    finally:
        engine.dispose()
    return found


def _some_data(app, factory, client) -> str:
    bank = factory.org("First Bank")
    factory.user(bank, email="soc@bank.example")
    token = factory.token(bank)
    for n in range(3):
        response = client.post("/api/v1/incidents", json=incident_body(external_id=f"backup-{n}"), headers=auth(token))
        assert response.status_code == 201, response.get_json()
    return token


def _reports_read_from(url: str, token: str, tmp_path) -> list[str]:
    restored = create_app({**_config(url), "MAILDIR": str(tmp_path / "restored-maildir")})
    response = restored.test_client().get("/api/v1/incidents", headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return sorted(item["external_id"] for item in response.get_json()["incidents"])


def test_a_backup_restores_every_row_and_serves_the_reports(app, factory, client, database_url, tmp_path):
    token = _some_data(app, factory, client)
    before = _table_fingerprints(database_url)
    assert before["incidents"][0] == 3 and before["alembic_version"][0] == 1

    if database_url.startswith("sqlite"):
        source = make_url(database_url).database
        copy = tmp_path / "restored.db"
        # The online backup, as `sqlite3 cert-share.db ".backup FILE"` takes it, while the app is connected.
        with sqlite3.connect(source) as live, sqlite3.connect(copy) as target:
            live.backup(target)
        restored_url = f"sqlite:///{copy}"
        drop = None
    else:
        if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
            pytest.skip("pg_dump/pg_restore are not installed")
        source = make_url(database_url)
        name = f"restored_{uuid.uuid4().hex[:8]}"
        admin = create_engine(_normalize_db_url(database_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        libpq = source.set(drivername="postgresql")
        dump = tmp_path / "cert-share.dump"
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(dump),
                        libpq.render_as_string(hide_password=False)], check=True)
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname",
                        libpq.set(database=name).render_as_string(hide_password=False), str(dump)], check=True)
        restored_url = source.set(database=name).render_as_string(hide_password=False)

        def drop():
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    try:
        assert _table_fingerprints(restored_url) == before
        assert _reports_read_from(restored_url, token, tmp_path) == ["backup-0", "backup-1", "backup-2"]
    finally:
        if drop is not None:
            drop()
