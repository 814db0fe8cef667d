"""The database a bench runs against: ``--database-url`` for every bench.

Default (no URL): a fresh SQLite file in a temporary directory, as the benches always used.
A PostgreSQL URL names the *server* (and credentials): the bench creates its own scratch
database ``cs_bench_<pid>`` there and drops it at the end, so it never touches the database the
URL names (``test`` in CI). Usage::

    with scratch_database(args.database_url, tmp) as url:
        env["DATABASE_URL"] = url
"""
from __future__ import annotations

import argparse
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server to run on, e.g. postgresql://postgres@127.0.0.1:5432/test "
                             "(a scratch database cs_bench_<pid> is created there and dropped); "
                             "default: a fresh SQLite file")


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql", "postgres:"))


def label(url: str) -> str:
    """A short name for result tables: SQLite or PostgreSQL <version>."""
    if not is_postgresql(url):
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    from sqlalchemy import create_engine, text

    from cert_share import _normalize_db_url

    engine = create_engine(_normalize_db_url(url))
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
    engine.dispose()
    return f"PostgreSQL {version.split()[0]}"


def _admin(url: str, *statements: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from cert_share import _normalize_db_url

    engine = create_engine(make_url(_normalize_db_url(url)).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


@contextmanager
def scratch_database(url: str | None, tmp: Path | None = None, *, name: str = "bench.db") -> Iterator[str]:
    """Yield the URL of an empty database: a new SQLite file under ``tmp`` (a new temporary
    directory when None), or ``cs_bench_<pid>`` on the PostgreSQL server ``url`` names, dropped
    on the way out."""
    if not url:
        folder = tmp or Path(tempfile.mkdtemp(prefix="cs-bench-"))
        yield f"sqlite:///{folder / name}"
        return
    if not is_postgresql(url):
        yield url  # another SQLite file the caller chose
        return
    from sqlalchemy.engine import make_url

    scratch = f"cs_bench_{os.getpid()}"
    _admin(url, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)', f'CREATE DATABASE "{scratch}"')
    try:
        yield make_url(url).set(database=scratch).render_as_string(hide_password=False)
    finally:
        _admin(url, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def date_added_near_end(db_url: str, back: int = 50) -> str:
    """The date_added of the object ``back`` places from the newest, as a TAXII ``added_after``."""
    from sqlalchemy import create_engine, text

    from cert_share import _normalize_db_url

    engine = create_engine(_normalize_db_url(db_url))
    with engine.connect() as conn:
        value = conn.execute(text("SELECT date_added FROM stix_objects ORDER BY date_added DESC, pk DESC "
                                  "LIMIT 1 OFFSET :back"), {"back": back}).scalar_one()
    engine.dispose()
    if not isinstance(value, str):  # PostgreSQL: a datetime (UTC, naive)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.replace(" ", "T") + ("Z" if not value.endswith("Z") else "")
