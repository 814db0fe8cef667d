"""PostgreSQL connections never keep a server-side prepared statement: a generic plan made when
the tables were small stayed for the connection's life and intake grew slower with every report
(issue 14; cert_share._engine_options)."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from cert_share import _engine_options
from cert_share.extensions import db


def test_postgresql_options_turn_automatic_prepares_off_and_keep_the_callers():
    options = _engine_options("postgresql+psycopg://u@h/d", {"pool_pre_ping": True,
                                                              "connect_args": {"connect_timeout": 5}})
    assert options["connect_args"] == {"connect_timeout": 5, "prepare_threshold": None}
    assert options["pool_pre_ping"] is True
    assert "connect_args" not in _engine_options("sqlite://", {"pool_pre_ping": True})


def test_a_statement_run_many_times_is_never_prepared(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only")
        with db.engine.connect() as conn:
            for n in range(10):  # psycopg's default would prepare it on the 6th run
                conn.execute(text("SELECT count(*) FROM organizations WHERE id > :n"), {"n": n})
            prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
    assert prepared == 0
