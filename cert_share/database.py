"""Engine tuning per database backend."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from . import sqlite_writer

_configured: set[int] = set()


def sqlite_engine_options(url: str, options: dict) -> dict:
    """SQLite file databases: connections that queue writers on an OS lock (sqlite_writer.py),
    and no pre-ping — a file cannot drop the connection, and the ping was a query per request."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:") \
            or parsed.database.startswith("file:"):
        return options
    options = dict(options, pool_pre_ping=False)
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("factory", sqlite_writer.connection_class(sqlite_writer.lock_for(parsed.database)))
    options["connect_args"] = connect_args
    return options


def configure_engine(engine: Engine) -> None:
    """SQLite: WAL so readers never block the writer, foreign keys on, wait for locks."""
    if engine.dialect.name != "sqlite" or id(engine) in _configured:
        return
    _configured.add(id(engine))

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Up to 64 MiB of page cache per connection (allocated as used; the default is 2 MiB): a
        # large import's transaction touches more index pages than 2 MiB holds and spilled them.
        cur.execute("PRAGMA cache_size=-65536")
        if hasattr(dbapi_conn, "take_writer_lock"):
            cur.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints after commits instead (sqlite_writer.py)
        cur.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _queue_writer(conn, _cursor, statement, _parameters, _context, _executemany):
        dbapi_conn = conn.connection.dbapi_connection
        take = getattr(dbapi_conn, "take_writer_lock", None)
        if take is not None and not dbapi_conn.holds_writer_lock and sqlite_writer.is_write(statement):
            take()


def is_postgres(engine_or_session) -> bool:
    bind = getattr(engine_or_session, "bind", None) or engine_or_session
    if hasattr(engine_or_session, "get_bind"):
        bind = engine_or_session.get_bind()
    return bind.dialect.name == "postgresql"
