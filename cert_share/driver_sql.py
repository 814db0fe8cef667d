"""SELECTs of the hot read path run on the database driver's cursor, compiled once per dialect.

A TAXII poll runs two statements (its token and its page). Through SQLAlchemy's
``Connection.execute`` each costs far more than the query itself: a cache key per execution,
its parameters processed through the compiled statement, an execution context and a result
object with its metadata (about 0.1 ms and a tenth of a poll's instructions each,
docs/performance.md, issue 14). A :class:`DriverSelect` compiles its statement once per dialect
into SQL text, the order of its parameters and their and its columns' type processors, and then
runs it on the DBAPI cursor of the request's connection: the same SQL, the same values, the
same Python types in the rows.

SQLAlchemy's path is kept wherever it does something this one would skip:

- a statement with a list parameter expanded per execution (``IN`` over a request's values);
- an engine with statement listeners other than the app's own (a test's capture, a tracer):
  they see every statement, as before;
- any error from the driver: the statement is run again through SQLAlchemy (after a rollback,
  as PostgreSQL refuses every statement of a transaction that failed), which raises the error
  wrapped as every other statement's (database.storage_failure reads it; a cut connection is
  invalidated and replaced by the pool), or answers if the failure was passing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Select

from .database import own_statement_listeners


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...] | None  # parameter order (a positional paramstyle), else named
    fixed: dict[str, Any]  # values given with the statement (bindparam(name, value))
    binds: dict[str, Callable[[Any], Any]]  # parameter -> the type's processor
    columns: tuple[Callable[[Any], Any] | None, ...] | None  # None: rows need no conversion


class DriverRows:
    """What a DriverSelect returns: the rows as tuples, fetched from the driver as they are
    asked for (``fetchmany``, ``first``, ``all``); ``close`` frees the cursor."""

    def __init__(self, cursor: Any, columns: Sequence[Callable[[Any], Any] | None] | None) -> None:
        self._cursor = cursor
        self._columns = columns

    def _convert(self, rows: list) -> list:
        if self._columns is None:
            return rows
        processors = self._columns
        return [tuple(value if processor is None or value is None else processor(value)
                      for processor, value in zip(processors, row, strict=True)) for row in rows]

    def fetchmany(self, size: int) -> list:
        return self._convert(self._cursor.fetchmany(size))

    def first(self) -> tuple | None:
        try:
            rows = self._convert(self._cursor.fetchmany(1))
        finally:
            self.close()
        return rows[0] if rows else None

    def all(self) -> list:
        try:
            return self._convert(self._cursor.fetchall())
        finally:
            self.close()

    def close(self) -> None:
        self._cursor.close()


class DriverSelect:
    """``statement`` run on the driver's cursor (see the module's docstring); ``execute`` takes
    the same parameters as ``Connection.execute`` and gives rows that index as its rows do."""

    def __init__(self, statement: Select) -> None:
        self.statement = statement
        self._plans: dict[tuple, _Plan | None] = {}

    def _plan(self, dialect: Dialect) -> _Plan | None:
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        if key in self._plans:
            return self._plans[key]
        compiled = self.statement.compile(dialect=dialect)
        plan = None
        if not any(bind.expanding for bind in compiled.binds.values()):
            fixed = {name: bind.value for name, bind in compiled.binds.items() if bind.value is not None}
            binds: dict[str, Callable[[Any], Any]] = {}
            for name, bind in compiled.binds.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    binds[name] = processor
            columns = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                            for column in self.statement.selected_columns)
            plan = _Plan(sql=str(compiled), names=tuple(compiled.positiontup or ()) if compiled.positional else None,
                         fixed=fixed, binds=binds, columns=columns if any(columns) else None)
        self._plans[key] = plan
        return plan

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        plan = self._plan(connection.dialect)
        if plan is None or _listened(connection):
            return connection.execute(self.statement, dict(params))
        values = dict(plan.fixed, **params) if plan.fixed else dict(params)
        for name, processor in plan.binds.items():
            if name in values:
                values[name] = processor(values[name])
        arguments: Any = [values[name] for name in plan.names] if plan.names is not None else values
        dbapi_connection = connection.connection.driver_connection
        assert dbapi_connection is not None  # a live pooled connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(plan.sql, arguments)
        except Exception:  # noqa: BLE001 (SQLAlchemy's path raises it as the app expects, below)
            _discard(cursor, dbapi_connection)
            return connection.execute(self.statement, dict(params))
        return DriverRows(cursor, plan.columns)


def _listened(connection: Connection) -> bool:
    dispatch = connection.dispatch  # the engine's listeners and the connection's own
    return (len(dispatch.before_cursor_execute) + len(dispatch.after_cursor_execute)
            > own_statement_listeners(connection.engine))


def _discard(cursor: Any, dbapi_connection: Any) -> None:
    """Close the failed cursor and end the transaction the failure spoiled (PostgreSQL), on a
    connection that may already be dead: SQLAlchemy's run then meets the state as it is."""
    for step in (cursor.close, dbapi_connection.rollback):
        try:
            step()
        except Exception:  # noqa: BLE001,S110 (a dead connection: SQLAlchemy's run reports it)
            pass
