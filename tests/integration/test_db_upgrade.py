"""Upgrading the schema as an operator does: `cert-share db upgrade` says what it applied, two
started at once (two nodes deploying together) neither fail nor apply anything twice, and the
models agree with what the migrations make (`cert-share db check`, which CI runs as `make db-check`)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cert_share import _normalize_db_url
from cert_share.database import MIGRATIONS_DIRECTORY
from cert_share.extensions import db
from cert_share.schema_upgrade import upgrade_lock
from tests.conftest import PG_BASE, _pg_url

SCRIPTS = ScriptDirectory(MIGRATIONS_DIRECTORY)
HEAD = SCRIPTS.get_current_head()
WAITING = "another `db upgrade` of this database is running: waiting for it to finish"


@contextmanager
def _empty_database(tmp_path: Path):
    """An empty database: a SQLite file, or a PostgreSQL database made for this test."""
    if not PG_BASE:
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    name = f"cs_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_normalize_db_url(PG_BASE), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(PG_BASE, name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _cert_share(url: str, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "CERT_SHARE_ENV": "test", "DATABASE_URL": url}
    return subprocess.Popen([sys.executable, "-m", "cert_share.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def _run(url: str, *args: str) -> str:
    proc = _cert_share(url, *args)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def _upgrading(url: str) -> str:
    """The first line of `db upgrade`: which database, its password hidden."""
    return f"upgrading {make_url(_normalize_db_url(url)).render_as_string(hide_password=True)}"


def test_an_upgrade_names_each_migration_it_applied_and_a_repeat_applies_nothing(tmp_path):
    every = [script.revision for script in reversed(list(SCRIPTS.walk_revisions()))]
    with _empty_database(tmp_path) as url:
        first = _run(url, "db", "upgrade").splitlines()
        assert first[0] == _upgrading(url)
        assert [line.split(":")[0] for line in first[1:-1]] == [f"applied {rev}" for rev in every]
        assert first[-1] == f"now at head {HEAD}"
        assert _run(url, "db", "upgrade").splitlines() == [_upgrading(url), f"already at head {HEAD}"]

        previous = SCRIPTS.get_revision(HEAD).down_revision
        _run(url, "db", "downgrade", previous)
        again = _run(url, "db", "upgrade").splitlines()
        assert again == [_upgrading(url),
                         f"applied {HEAD}: {' '.join(SCRIPTS.get_revision(HEAD).doc.split())}",
                         f"now at head {HEAD}"]


def test_an_upgrade_run_without_the_settings_file_says_it_is_upgrading_a_local_sqlite_file(tmp_path):
    """An operator who forgets the settings file (no DATABASE_URL) sees at once that the upgrade
    went to a new SQLite file in the data directory, not to the PostgreSQL the nodes use."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(CERT_SHARE_ENV="test", CERT_SHARE_DATA_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "cert_share.cli", "db", "upgrade"], env=env, text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("upgrading sqlite:///") and str(tmp_path / "instance") in first


@pytest.mark.skipif(not PG_BASE, reason="a password in the URL: PostgreSQL only")
def test_an_upgrade_names_its_database_without_the_password(tmp_path):
    with _empty_database(tmp_path) as url:
        # The test server trusts local connections, so any password signs in.
        with_password = make_url(url).set(password="not-for-the-log").render_as_string(hide_password=False)
        out = _run(with_password, "db", "upgrade")
    assert "not-for-the-log" not in out
    assert out.splitlines()[0] == _upgrading(with_password) and ":***@" in out.splitlines()[0]


def test_two_upgrades_started_at_once_one_applies_the_other_waits_and_finds_nothing_to_do(tmp_path):
    """Without the lock both create the same tables, and one dies of a UniqueViolation (or
    'table already exists') halfway."""
    with _empty_database(tmp_path) as url:
        engine = create_engine(_normalize_db_url(url))
        try:
            # This test holds the lock while both start, so that they surely overlap.
            with upgrade_lock(engine, on_wait=lambda: None):
                procs = [_cert_share(url, "db", "upgrade") for _ in range(2)]
                for proc in procs:
                    assert proc.stderr is not None
                    lines = iter(proc.stderr.readline, "")
                    assert any(line.strip() == WAITING for line in lines), "the upgrade did not wait"
        finally:
            engine.dispose()
        results = [(proc.communicate(timeout=120), proc.returncode) for proc in procs]
    assert [code for _, code in results] == [0, 0], [err for (_, err), _ in results]
    outputs = sorted(out.splitlines()[-1] for (out, _), _ in results)
    assert outputs == [f"already at head {HEAD}", f"now at head {HEAD}"]
    applied = [out for (out, _), _ in results if "\napplied " in out]
    assert len(applied) == 1 and applied[0].count("\napplied ") == len(list(SCRIPTS.walk_revisions()))


def test_the_models_and_the_migrations_agree_and_the_check_sees_a_missing_index(app, runner, caplog):
    clean = runner.invoke(args=["db", "check"])
    assert clean.exit_code == 0, caplog.text

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_incidents_queue"))
        try:
            caplog.clear()
            with caplog.at_level(logging.ERROR):
                drift = runner.invoke(args=["db", "check"])
            assert drift.exit_code == 1
            assert "ix_incidents_queue" in caplog.text
        finally:
            with db.engine.begin() as conn:
                conn.execute(text("CREATE INDEX ix_incidents_queue ON incidents (status, created_at)"))
