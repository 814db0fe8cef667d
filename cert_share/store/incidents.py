"""Writing a new report's rows: the incident and its observables, with Core statements, and the
ORM objects the rest of the transaction works with made to match them.

Intake's first writes go through here. On SQLite the writer's lock is held from a
transaction's first write to its commit, so each of these is time the other workers wait, and
the ORM's unit of work is the slow way to write these rows (see each function). What is stored
is exactly what ``session.add`` and a flush would store (tests/integration/test_store_paths.py).
"""
from __future__ import annotations

from typing import Protocol, Sequence

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..database import DbSession
from ..models import Incident, Observable
from .rows import insert_unless_exists

_INCIDENTS = Incident.__table__
_INCIDENT_COLUMNS = [c.key for c in _INCIDENTS.c if c.key != "id"]


def insert_incident(session: DbSession, incident: Incident) -> bool:
    """Insert a new incident with one Core INSERT and add it to the session as persistent;
    False, and nothing stored, if its organization already has a report with its external_id.

    The ORM's unit of work takes three times as long for this one row, and on SQLite that time
    is spent holding the writer's lock (it is the transaction's first write). Every column is
    set, so the object needs no refresh afterwards.

    A report with that external_id appears here when a concurrent request committed it after
    this one looked: ON CONFLICT on that key waits for the other transaction to end and then
    skips the row, where a plain INSERT would raise (and catching that would need a savepoint
    around every report)."""
    values = {key: getattr(incident, key) for key in _INCIDENT_COLUMNS}
    incident_id = insert_unless_exists(session, _INCIDENTS, values, conflict=("org_id", "external_id"),
                                       returning=("id",)).scalar()
    if incident_id is None:
        return False
    for key, value in values.items():
        set_committed_value(incident, key, value)
    set_committed_value(incident, "id", incident_id)
    make_transient_to_detached(incident)
    session.add(incident)
    return True


# Built once: every report runs both.
_OBSERVABLES_OF = select(Observable).where(Observable.incident_id == bindparam("incident_id")).order_by(Observable.id)
_INSERT_OBSERVABLES = insert(Observable.__table__)
ROWS_PER_STATEMENT = 5_000


class PlannedObservable(Protocol):
    """An observable about to be stored, with the ids its STIX objects use (read-only fields,
    as a NamedTuple has)."""

    @property
    def type(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def display(self) -> str: ...
    @property
    def stix_id(self) -> str: ...
    @property
    def indicator_id(self) -> str: ...
    @property
    def ip_hex(self) -> str | None: ...
    @property
    def host_rev(self) -> str | None: ...


def insert_observables(session: DbSession, incident: Incident, planned: Sequence[PlannedObservable]) -> None:
    """Insert the (new) incident's observables and load them into ``incident.observables``.

    One executemany and one SELECT instead of a unit-of-work flush: SQLite makes the ORM insert
    row by row (it needs each generated id), a quarter of a 10,000-indicator import.
    (An ORM INSERT … RETURNING is no better: SQLAlchemy splits it by which columns are NULL, and
    on SQLite sends one row per statement to keep the order of the returned ids.)
    """
    rows = [dict(incident_id=incident.id, org_id=incident.org_id, type=p.type, value=p.value,
                 display_value=p.display, stix_id=p.stix_id, indicator_id=p.indicator_id, ip_hex=p.ip_hex,
                 host_rev=p.host_rev, created_at=incident.created_at) for p in planned]
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        session.execute(_INSERT_OBSERVABLES, rows[start:start + ROWS_PER_STATEMENT])
    loaded = session.execute(_OBSERVABLES_OF, {"incident_id": incident.id}).scalars().all() if rows else []
    set_committed_value(incident, "observables", list(loaded))
