"""The statements whose form depends on the database, so that services and domain code never
ask which database they run on.

Storing a row unless one with the same unique key exists, in the two ways callers write rows:
- ``insert_unless_exists``: a Core INSERT … ON CONFLICT DO NOTHING (plain rows, one statement);
- ``add_unless_exists``: an ORM object (with its relationships) added and flushed, dropped again
  when a unique key says another transaction stored it first.

Claiming rows that concurrent workers compete for: ``one_of_unlocked``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.dml import Insert

from ..database import DbSession


def dialect_of(session: DbSession) -> str:
    """The name of the database the session writes to ("sqlite", "postgresql")."""
    return session.get_bind().dialect.name


@lru_cache(maxsize=64)
def _insert_ignoring_duplicates(dialect: str, table: Table, conflict: tuple[str, ...] | None,
                                returning: tuple[str, ...] | None) -> Insert:
    # Built once per table and shape: constructing a statement (and its cache key) on every
    # report cost more than running it.
    elements = list(conflict) if conflict else None
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=elements)
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=elements)
    else:  # pragma: no cover
        raise NotImplementedError(f"no INSERT … ON CONFLICT for {dialect}")
    if returning:
        statement = statement.returning(*(table.c[name] for name in returning))
    return statement


def insert_unless_exists(session: DbSession, table: Table, rows: dict[str, Any] | list[dict[str, Any]], *,
                         conflict: tuple[str, ...] | None = None,
                         returning: tuple[str, ...] | None = None) -> CursorResult:
    """INSERT ``rows`` (one dict, or a list for one executemany) into ``table``, skipping each
    row that would break a unique key (only ``conflict``'s, when given) instead of raising.

    Returns the statement's result: with ``returning`` (column names) it yields those columns of
    the rows stored, none for a skipped row. (Ask that way whether a row was stored: ``rowcount``
    is -1 on PostgreSQL when SQLAlchemy fetches a generated key.) On PostgreSQL a row that a
    concurrent transaction is inserting waits for that transaction to end and is then skipped:
    the unique key decides a race without a savepoint around the statement (which a plain
    INSERT would need to keep the transaction usable)."""
    statement = _insert_ignoring_duplicates(dialect_of(session), table, conflict, returning)
    return cast(CursorResult, session.execute(statement, rows))  # an INSERT's result is a CursorResult


def add_unless_exists(session: DbSession, obj: object, *, after_own_write: bool = False) -> bool:
    """Add ``obj`` and flush it; False, and nothing of it stored, when a unique key says another
    transaction stored the same row first. The caller's transaction stays usable either way.

    A savepoint around the flush keeps the transaction usable when the key refuses the row.
    ``after_own_write`` says the caller's transaction has already written: on SQLite it then
    holds the database's only write lock until it ends, so no other transaction can store the
    row in between, and the savepoint (two more statements per row) is left out."""
    if after_own_write and dialect_of(session) == "sqlite":
        session.add(obj)
        session.flush()
        return True
    try:
        with session.begin_nested():
            session.add(obj)
            session.flush()
    except IntegrityError:
        return False
    return True


def one_of_unlocked(session: DbSession, column: ColumnElement[Any] | QueryableAttribute[Any],
                    candidates: Select) -> ColumnElement[bool]:
    """The condition "``column`` is one of the values ``candidates`` selects" for an UPDATE that
    claims rows, leaving out rows another transaction holds.

    On PostgreSQL the candidates are locked (FOR UPDATE SKIP LOCKED) in a CTE: a locking CTE runs
    exactly once, where the same SELECT as an IN (…) sub-query may be re-scanned by the planner
    and claim more rows than its LIMIT. SQLite has no row locks: one transaction writes at a time."""
    if dialect_of(session) == "postgresql":
        picked = candidates.with_for_update(skip_locked=True).cte("picked")
        return column == picked.c[0]
    return column.in_(candidates.scalar_subquery())
