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

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterable

import orjson
from sqlalchemy import Connection, bindparam, or_, update

from ..clock import parse_iso, utcnow
from ..database import DbSession
from ..models import Collection, StixClock, StixObject
from ..stix import markings
from ..stix.build import version_of
from .rows import insert_unless_exists

TICK = timedelta(microseconds=1)
CLOCK_ROW = 1


@lru_cache(maxsize=4096)
def canonical_version(version: str) -> str:
    """Fixed-width version string (microseconds), so string order equals time order.

    Cached: the objects of one report share a handful of versions, and parsing each would
    be a noticeable share of a large import."""
    ts = parse_iso(version)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Built once: every report runs both.
# On the table, not the mapped class: an ORM-enabled UPDATE first looks for matching objects in
# the session to synchronise them, which tripled the cost of the statement.
_clock = StixClock.__table__
_LOCK_CLOCK = update(_clock).where(_clock.c.id == CLOCK_ROW).values(id=CLOCK_ROW).returning(_clock.c.last_date_added)
_ADVANCE_CLOCK = update(_clock).where(_clock.c.id == CLOCK_ROW).values(last_date_added=bindparam("last"))
_CLAIM_CLOCK = (update(_clock)
                .where(_clock.c.id == CLOCK_ROW,
                       or_(_clock.c.last_date_added.is_(None), _clock.c.last_date_added < bindparam("start")))
                .values(last_date_added=bindparam("last")).returning(_clock.c.id))


def lock_clock(session: DbSession) -> datetime | None:
    """Take the publication clock's lock until this transaction ends; the last value handed out.

    One statement: the UPDATE takes the lock and RETURNING reads the value under it."""
    row = session.execute(_LOCK_CLOCK).first()
    if row is None:  # the row is created by migration 0002; a truncated test database lacks it
        insert_unless_exists(session, _clock, {"id": CLOCK_ROW, "last_date_added": None})
        row = session.execute(_LOCK_CLOCK).one()
    return row[0]


def reserve_date_added(session: DbSession, count: int, *, now: datetime | None = None) -> datetime:
    """The first of ``count`` consecutive ``date_added`` values (one microsecond apart), all later
    than any handed out before; the clock stays locked until the transaction ends."""
    start = now or utcnow()
    span = TICK * max(count - 1, 0)
    # Usually the clock is behind the wall clock: then one UPDATE takes the lock, checks that and
    # advances it. Otherwise (a burst within a microsecond, a clock stepped back) the lock is
    # taken and the last value read first.
    if session.execute(_CLAIM_CLOCK, {"start": start, "last": start + span}).first() is not None:
        return start
    last = lock_clock(session)
    if last is not None and start <= last:
        start = last + TICK
    session.execute(_ADVANCE_CLOCK, {"last": start + span})
    return start


def body_json(obj: dict) -> str:
    """Compact JSON of a stored object, exactly the values it holds. orjson writes 40,000 objects
    (a 10,000-indicator import) ten times faster than json. A pushed object reaches here only
    after stix/validate.py refused every number that JSON cannot carry as it was posted: orjson
    would write NaN or Infinity as null, and refuses integers beyond 64 bits."""
    return orjson.dumps(obj).decode("utf-8")


def tlp_column(obj: dict) -> str | None:
    """The TLP stored beside an object, which every TAXII route filters on: the strictest of all
    its markings, granular ones included (markings.tlp_of). The official TLP marking definitions
    are public."""
    if markings.is_tlp_marking(obj):
        return "clear"
    return markings.tlp_of(obj)


_COLUMNS = ("collection_id", "stix_id", "type", "spec_version", "version", "date_added", "tlp", "owner_org_id",
            "incident_id", "body")
_DATE_ADDED = _COLUMNS.index("date_added")
_STIX_OBJECTS = StixObject.__table__
_SQLITE_INSERT = (f"INSERT INTO stix_objects ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
                  "ON CONFLICT DO NOTHING")


def _write_rows(session: DbSession, rows: list[tuple]) -> None:
    """INSERT … ON CONFLICT DO NOTHING of stix_objects rows (tuples in _COLUMNS order).

    Both ways store the same rows (tests/integration/test_store_paths.py)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        _write_rows_sqlite(conn, rows)
    else:
        _write_rows_generic(session, rows)


def _write_rows_generic(session: DbSession, rows: list[tuple]) -> None:
    insert_unless_exists(session, _STIX_OBJECTS, [dict(zip(_COLUMNS, row, strict=True)) for row in rows])


def _write_rows_sqlite(conn: Connection, rows: list[tuple]) -> None:
    """Straight to sqlite3: SQLAlchemy's per-row parameter processing would be a third of writing the
    40,000 rows of a large import. date_added goes in as the text SQLAlchemy's SQLite DateTime
    writes (naive UTC, always six fractional digits), so that string order stays time order and
    the ORM reads back the same instant (test_taxii_date_added.py checks)."""
    text = _SqliteDatetimes()
    conn.exec_driver_sql(_SQLITE_INSERT, [
        row[:_DATE_ADDED] + (text(row[_DATE_ADDED]),) + row[_DATE_ADDED + 1:] for row in rows])


class _SqliteDatetimes:
    """Aware datetimes as SQLAlchemy's SQLite text ('YYYY-MM-DD HH:MM:SS.ffffff', UTC). The rows
    of one call share a second or two, so the date and time part is formatted once per second."""

    def __init__(self) -> None:
        self._seconds: dict[datetime, str] = {}

    def __call__(self, value: datetime) -> str:
        value = value.astimezone(timezone.utc)
        second = value.replace(microsecond=0)
        prefix = self._seconds.get(second)
        if prefix is None:
            prefix = self._seconds[second] = second.strftime("%Y-%m-%d %H:%M:%S")
        return f"{prefix}.{value.microsecond:06d}"


class PreparedObjects(list):
    """Objects ready to store (see prepare_objects): (stix_id, type, spec_version, version, tlp, body)."""


def prepare_objects(objects: Iterable[dict]) -> PreparedObjects:
    """Everything about the rows but date_added, without touching the database: versions,
    TLP column and JSON body, duplicates within the call removed.

    Intake does this before its transaction's first write: on SQLite the writer's lock is held
    from that write to the commit, and the other workers wait for it meanwhile."""
    seen: set[tuple[str, str]] = set()
    prepared = PreparedObjects()
    for obj in objects:
        key = (obj["id"], canonical_version(version_of(obj)))
        if key not in seen:
            seen.add(key)
            prepared.append((obj["id"], obj["type"], obj.get("spec_version", "2.1"), key[1], tlp_column(obj),
                             body_json(obj)))
    return prepared


def add_objects(session: DbSession, collection: Collection | str, objects: Iterable[dict] | PreparedObjects, *,
                owner_org_id: int | None, incident_id: int | None = None,
                now: datetime | None = None) -> int:
    """Store objects in a collection (a Collection or its id) as ``owner_org_id``'s copies,
    skipping versions that owner already holds there. Does not commit. ``objects`` may come from
    prepare_objects. Returns how many objects were offered, duplicates within the call removed.

    The owner is part of a stored object's identity (the unique index on collection, id,
    version and owner): another organization's copy of the same id and version is neither
    replaced nor consulted, so what happens here, and what the caller can observe afterwards,
    does not depend on whether anyone else posted that object.

    Takes the publication clock's lock until the caller's transaction ends (module docstring).
    The rows are written with one executemany rather than as ORM instances (per-instance
    bookkeeping would be half the time of a large import), and a version the owner already holds is
    skipped by the unique key (ON CONFLICT DO NOTHING) rather than looked up first: one
    statement instead of one per 500 objects. A skipped row leaves a gap in ``date_added``,
    which pollers never notice (only order and uniqueness matter).
    """
    prepared = objects if isinstance(objects, PreparedObjects) else prepare_objects(objects)
    if not prepared:
        return 0
    collection_id = collection if isinstance(collection, str) else collection.id
    start = reserve_date_added(session, len(prepared), now=now)
    rows = [(collection_id, stix_id, type_, spec, version, start + TICK * index, tlp, owner_org_id, incident_id, body)
            for index, (stix_id, type_, spec, version, tlp, body) in enumerate(prepared)]
    for chunk_start in range(0, len(rows), 5_000):
        _write_rows(session, rows[chunk_start:chunk_start + 5_000])
    return len(rows)
