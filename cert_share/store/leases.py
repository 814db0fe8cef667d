"""A queue of rows that workers claim under a lease: the outbox (mail/delivery.py) and the
cooperation deliveries (services/partner_delivery.py) share it.

A queued model has ``id``, ``state`` (vocab.OutboxState), ``claimed_by``, ``lease_until`` and
``next_attempt_at``. A row is due when it is pending and its next attempt has come, or when it is
``sending`` under a lease that has run out (its worker died). ``claim`` takes due rows in one
``UPDATE … WHERE id IN (…)``: on PostgreSQL the candidates are picked ``FOR UPDATE SKIP LOCKED``
(rows.one_of_unlocked), so two workers never wait for or take each other's rows; SQLite writes
one transaction at a time. A claimed row carries the worker's token and a lease end; ``hold``
writes an outcome only while the token still holds the row, ``release`` hands rows back unattempted.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, and_, or_, select, update

from ..database import DbSession
from ..vocab import OutboxState
from .rows import one_of_unlocked

Row = TypeVar("Row")


def due(model: Any, now: datetime) -> ColumnElement[bool]:
    """The condition "this row is due at ``now``": waiting and its time has come, or orphaned."""
    waiting = and_(model.state == OutboxState.PENDING, model.next_attempt_at <= now)
    orphaned = and_(model.state == OutboxState.SENDING, model.lease_until < now)  # its worker died
    return or_(waiting, orphaned)


def claim(session: DbSession, model: type[Row], *, now: datetime, limit: int, lease_seconds: float,
          token: str | None = None) -> tuple[str, list[Row]]:
    """Atomically claim up to ``limit`` due rows of ``model`` under a fresh lease token; commits.

    Returns (token, rows), oldest first. Only rows that carry the token belong to the caller."""
    table: Any = model
    token = token or uuid.uuid4().hex
    candidates = select(table.id).where(due(table, now)).order_by(table.id).limit(limit)
    session.execute(
        update(table)
        .where(one_of_unlocked(session, table.id, candidates), due(table, now))
        .values(state=OutboxState.SENDING, claimed_by=token, lease_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False))
    session.commit()
    rows = list(session.execute(
        select(table).where(table.claimed_by == token, table.state == OutboxState.SENDING)
        .order_by(table.id).execution_options(populate_existing=True)).scalars())
    return token, rows


def hold(session: DbSession, model: Any, row_id: int, token: str, **values: Any) -> bool:
    """Write ``values`` on the row only while ``token`` still holds its lease; no commit. False
    (nothing written) when the lease ran out and another worker took the row."""
    # An UPDATE's result is a CursorResult (it has a rowcount), which Session.execute's annotation
    # does not say.
    result = cast(CursorResult, session.execute(
        update(model)
        .where(model.id == row_id, model.claimed_by == token, model.state == OutboxState.SENDING)
        .values(**values).execution_options(synchronize_session=False)))
    return result.rowcount == 1


def release(session: DbSession, model: Any, token: str, only: list[int] | None = None, **values: Any) -> int:
    """Hand back the token's claimed rows (all, or those in ``only``) as pending, no attempt
    counted, with ``values`` written too (e.g. a last error); commits. Returns how many."""
    mine = [model.claimed_by == token, model.state == OutboxState.SENDING]
    if only is not None:
        mine.append(model.id.in_(only))
    result = cast(CursorResult, session.execute(
        update(model).where(*mine)
        .values(state=OutboxState.PENDING, claimed_by=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)))
    session.commit()
    return result.rowcount
