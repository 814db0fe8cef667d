"""SQLite writers queue on an operating-system lock instead of SQLite's busy handler.

SQLite lets one transaction write at a time. A second writer that finds the database locked
sleeps in SQLite's busy handler (1, 2, 5, 10, 15 … ms) and tries again, so under steady load
(two gunicorn workers taking reports) the waiting worker wakes several milliseconds after the
lock was freed, and a third of the machine sat idle. Here every connection takes an exclusive
``flock`` on ``<database>.writer-lock`` before its transaction's first write and releases it
when the transaction ends; the kernel wakes the next writer the moment the lock is released.
Readers never take it (WAL: they do not block the writer and are not blocked by it).

Checkpoints are moved out of that window too. By default the commit that pushes the WAL past
1,000 pages copies it back into the database file and fsyncs, inside the writer's lock: that is
three quarters of a commit's cost (about 1.4 ms of 1.9 ms per transaction on the benchmark
machine). These connections turn the automatic checkpoint off, and after a commit, with the lock
already released, at most one connection per process a second runs a PASSIVE checkpoint, which
never blocks writers or readers. SQLite still checkpoints when the last connection closes.

A PASSIVE checkpoint alone does not bound the WAL: under sustained writes it rarely catches up
with the writers, so the log is never restarted and the file only grows. So the commit that
leaves the WAL larger than WAL_RESET_BYTES checkpoints in TRUNCATE mode before it releases the
writer lock: no writer can append meanwhile, the log is copied back whole and the file cut to
zero. It waits for readers of older snapshots at most
TRUNCATE_WAIT_MS; if they are still there, the next commit tries again. ``journal_size_limit``
trims the file whenever SQLite restarts the log by itself.

A checkpoint runs after its commit has succeeded: one that fails (a full disk cannot take the
copied pages) is logged, and the committed write stands.

Within a process a thread may hold the lock through two connections at once (a job writing its
run record while its session is open): the lock is re-entrant per thread, exactly as SQLite's
own lock would have let that thread wait and time out, never deadlock on our account.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
import threading
import time

log = logging.getLogger(__name__)
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


# Seconds between the checkpoints one process runs (sqlite_writer docstring).
CHECKPOINT_INTERVAL = 1.0
# WAL size past which a commit truncates the log while it holds the writer lock; also the size
# SQLite trims the file to when it restarts the log.
WAL_RESET_BYTES = 64 * 1024 * 1024
# How long that checkpoint waits for readers of older snapshots (the writers wait meanwhile).
TRUNCATE_WAIT_MS = 1000


def is_write(statement: str) -> bool:
    return _WRITE.match(statement) is not None


class WriterLock:
    """A process-wide, thread-re-entrant exclusive lock on one lock file."""

    def __init__(self, path: str, wal_path: str) -> None:
        self.path = path
        self.wal_path = wal_path
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._fd: int | None = None
        self._pid: int | None = None
        self._last_checkpoint = time.monotonic()

    def checkpoint_due(self) -> bool:
        """True at most once per CHECKPOINT_INTERVAL in this process (for one caller)."""
        now = time.monotonic()
        with self._cond:
            if now - self._last_checkpoint < CHECKPOINT_INTERVAL:
                return False
            self._last_checkpoint = now
            return True

    def _file(self) -> int:
        # After a fork (gunicorn workers) the child needs its own open file: flock locks belong
        # to the open file description, which a forked child shares with its parent.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._cond:
            while self._owner is not None and self._owner != me:
                self._cond.wait()
            if self._owner is None:
                fcntl.flock(self._file(), fcntl.LOCK_EX)  # blocks until the other process commits
                self._owner = me
            self._depth += 1

    def release(self) -> None:
        with self._cond:
            if self._depth == 0:
                return
            self._depth -= 1
            if self._depth == 0:
                fcntl.flock(self._file(), fcntl.LOCK_UN)
                self._owner = None
                self._cond.notify_all()


_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def lock_for(database_path: str) -> WriterLock:
    database_path = os.path.abspath(database_path)
    path = database_path + ".writer-lock"
    with _locks_guard:
        if path not in _locks:
            _locks[path] = WriterLock(path, database_path + "-wal")
        return _locks[path]


class WriterLockedConnection(sqlite3.Connection):
    """A sqlite3 connection that holds its database's writer lock from its first write until its
    transaction ends, and copies the WAL back into the database after large commits."""

    writer_lock: WriterLock  # set by connection_class: one class per database file
    holds_writer_lock = False

    def take_writer_lock(self) -> None:
        if not self.holds_writer_lock:
            self.writer_lock.acquire()
            self.holds_writer_lock = True

    def _drop_writer_lock(self) -> None:
        if self.holds_writer_lock:
            self.holds_writer_lock = False
            self.writer_lock.release()

    def commit(self) -> None:
        wrote = self.holds_writer_lock
        try:
            super().commit()
            if wrote and _wal_size(self.writer_lock.wal_path) > WAL_RESET_BYTES:
                # Still holding the writer lock: no writer appends while the log is copied back.
                self._checkpoint("TRUNCATE", wait_ms=TRUNCATE_WAIT_MS)
        finally:
            self._drop_writer_lock()
        if wrote and self.writer_lock.checkpoint_due():
            self._checkpoint("PASSIVE")

    def _checkpoint(self, mode: str, wait_ms: int | None = None) -> None:
        try:
            restore = None
            if wait_ms is not None:
                restore = self.execute("PRAGMA busy_timeout").fetchone()[0]
                self.execute(f"PRAGMA busy_timeout={wait_ms}")
            try:
                busy = self.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
            finally:
                if restore is not None:
                    self.execute(f"PRAGMA busy_timeout={restore}")
        except sqlite3.Error as exc:  # the commit stands; the WAL is copied back next time
            log.warning("SQLite %s checkpoint after a commit failed (the write is kept): %s", mode, exc)
            return
        if busy and mode == "TRUNCATE":
            log.info("SQLite WAL over %d bytes not truncated: readers of older snapshots; the next "
                     "commit tries again", WAL_RESET_BYTES)

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._drop_writer_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._drop_writer_lock()


def connection_class(lock: WriterLock) -> type[sqlite3.Connection]:
    """A sqlite3 connection class that releases ``lock`` when its transaction ends."""

    class LockedToThisDatabase(WriterLockedConnection):
        writer_lock = lock

    return LockedToThisDatabase


def _wal_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
