"""Engine tuning per database backend, and the session type the storage and service functions take."""
from __future__ import annotations

import os
import sqlite3
import weakref

from flask import request
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, scoped_session

from . import sqlite_writer
from .extensions import db

# A session as services receive it: flask-sqlalchemy's db.session (a scoped_session that hands
# every call to the current app context's session) from views and jobs, or a plain Session.
DbSession = Session | scoped_session[FlaskSession]

# The read connection of a request (request_connection), in its WSGI environ.
_REQUEST_CONNECTION = "cert_share.request_connection"


def request_connection() -> Connection:
    """One Core connection of the current request for its reads, opened on first use and closed
    by close_request_connection (a teardown the TAXII blueprint registers for every request,
    so a request that opened one never leaves it checked out). A TAXII poll's two
    SELECTs cost less on it than through db.session: no Session, SessionTransaction or session
    close per request. Writes stay in db.session.

    Kept in the request's WSGI environ, not in ``g``: an app context already open (a script's, a
    test's) is shared by every request made in it, and would hand one request's connection to the next."""
    environ = request.environ
    connection = environ.get(_REQUEST_CONNECTION)
    if connection is None:
        connection = environ[_REQUEST_CONNECTION] = db.engine.connect()
    return connection


def close_request_connection(_error: BaseException | None = None) -> None:
    """Teardown: return the request's read connection (if it opened one) to the pool."""
    connection = request.environ.pop(_REQUEST_CONNECTION, None)
    if connection is not None:
        connection.close()


# Engines already set up. Weak, not id()s: a later engine can reuse a disposed one's id (every
# test makes an app), and would then have run without its pragmas and without the writer queue.
_configured: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def sqlite_engine_options(url: str, options: dict) -> dict:
    """SQLite file databases: connections that queue writers on an OS lock (sqlite_writer.py),
    and no pre-ping — a file cannot drop the connection, and the ping would add a query to every request."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:") \
            or parsed.database.startswith("file:"):
        return options
    options = dict(options, pool_pre_ping=False)
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("factory", sqlite_writer.connection_class(sqlite_writer.lock_for(parsed.database)))
    options["connect_args"] = connect_args
    return options


def own_statement_listeners(engine: Engine) -> int:
    """How many of ``engine``'s statement listeners (before and after cursor execute) are the
    app's own: its SQLite writer queue, below. driver_sql takes any more as someone watching."""
    return 1 if engine in _configured else 0


def configure_engine(engine: Engine) -> None:
    """SQLite: WAL so readers never block the writer, foreign keys on, wait for locks."""
    if engine.dialect.name != "sqlite" or engine in _configured:
        return
    _configured.add(engine)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Up to 64 MiB of page cache per connection, allocated as used. The default 2 MiB is less
        # than a large import's transaction dirties (40,000 rows in five indexes), and SQLite then
        # spills dirty pages to the WAL in the middle of the transaction.
        cur.execute("PRAGMA cache_size=-65536")
        if hasattr(dbapi_conn, "take_writer_lock"):
            cur.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints after commits instead (sqlite_writer.py)
            cur.execute(f"PRAGMA journal_size_limit={sqlite_writer.WAL_RESET_BYTES}")
        cur.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _queue_writer(conn, _cursor, statement, _parameters, _context, _executemany):
        dbapi_conn = conn.connection.dbapi_connection
        take = getattr(dbapi_conn, "take_writer_lock", None)
        if take is not None and not dbapi_conn.holds_writer_lock and sqlite_writer.is_write(statement):
            take()


# The Alembic migrations: migrations/ beside the package in a source tree, inside it
# (cert_share/migrations) when installed from a wheel, which ships them there (setup.cfg: packages).
_PACKAGED_MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
MIGRATIONS_DIRECTORY = _PACKAGED_MIGRATIONS if os.path.isdir(_PACKAGED_MIGRATIONS) else \
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def migrations(app):
    """Flask-Migrate for ``app``, set up on first use (Alembic is a slow import that only the
    ``db`` commands and the test fixtures need). Upgrades go through schema_upgrade.upgrade."""
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        Migrate(app, db, directory=MIGRATIONS_DIRECTORY)
    return app.extensions["migrate"]


# PostgreSQL SQLSTATE 53100 disk_full (class 53, insufficient resources).
_PG_DISK_FULL = "53100"
# SQLite result codes that describe the database's state, not the statement: busy, locked, out of
# memory, I/O error, cannot open, lock protocol. (Its "no such table" is an OperationalError too.)
_SQLITE_UNAVAILABLE = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM,
                                 sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL})


def storage_failure(error: BaseException) -> str | None:
    """What a database error says about the server rather than the request.

    "full": the disk (or the database's size cap) is full, so nothing more can be written until
    an administrator frees space. "unavailable": the connection was lost or refused, or the
    database is busy, locked or briefly unable to answer; the same request may succeed in a
    moment. None: anything else (a constraint, a bug), which is not the server's state.
    SQLAlchemy has already invalidated a connection that was cut: the pool opens a new one.
    """
    if isinstance(error, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return "unavailable"
    if not isinstance(error, sa_exc.DBAPIError):
        return None
    original = error.orig
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", 0) & 0xFF  # the primary code
        if code == sqlite3.SQLITE_FULL:
            return "full"
        return "unavailable" if code in _SQLITE_UNAVAILABLE else None
    if getattr(original, "sqlstate", None) == _PG_DISK_FULL:
        return "full"
    # psycopg raises OperationalError for lost connections, an administrator's shutdown,
    # cancelled statements, lock and serialization failures: all the server's state.
    if error.connection_invalidated or isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return "unavailable"
    return None
