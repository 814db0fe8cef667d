"""SQLite writers queue on an operating-system lock instead of SQLite's busy handler.

SQLite lets one transaction write at a time. A second writer that finds the database locked
sleeps in SQLite's busy handler (1, 2, 5, 10, 15 … ms) and tries again, so under steady load
(two gunicorn workers taking reports) the waiting worker wakes several milliseconds after the
lock was freed, and a third of the machine sat idle. Here every connection takes an exclusive
``flock`` on ``<database>.writer-lock`` before its transaction's first write and releases it
when the transaction ends; the kernel wakes the next writer the moment the lock is released.
Readers never take it (WAL: they do not block the writer and are not blocked by it).

Within a process a thread may hold the lock through two connections at once (a job writing its
run record while its session is open): the lock is re-entrant per thread, exactly as SQLite's
own lock would have let that thread wait and time out, never deadlock on our account.
"""
from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


def is_write(statement: str) -> bool:
    return _WRITE.match(statement) is not None


class WriterLock:
    """A process-wide, thread-re-entrant exclusive lock on one lock file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._fd: int | None = None
        self._pid: int | None = None

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
    path = os.path.abspath(database_path) + ".writer-lock"
    with _locks_guard:
        return _locks.setdefault(path, WriterLock(path))


def connection_class(lock: WriterLock) -> type[sqlite3.Connection]:
    """A sqlite3 connection class that releases ``lock`` when its transaction ends."""

    class WriterLockedConnection(sqlite3.Connection):
        writer_lock = lock
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
            try:
                super().commit()
            finally:
                self._drop_writer_lock()

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

    return WriterLockedConnection
