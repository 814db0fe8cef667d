"""Schema upgrades: one at a time, saying what they applied; and the ``cert-share db`` command group
(Flask-Migrate's, with this ``upgrade``).

Two upgrades started at once (two nodes deploying together) queue on a lock held around the whole
upgrade: a PostgreSQL session advisory lock, or an exclusive ``flock`` of
``<database>.upgrade-lock`` on SQLite. The second one reads the revision only once it holds the
lock, finds the first one's work done, and applies nothing, where both would otherwise create
the same tables and one fail with a UniqueViolation.
"""
from __future__ import annotations

import fcntl
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .database import MIGRATIONS_DIRECTORY, migrations
from .extensions import db

# The advisory lock's key: any fixed number, the same in every cert-share process.
UPGRADE_LOCK_KEY = zlib.crc32(b"cert-share db upgrade")


@dataclass(frozen=True)
class Applied:
    """One migration an upgrade ran."""

    revision: str
    doc: str  # the migration's docstring, its first paragraph as one line


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None  # None: an empty database
    after: str | None
    applied: list[Applied]  # oldest first


def upgrade(app, revision: str = "head", *, on_wait: Callable[[], None] | None = None) -> UpgradeResult:
    """Migrate ``app``'s database to ``revision`` (inside an app context), one process at a time:
    ``on_wait`` is called when another upgrade holds the lock, before waiting for it."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = migrations(app).migrate.get_config(MIGRATIONS_DIRECTORY)
    with upgrade_lock(db.engine, on_wait or (lambda: None)):
        before = current_revision(db.engine)
        command.upgrade(config, revision)
        after = current_revision(db.engine)
    if after == before:
        return UpgradeResult(before, after, [])
    scripts = ScriptDirectory.from_config(config).iterate_revisions(after, before or "base")
    applied = [Applied(script.revision, " ".join((script.doc or "").split())) for script in scripts]
    return UpgradeResult(before, after, applied[::-1])


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None before its first migration."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def upgrade_lock(engine: Engine, on_wait: Callable[[], None]) -> Iterator[None]:
    """Held by one upgrade of this database at a time, across processes and machines."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, on_wait):
            yield
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:") \
            and not engine.url.database.startswith("file:"):
        with _file_lock(engine.url.database + ".upgrade-lock", on_wait):
            yield
    else:  # an in-memory database belongs to one process
        yield


@contextmanager
def _advisory_lock(engine: Engine, on_wait: Callable[[], None]) -> Iterator[None]:
    # A session-level lock on a connection of its own, outside the migration's transaction: it
    # holds until released, and PostgreSQL drops it if this process dies.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": UPGRADE_LOCK_KEY}).scalar():
            on_wait()
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": UPGRADE_LOCK_KEY})


@contextmanager
def _file_lock(path: str, on_wait: Callable[[], None]) -> Iterator[None]:
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@click.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_command(revision: str) -> None:
    """Migrate the database to REVISION (default: the newest), printing which database (its
    password hidden), then each migration applied;
    waits while another upgrade of the same database runs."""
    def waiting() -> None:
        click.echo("another `db upgrade` of this database is running: waiting for it to finish", err=True)

    # First, which database: run without the settings file, an unset DATABASE_URL means a fresh
    # SQLite file under the data directory, and "now at head" alone would look like success.
    click.echo(f"upgrading {db.engine.url.render_as_string(hide_password=True)}")
    result = upgrade(current_app, revision, on_wait=waiting)
    if not result.applied:
        click.echo(f"already at {'head ' if revision == 'head' else ''}{result.after}")
        return
    for step in result.applied:
        click.echo(f"applied {step.revision}: {step.doc}")
    click.echo(f"now at {'head ' if revision == 'head' else ''}{result.after}")


class _MigrateCommand(click.Command):
    """``cert-share db …``: stands in for Flask-Migrate's command group in the command list and
    hands over to it when a ``db`` command runs, with ``upgrade`` replaced by upgrade_command."""

    def __init__(self, app) -> None:
        super().__init__(name="db", help="Database migrations (Flask-Migrate / Alembic): db upgrade, db current, "
                                          "db check, …")
        self._app = app

    def _group(self) -> click.Group:
        migrations(self._app)
        from flask_migrate.cli import db as group

        return click.Group(name=group.name, help=group.help, params=group.params, callback=group.callback,
                           commands={**group.commands, "upgrade": upgrade_command})

    def make_context(self, info_name, args, parent=None, **extra):
        return self._group().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        return ctx.command.invoke(ctx)


def register_migrate_command(app) -> None:
    app.cli.add_command(_MigrateCommand(app))
