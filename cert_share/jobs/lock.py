"""Who may be the one active scheduler, across processes and hosts.

PostgreSQL: a session-level advisory lock held on a dedicated psycopg connection that is not
part of SQLAlchemy's pool (a pooled connection goes back to the pool still holding the lock, or
gets recycled and silently drops it). If the process dies, its connection closes and the lock
is free at once.

SQLite: ``fcntl.flock`` on a lock file next to the database file; the kernel drops it when the
process dies. An in-memory database has no file: there the lease row alone decides, with an
expiry so a dead holder's lease runs out.

In every case the ``scheduler_lease`` row says who holds the lock and when it last showed signs
of life, for ``cert-share scheduler status`` and ``jobs list``.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..models import SchedulerLease

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


def new_holder_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, derived from the lock's name."""
    return int.from_bytes(hashlib.sha256(f"cert-share:{name}".encode()).digest()[:8], "big", signed=True)


class _PostgresAdvisoryLock:
    def __init__(self, engine: Engine, name: str):
        self.url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.key = advisory_key(name)
        self.conn: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        import psycopg  # only the PostgreSQL lock needs the driver: SQLite installations never load it

        if self.conn is None:
            self.conn = psycopg.connect(self.url, autocommit=True, application_name="cert-share scheduler")
        try:
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            return row is not None and bool(row[0])
        except psycopg.Error:
            self.release()  # a broken connection: start with a fresh one next time
            raise

    def alive(self) -> bool:
        if self.conn is None:  # never connected, or released: holds no lock
            return False
        try:
            self.conn.execute("SELECT 1").fetchone()
            return True
        except Exception:  # connection gone: the server has already released the lock
            return False

    def release(self) -> None:
        if self.conn is None:
            return
        try:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except Exception:
            pass
        finally:
            try:
                self.conn.close()
            finally:
                self.conn = None


class _FileLock:
    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def alive(self) -> bool:
        # Someone deleting the lock file would let a newcomer lock a fresh file: then we are out.
        try:
            return self.fd is not None and os.fstat(self.fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def release(self) -> None:
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None


class SchedulerLock:
    """try_acquire() without waiting; heartbeat() while holding; release() when stopping."""

    def __init__(self, engine: Engine, *, holder: str | None = None, name: str = "scheduler",
                 ttl_seconds: float = 60):
        self.engine = engine
        self.name = name
        self.holder = holder or new_holder_id()
        self.ttl = timedelta(seconds=ttl_seconds)
        self.held = False
        self._lock = self._make_lock()

    def _make_lock(self):
        if self.engine.dialect.name == "postgresql":
            return _PostgresAdvisoryLock(self.engine, self.name)
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and database and database != ":memory:" \
                and not database.startswith("file::memory:"):
            return _FileLock(os.path.abspath(database) + f".{self.name}.lock")
        return None  # lease row only

    @property
    def kind(self) -> str:
        if isinstance(self._lock, _PostgresAdvisoryLock):
            return "postgresql advisory lock"
        if isinstance(self._lock, _FileLock):
            return f"lock file {self._lock.path}"
        return "lease row"

    def try_acquire(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        if self.held:
            return self.heartbeat(now)
        if self._lock is not None:
            if not self._lock.try_acquire():
                return False
            try:
                self._write_lease(now, force=True)
            except Exception:
                self._lock.release()  # do not sit on a lock we are not using
                raise
        elif not self._write_lease(now, force=False):
            return False
        self.held = True
        log.info("scheduler lock taken by %s (%s)", self.holder, self.kind)
        return True

    def heartbeat(self, now: datetime | None = None) -> bool:
        """Renew the lease; False (and no longer held) if the lock was lost."""
        now = now or utcnow()
        if not self.held:
            return False
        if self._lock is not None:
            ok = self._lock.alive()
            if ok:
                self._write_lease(now, force=True)
        else:
            ok = self._write_lease(now, force=False)
        if not ok:
            log.warning("scheduler lock lost by %s", self.holder)
            self.release()
        return ok

    def release(self) -> None:
        was_held, self.held = self.held, False
        if was_held:
            try:
                with self.engine.begin() as conn:
                    conn.execute(update(SchedulerLease)
                                 .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                                 .values(holder=None, expires_at=None))
            except Exception:  # the database may be the reason we stop; the lock still goes
                log.exception("could not clear the scheduler lease row")
        if self._lock is not None:
            self._lock.release()

    def _write_lease(self, now: datetime, *, force: bool) -> bool:
        """Record the holder; without ``force`` only take a free, expired or own lease."""
        values = {"holder": self.holder, "heartbeat_at": now, "expires_at": now + self.ttl}
        condition = [SchedulerLease.name == self.name]
        if not force:
            condition.append((SchedulerLease.holder == self.holder) | SchedulerLease.holder.is_(None)
                             | SchedulerLease.expires_at.is_(None) | (SchedulerLease.expires_at < now))
        with self.engine.begin() as conn:
            if conn.execute(update(SchedulerLease).where(*condition).values(**values)).rowcount:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(SchedulerLease).values(name=self.name, **values))
            return True
        except IntegrityError:
            if force:  # raced with another insert of the row we are entitled to: overwrite it
                with self.engine.begin() as conn:
                    conn.execute(update(SchedulerLease).where(SchedulerLease.name == self.name).values(**values))
                return True
            return False
