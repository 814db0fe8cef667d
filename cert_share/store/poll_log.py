"""The TAXII consumption log, written off the request path.

A read request adds its row (organization, token, collection, route, when, objects returned) to
its worker's :class:`PollLog` in memory; the worker writes the rows it holds in one INSERT every
``TAXII_POLL_LOG_SECONDS`` (a thread of its own), and at a graceful stop (``atexit``, and
gunicorn's ``worker_exit`` hook in gunicorn_conf.py). The rows are the ones a poll used to write
itself, one per request with its own time, so every reader of ``taxii_polls`` answers as before
once they are written; a crash loses at most the last interval's rows.

The buffer also holds the latest use of each API token a read request noted (token id -> time,
one entry per token, the later time kept): ``api_tokens.last_used_at`` is written with the rows,
in the same transaction, never moved back (an UPDATE only where the stored time is older), so a
read request issues no UPDATE or COMMIT of its own either. A token deleted meanwhile updates
nothing.

Two workers never count a poll twice: each row lives in the memory of the one worker that served
it and is taken out of it before it is written (a forked child starts with an empty buffer, since
its parent keeps and writes what it held). A batch the database refuses (busy, unreachable) goes
back to the front of the buffer for the next flush; past ``MAX_ROWS`` held rows (a long outage)
the oldest are dropped, and said so in the server log. A batch refused on a foreign key holds a
row whose collection was deleted meanwhile (a drill's, polled in the interval before its
exercise was deleted, by any worker): those rows are dropped, logged, and the rest written, so
one such row never blocks the log. The deleting worker also forgets its own at once. Token uses
follow the rows: a refused batch keeps them (merged with newer ones, the later time kept), a
forked child starts without them.

With ``TAXII_POLL_LOG_SECONDS`` = 0 (the tests' default) each request writes its row and its
token's use before it answers, in the request's own session, as it did before the buffer existed.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..database import DbSession
from ..extensions import db
from ..models import ApiToken, Collection, Organization, TaxiiPoll

EXTENSION_KEY = "cert_share.poll_log"
MAX_ROWS = 200_000
log = logging.getLogger(__name__)
_LOGS: weakref.WeakSet[PollLog] = weakref.WeakSet()

_TOKENS = ApiToken.__table__
_WHEN = bindparam("when", type_=_TOKENS.c.last_used_at.type)
# Never moves a time back: a later use another worker wrote first stays.
_TOUCH_TOKENS = (update(_TOKENS)
                 .where(_TOKENS.c.id == bindparam("token_id"),
                        or_(_TOKENS.c.last_used_at.is_(None), _TOKENS.c.last_used_at < _WHEN))
                 .values(last_used_at=_WHEN))


class PollLog:
    """One process's consumption log rows and token uses not yet written, for one app."""

    def __init__(self, app: Flask, interval: float) -> None:
        self._app = weakref.ref(app)
        self.interval = interval
        self._rows: list[dict[str, Any]] = []
        self._uses: dict[int, datetime] = {}  # token id -> its latest use not written yet
        self._lock = threading.Lock()  # guards _rows and _uses
        self._flushing = threading.Lock()  # one flush at a time, so batches keep their order
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        _LOGS.add(self)

    def add(self, row: dict[str, Any]) -> None:
        """Hold one poll's row until the next flush."""
        with self._lock:
            self._rows.append(row)
            if len(self._rows) > MAX_ROWS:
                dropped = len(self._rows) - MAX_ROWS
                del self._rows[:dropped]
                log.warning("consumption log: %d oldest unwritten rows dropped (database unreachable?)", dropped)
        if self.interval > 0 and self._thread is None:
            self._start()

    def note_use(self, token_id: int, when: datetime) -> None:
        """Hold a token's use (its ``last_used_at``) until the next flush; the later time wins."""
        with self._lock:
            held = self._uses.get(token_id)
            if held is None or when > held:
                self._uses[token_id] = when
        if self.interval > 0 and self._thread is None:
            self._start()

    def pending(self) -> int:
        """Rows held (token uses not counted: pending_uses)."""
        with self._lock:
            return len(self._rows)

    def pending_uses(self) -> dict[int, datetime]:
        """A copy of the token uses held: token id -> latest use."""
        with self._lock:
            return dict(self._uses)

    def _holds_anything(self) -> bool:
        with self._lock:
            return bool(self._rows or self._uses)

    def flush(self, session: DbSession) -> int:
        """Write every row held, in one INSERT, and every token use held, in one executemany
        UPDATE, and commit them together; the number of rows written. On a database error the
        rows and uses stay held for the next flush (and the session is rolled back), except rows
        a foreign key refuses because their collection or organization is gone: dropped."""
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, []
                uses, self._uses = self._uses, {}
            if not rows and not uses:
                return 0
            try:
                return self._write(session, rows, uses)
            except IntegrityError:
                # A row whose collection (a deleted drill's) or organization is gone would make
                # every later batch fail too: write the others, drop those.
                session.rollback()
                try:
                    rows = _without_orphans(session, rows)
                    return self._write(session, rows, uses)
                except SQLAlchemyError as exc:
                    self._keep(session, rows, uses, exc)
                    return 0
            except SQLAlchemyError as exc:
                self._keep(session, rows, uses, exc)
                return 0

    def forget_collection(self, collection_id: str) -> int:
        """Drop the rows held for a collection just deleted; how many."""
        with self._lock:
            kept = [row for row in self._rows if row["collection_id"] != collection_id]
            dropped, self._rows = len(self._rows) - len(kept), kept
        return dropped

    @staticmethod
    def _write(session: DbSession, rows: list[dict[str, Any]], uses: dict[int, datetime]) -> int:
        if rows:
            session.execute(insert(TaxiiPoll.__table__), rows)
        if uses:
            session.execute(_TOUCH_TOKENS, [{"token_id": token_id, "when": when} for token_id, when in uses.items()])
        if rows or uses:
            session.commit()
        return len(rows)

    def _keep(self, session: DbSession, rows: list[dict[str, Any]], uses: dict[int, datetime],
              exc: SQLAlchemyError) -> None:
        """A refused batch (database busy, unreachable) goes back to the front for the next
        flush; its token uses merge with those noted since, the later time kept."""
        session.rollback()
        with self._lock:
            self._rows[:0] = rows
            for token_id, when in uses.items():
                held = self._uses.get(token_id)
                if held is None or when > held:
                    self._uses[token_id] = when
        log.warning("consumption log: %d rows and %d token uses not written yet (%s); kept for the next flush",
                    len(rows), len(uses), type(exc).__name__)

    def flush_in_app(self) -> int:
        """flush() in an app context and session of its own (the flusher thread, exit hooks)."""
        app = self._app()
        if app is None or not self._holds_anything():
            return 0
        with app.app_context():
            try:
                return self.flush(db.session)
            finally:
                db.session.remove()

    def stop(self) -> None:
        """Stop the flusher thread and write what is held."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self._flush_logged()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="poll-log-flusher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._flush_logged()
        self._flush_logged()

    def _flush_logged(self) -> None:
        try:
            self.flush_in_app()
        except Exception:  # noqa: BLE001 (the thread must outlive a bad moment; rows stay held)
            log.exception("consumption log flush failed")

    def _after_fork(self) -> None:
        # The parent keeps and writes its rows and token uses; a copy here would count them twice.
        self._rows = []
        self._uses = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._thread = None
        self._stop = threading.Event()


def _without_orphans(session: DbSession, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose collection and organization still exist (one query each); the others are
    dropped, and said so in the server log."""
    collections = {row["collection_id"] for row in rows}
    orgs = {row["org_id"] for row in rows}
    existing_collections = set(session.execute(
        select(Collection.id).where(Collection.id.in_(collections))).scalars())
    existing_orgs = set(session.execute(select(Organization.id).where(Organization.id.in_(orgs))).scalars())
    kept = [row for row in rows
            if row["collection_id"] in existing_collections and row["org_id"] in existing_orgs]
    if len(kept) < len(rows):
        log.warning("consumption log: %d rows dropped, their collection or organization no longer "
                    "exists (a deleted drill's collection polled before it went)", len(rows) - len(kept))
    return kept


def forget_collection(collection_id: str) -> int:
    """Drop the rows this process holds for a collection just deleted (every app's buffer); how
    many. Other workers' rows for it are dropped when their batch is refused (flush)."""
    return sum(poll_log.forget_collection(collection_id) for poll_log in list(_LOGS))


def for_app(app: Flask) -> PollLog:
    """The app's consumption log buffer in this process, made on first use."""
    poll_log = app.extensions.get(EXTENSION_KEY)
    if poll_log is None:
        poll_log = app.extensions.setdefault(EXTENSION_KEY, PollLog(app, float(app.config["TAXII_POLL_LOG_SECONDS"])))
    return poll_log


def flush_all() -> int:
    """Write what every app's buffer in this process holds, rows and token uses (a graceful
    stop); rows written."""
    written = 0
    for poll_log in list(_LOGS):
        poll_log._stop.set()
        try:
            written += poll_log.flush_in_app()
        except Exception:  # noqa: BLE001 (at exit: the other apps' rows still get their chance)
            log.exception("consumption log flush at exit failed")
    return written


def _after_fork_in_child() -> None:
    for poll_log in list(_LOGS):
        poll_log._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(flush_all)
