"""Writing STIX objects into collections: the one place that assigns ``date_added``.

Why a commit-ordered clock and not "now"
----------------------------------------
An incremental TAXII poller asks for ``added_after=<the last date_added it saw>``. If
``date_added`` were simply the writer's clock, a transaction that took its timestamp first but
committed last would become visible *behind* the poller's bookmark and never be served.

So every writer first takes the row lock on the single ``stix_clock`` row (an UPDATE: a row lock
on PostgreSQL, the database write lock on SQLite) and keeps it until its transaction ends. Only
then does it read the last ``date_added`` handed out and give its objects strictly increasing
values after it: ``max(now, last + 1 µs)``, one microsecond apart. A transaction that commits
later therefore always carries a larger ``date_added`` than everything already visible, whatever
the wall clock says (clock steps backwards included), and each object's ``date_added`` is unique,
so ``added_after`` alone is a complete bookmark. The price is that writers of STIX objects are
serialized, which SQLite does anyway and which costs one short row lock on PostgreSQL.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..models import Collection, StixClock, StixObject
from ..stix import markings
from ..stix.build import version_of

TICK = timedelta(microseconds=1)
CLOCK_ROW = 1


@lru_cache(maxsize=4096)
def canonical_version(version: str) -> str:
    """Fixed-width version string (microseconds), so string order equals time order.

    Cached: the objects of one report share a handful of versions (a tenth of a large import)."""
    from ..clock import parse_iso

    ts = parse_iso(version)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lock_clock(session: Session) -> datetime | None:
    """Take the publication clock's lock until this transaction ends; the last value handed out."""
    locked = session.execute(update(StixClock).where(StixClock.id == CLOCK_ROW)
                             .values(id=CLOCK_ROW)).rowcount
    if not locked:  # the row is created by migration 0002; a truncated test database lacks it
        session.execute(_insert_clock_row(session))
        session.execute(update(StixClock).where(StixClock.id == CLOCK_ROW).values(id=CLOCK_ROW))
    return session.execute(select(StixClock.last_date_added).where(StixClock.id == CLOCK_ROW)).scalar_one()


def reserve_date_added(session: Session, count: int, *, now: datetime | None = None,
                       locked_last: datetime | None | bool = False) -> datetime:
    """The first of ``count`` consecutive ``date_added`` values (one microsecond apart), all later
    than any handed out before; the clock stays locked until the transaction ends.

    ``locked_last``: what ``lock_clock`` returned, when the caller already holds the lock in this
    transaction (saves taking it twice)."""
    last = lock_clock(session) if locked_last is False else locked_last
    start = now or utcnow()
    if last is not None and start <= last:
        start = last + TICK
    session.execute(update(StixClock).where(StixClock.id == CLOCK_ROW)
                    .values(last_date_added=start + TICK * max(count - 1, 0)))
    return start


def _insert_clock_row(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover
        return insert(StixClock).values(id=CLOCK_ROW, last_date_added=None)
    return dialect_insert(StixClock).values(id=CLOCK_ROW, last_date_added=None).on_conflict_do_nothing()


def tlp_column(obj: dict) -> str | None:
    """The TLP stored beside an object. The official TLP marking definitions are public."""
    if markings.is_tlp_marking(obj):
        return "clear"
    return markings.tlp_of(obj)


def add_objects(session: Session, collection: Collection, objects: Iterable[dict], *,
                owner_org_id: int | None, incident_id: int | None = None,
                now: datetime | None = None) -> list[dict]:
    """Store objects in a collection, skipping versions it already holds. Does not commit.

    Takes the publication clock's lock until the caller's transaction ends (module docstring).
    Returns the stored rows' column values. The rows are written with a Core executemany rather
    than as ORM instances: per-instance bookkeeping was half the time of a large import.
    """
    rows: list[dict] = []
    batch = []
    for obj in objects:
        version = canonical_version(version_of(obj))
        batch.append((obj, version))
    if not batch:
        return rows
    # Lock first: the duplicate check below must not race another writer of the same version.
    last = lock_clock(session)
    existing: set[tuple[str, str]] = set()
    # Look up by stix_id (a range on the unique index) and compare versions here: SQLite uses
    # only the collection_id prefix for a row-value (stix_id, version) IN list, i.e. scans the
    # collection once per chunk, which made large imports quadratic.
    wanted = {(obj["id"], version) for obj, version in batch}
    ids = list({stix_id for stix_id, _ in wanted})
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        existing.update(tuple(row) for row in session.execute(
            select(StixObject.stix_id, StixObject.version).where(
                StixObject.collection_id == collection.id, StixObject.stix_id.in_(chunk),
            )).all() if tuple(row) in wanted)
    fresh = []
    for obj, version in batch:
        key = (obj["id"], version)
        if key in existing:
            continue
        existing.add(key)
        fresh.append((obj, version))
    if not fresh:
        return rows
    start = reserve_date_added(session, len(fresh), now=now, locked_last=last)
    for index, (obj, version) in enumerate(fresh):
        rows.append({
            "collection_id": collection.id,
            "stix_id": obj["id"],
            "type": obj["type"],
            "spec_version": obj.get("spec_version", "2.1"),
            "version": version,
            "date_added": start + TICK * index,
            "tlp": tlp_column(obj),
            "owner_org_id": owner_org_id,
            "incident_id": incident_id,
            "body": json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
        })
    for chunk_start in range(0, len(rows), 5_000):
        session.execute(insert(StixObject.__table__), rows[chunk_start:chunk_start + 5_000])
    return rows
