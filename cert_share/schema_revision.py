"""Is the database's schema the one this code expects? Alembic's revision, read cheaply.

The code expects the head of the migrations shipped with it (database.MIGRATIONS_DIRECTORY); the
database says where it stands in its ``alembic_version`` table. Loading Alembic's own script
directory costs a worker start most of a second (it imports Alembic and every migration), so the
revisions are read here from each migration file's ``revision``/``down_revision`` assignments;
tests/unit/test_schema_revision.py checks that this finds what Alembic finds.

    current  the database is at the head: serve.
    behind   no schema yet, or an older revision of these migrations: `cert-share db upgrade`.
    newer    a revision these migrations do not know: newer code has upgraded the database
             (a rolling upgrade in progress). Served: refusing would take every node still on
             the old code out of service at once; the upgrade procedure keeps a migration
             readable by the release before it.
    unknown  the database could not be read (unreachable, busy).
"""
from __future__ import annotations

import ast
import functools
import os
from dataclasses import dataclass

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .database import MIGRATIONS_DIRECTORY

VERSION_TABLE = "alembic_version"
CURRENT, BEHIND, NEWER, UNKNOWN = "current", "behind", "newer", "unknown"
UPGRADE_COMMAND = "cert-share db upgrade"


@dataclass(frozen=True)
class Migrations:
    """The revisions in a migrations folder: every one, and the heads (none revises them)."""

    revisions: frozenset[str]
    heads: tuple[str, ...]


@functools.cache
def migrations(directory: str = MIGRATIONS_DIRECTORY) -> Migrations:
    """The revisions of the migrations in ``directory``/versions, read without Alembic."""
    revisions: set[str] = set()
    revised: set[str] = set()
    versions = os.path.join(directory, "versions")
    for name in sorted(os.listdir(versions)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(versions, name), encoding="utf-8") as source:
            values = _assignments(ast.parse(source.read(), filename=name), {"revision", "down_revision"})
        if not isinstance(values.get("revision"), str):
            continue  # not a migration (a helper module beside them)
        revisions.add(values["revision"])
        down = values.get("down_revision")
        revised.update([down] if isinstance(down, str) else list(down or ()))
    return Migrations(frozenset(revisions), tuple(sorted(revisions - revised)))


def _assignments(tree: ast.Module, names: set[str]) -> dict:
    """Module-level ``name = literal`` (or ``name: type = literal``) for the given names."""
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            values[target.id] = ast.literal_eval(value)
    return values


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database stands against the code: ``state`` is one of the four above."""

    state: str
    database: tuple[str, ...]  # the database's revisions (none: no schema, or not read)
    code: tuple[str, ...]      # the heads the code expects
    error: str | None = None   # why the database could not be read (the error's class)

    @property
    def serves(self) -> bool:
        """Whether requests may reach the views (an unreadable database is the views' own
        503: the status is checked again soon)."""
        return self.state != BEHIND

    def message(self) -> str:
        """One line for the log and the 503 pages."""
        database, code = _label(self.database), _label(self.code)
        if self.state == BEHIND:
            return f"database at revision {database}, code expects {code}: run `{UPGRADE_COMMAND}`"
        if self.state == NEWER:
            return (f"database at revision {database}, newer than this code knows (it expects {code}): "
                    "finish deploying the release that upgraded it")
        if self.state == UNKNOWN:
            return f"the database could not be read ({self.error}); code expects revision {code}"
        return f"database at revision {database}, as the code expects"


def _label(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "none"


def database_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions stamped in the database; () when it has no version table. Raises
    SQLAlchemyError when the database cannot be read."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return ()
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        return tuple(sorted(rows))


def read_status(engine: Engine, expected: Migrations | None = None) -> SchemaStatus:
    """The database's schema status against the migrations shipped with the code."""
    expected = expected or migrations()
    try:
        found = database_revisions(engine)
    except SQLAlchemyError as exc:
        return SchemaStatus(UNKNOWN, (), expected.heads, error=type(exc).__name__)
    if found == expected.heads:
        state = CURRENT
    elif found and not set(found) <= expected.revisions:
        state = NEWER
    else:
        state = BEHIND
    return SchemaStatus(state, found, expected.heads)
