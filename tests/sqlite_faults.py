"""SQLite failures made on purpose, for the tests that prove a write survives them."""
from __future__ import annotations

import sqlite3


def refuse_checkpoints(dbapi_conn, _record) -> None:
    """An authorizer that makes every wal_checkpoint fail, as a full disk or I/O error would."""
    def authorize(action, arg1, *_rest):
        refused = action == sqlite3.SQLITE_PRAGMA and arg1 == "wal_checkpoint"
        return sqlite3.SQLITE_DENY if refused else sqlite3.SQLITE_OK

    dbapi_conn.set_authorizer(authorize)
