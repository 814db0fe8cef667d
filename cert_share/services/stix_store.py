"""Writing STIX objects into collections: the one place that assigns ``date_added``."""
from __future__ import annotations

import json
from typing import Iterable

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..models import Collection, StixObject
from ..stix import markings
from ..stix.build import version_of


def canonical_version(version: str) -> str:
    """Fixed-width version string (microseconds), so string order equals time order."""
    from ..clock import parse_iso

    ts = parse_iso(version)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_objects(session: Session, collection: Collection, objects: Iterable[dict], *,
                owner_org_id: int | None, incident_id: int | None = None) -> list[StixObject]:
    """Store objects in a collection, skipping versions it already holds. Does not commit."""
    rows: list[StixObject] = []
    batch = []
    for obj in objects:
        version = canonical_version(version_of(obj))
        batch.append((obj, version))
    if not batch:
        return rows
    existing: set[tuple[str, str]] = set()
    keys = [(obj["id"], version) for obj, version in batch]
    for chunk_start in range(0, len(keys), 500):
        chunk = keys[chunk_start:chunk_start + 500]
        existing.update(session.execute(
            select(StixObject.stix_id, StixObject.version).where(
                StixObject.collection_id == collection.id,
                tuple_(StixObject.stix_id, StixObject.version).in_(chunk),
            )).all())
    now = utcnow()
    for obj, version in batch:
        key = (obj["id"], version)
        if key in existing:
            continue
        existing.add(key)
        row = StixObject(
            collection_id=collection.id,
            stix_id=obj["id"],
            type=obj["type"],
            spec_version=obj.get("spec_version", "2.1"),
            version=version,
            date_added=now,
            tlp=markings.tlp_of(obj),
            owner_org_id=owner_org_id,
            incident_id=incident_id,
            body=json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
        )
        rows.append(row)
    session.add_all(rows)
    return rows
