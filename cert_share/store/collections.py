"""The TAXII collections the platform keeps, created as organizations appear.

Aliases are a contract: ``all-members``, ``sector-<sector>``, ``org-<slug>``, ``intake``,
``exercise-<slug>`` (a drill's, made and deleted with it: services/exercises.py).
"""
from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from ..database import DbSession
from ..models import Collection, Organization, StixObject, TaxiiPoll, TaxiiStatus


def _ensure(session: DbSession, alias: str, **fields) -> Collection:
    coll = session.execute(select(Collection).where(Collection.alias == alias)).scalar_one_or_none()
    if coll is None:
        coll = Collection(id=str(uuid.uuid4()), alias=alias, **fields)
        session.add(coll)
        session.flush()
    return coll


def ensure_base_collections(session: DbSession) -> None:
    _ensure(session, "all-members", kind="all-members", title="Early warnings for all members",
            description="Warnings every member organization may read (TLP:CLEAR and TLP:GREEN).")
    _ensure(session, "intake", kind="intake", title="Intake",
            description="Members push STIX bundles here; each member reads back only what it wrote.")


def ensure_collections_for(session: DbSession, org: Organization) -> None:
    """Every organization gets its own collection; every member sector gets a sector collection."""
    ensure_base_collections(session)
    _ensure(session, f"org-{org.slug}", kind="org", org_id=org.id, title=f"Warnings for {org.name}",
            description="Warnings meant for this organization only (e.g. about its own assets).")
    if org.kind == "member":
        _ensure(session, f"sector-{org.sector}", kind="sector", sector=org.sector,
                title=f"Warnings for the {org.sector} sector",
                description="TLP:AMBER warnings shared with the organizations of this sector.")


def ensure_exercise_collection(session: DbSession, slug: str, name: str) -> Collection:
    """A drill's collection, ``exercise-<slug>``: read by its participants and the CERT only
    (policy.collection_access), written by run-exercises alone."""
    title = f"[EXERCISE] {name}"[:200]
    return _ensure(session, f"exercise-{slug}", kind="exercise", title=title,
                   description="A drill's injects, for its participants and the CERT only: nothing here is real.")


def delete_collection(session: DbSession, collection_id: str) -> dict[str, int]:
    """Delete a collection with its objects, its consumption log and its upload statuses (a
    drill's, as its exercise is deleted; the other kinds live for ever). How many of each went."""
    counts = {}
    for name, model in (("objects", StixObject), ("polls", TaxiiPoll), ("statuses", TaxiiStatus)):
        result = session.execute(delete(model).where(model.collection_id == collection_id))
        counts[name] = int(getattr(result, "rowcount", 0) or 0)
    session.execute(delete(Collection).where(Collection.id == collection_id))
    return counts


# The intake collection's id per engine: it is created once and never deleted or renamed, and
# every report needs it, so it is looked up once per process rather than once per report.
_intake_ids: "weakref.WeakKeyDictionary[Engine, str]" = weakref.WeakKeyDictionary()


def intake_collection_id(session: DbSession) -> str:
    engine = session.get_bind().engine
    found = _intake_ids.get(engine)
    if found is None:
        found = _intake_ids[engine] = intake_collection(session).id
    return found


def intake_collection(session: DbSession) -> Collection:
    # Every report asks for it: one query when it exists (the usual case), not three.
    found = by_alias(session, "intake")
    if found is not None:
        return found
    ensure_base_collections(session)
    return session.execute(select(Collection).where(Collection.alias == "intake")).scalar_one()


def by_alias(session: DbSession, alias: str) -> Collection | None:
    return session.execute(select(Collection).where(Collection.alias == alias)).scalar_one_or_none()


def titles(session: DbSession, aliases: Iterable[str]) -> dict[str, str]:
    """Alias -> the collection's title, as pages name collections (one query)."""
    wanted = sorted(set(aliases))
    if not wanted:
        return {}
    rows = session.execute(select(Collection.alias, Collection.title).where(Collection.alias.in_(wanted))).all()
    return {alias: title for alias, title in rows}


# Collections by id and by alias per engine, as snapshots for read requests: a collection is
# never deleted (an exercise's excepted: never kept here), and the columns that decide who may
# read it (kind, sector, org_id) and its title never change once it is made. Only collections
# found are kept.
_snapshots: "weakref.WeakKeyDictionary[Engine, dict[str, Collection]]" = weakref.WeakKeyDictionary()


def snapshot(session: DbSession, id_or_alias: str, *, connection: Connection | None = None) -> Collection | None:
    """The collection with this id (or alias) as a snapshot shared by this process's read
    requests: never added to a session, so never written through. ``connection``: the request's
    read connection, which names the engine without making a Session (``session`` is used on a miss)."""
    engine = connection.engine if connection is not None else session.get_bind().engine
    known = _snapshots.get(engine)
    if known is None:
        known = _snapshots.setdefault(engine, {})
    found = known.get(id_or_alias)
    if found is None:
        coll = session.get(Collection, id_or_alias) or by_alias(session, id_or_alias)
        if coll is None:
            return None
        if coll.kind == "exercise":
            # Deleted with its exercise, and its alias may then name a new one: never kept.
            return coll
        found = Collection(**{column.key: getattr(coll, column.key) for column in Collection.__table__.columns})
        known[coll.id] = known[coll.alias] = found
    return found
