"""Removing stored versions of objects from their collections: the one place that deletes
``stix_objects`` rows.

A TAXII collection otherwise only ever grows (every version stays, so ``match[version]=all`` and
the versions endpoint show a member everything it could have polled). The exception is a
warning about a personal value that CERT staff published in clear and then sent back to its
keyed hash: its clear versions are removed from every collection they were written to, in the
transaction that stores the hashed version (early_warning.lifecycle). A member that fetched a
clear version before keeps its copy; nobody can fetch it afterwards.

Nothing a TAXII read keeps between requests depends on the rows removed: pages are keyset-paged
on ``(date_added, pk)`` (a removed row is simply absent from later pages, and a ``next`` token
still names a valid position), the version filters and the manifest are computed per request,
and the per-process collection snapshots (store.collections) hold no object data.
"""
from __future__ import annotations

from collections.abc import Collection as Many

from sqlalchemy import delete, or_, select, tuple_

from ..database import DbSession
from ..models import StixObject

# Rows of one statement's IN lists, well below every backend's parameter limit.
_CHUNK = 500


def versions_lacking(session: DbSession, *, collection_ids: Many[str], owner_org_id: int,
                     stix_ids: Many[str], markers: Many[str]) -> list[tuple[str, str, str]]:
    """(collection_id, stix_id, version) of ``owner_org_id``'s stored versions of ``stix_ids`` in
    ``collection_ids`` whose JSON body contains none of ``markers`` (compared as plain text: the
    database does the filtering and only the rows found travel). Uses the unique index on
    (collection_id, stix_id, version, owner)."""
    if not collection_ids or not stix_ids or not markers:
        return []
    found: list[tuple[str, str, str]] = []
    ids = sorted(set(stix_ids))
    for start in range(0, len(ids), _CHUNK):
        found += [(row[0], row[1], row[2]) for row in session.execute(
            select(StixObject.collection_id, StixObject.stix_id, StixObject.version).where(
                StixObject.collection_id.in_(sorted(set(collection_ids))),
                StixObject.stix_id.in_(ids[start:start + _CHUNK]),
                StixObject.owner_org_id == owner_org_id,
                ~or_(*(StixObject.body.contains(marker, autoescape=True) for marker in markers)))).all()]
    return found


def remove_versions(session: DbSession, *, owner_org_id: int, rows: Many[tuple[str, str, str]]) -> int:
    """Delete ``owner_org_id``'s stored rows (collection_id, stix_id, version); another owner's
    copy of the same id and version stays. Does not commit. Returns how many rows went."""
    wanted = sorted(set(rows))
    removed = 0
    for start in range(0, len(wanted), _CHUNK):
        result = session.execute(
            delete(StixObject).where(
                tuple_(StixObject.collection_id, StixObject.stix_id, StixObject.version).in_(
                    wanted[start:start + _CHUNK]),
                StixObject.owner_org_id == owner_org_id),
            execution_options={"synchronize_session": False})
        removed += result.rowcount or 0  # type: ignore[attr-defined]
    return removed
