"""Build STIX 2.1 objects for organizations and incident reports, as plain dicts (their shapes are
checked against stix2 and stix2-validator in tests/unit/test_stix_build.py).

The incident carries the OASIS incident core extension; each observable becomes an SCO with its
deterministic id, an indicator with a STIX pattern, a sighting by the reporting organization and
a relationship to the incident. Ids of indicators, sightings and relationships are stable across
versions, so a phase update produces new versions of the same objects, not new objects.

A report or bundle holding OpenCTI's fraud SCOs (bank-account, phone-number, payment-card,
cryptocurrency-wallet) also holds the extension-definition they reference (stix/opencti.py).
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from typing import Iterable, Protocol, Sequence

from ..clock import stix_timestamp
from ..vocab import CRITICALITY, IncidentStatus, rsit_label
from . import markings, opencti
from .observables import Observable, normalize, sco_dict

INCIDENT_CORE_EXTENSION = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
# Namespace for ids this platform derives (sightings, relationships of an indicator).
CERT_SHARE_NAMESPACE = uuid.UUID("6f1c0d1e-4a83-5b3e-9a57-3c2f1b7c9e10")
_NAMESPACE_BYTES = CERT_SHARE_NAMESPACE.bytes

# Our triage status -> the incident core extension's investigation_status.
STATUS_TO_INVESTIGATION = {
    IncidentStatus.NEW: "new", IncidentStatus.ACKNOWLEDGED: "open", IncidentStatus.INVESTIGATING: "open",
    IncidentStatus.CLOSED: "closed", IncidentStatus.FALSE_POSITIVE: "closed",
}


class OrgLike(Protocol):
    name: str
    sector: str
    stix_id: str
    created_at: datetime


class ObservableLike(Protocol):
    # Read-only: a stored Observable or an intake's planned one (a NamedTuple) both serve.
    @property
    def type(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def indicator_id(self) -> str | None: ...


class IncidentLike(Protocol):
    stix_id: str
    title: str
    description: str
    classification: str
    severity: str
    tlp: str
    status: str
    detected_at: datetime
    started_at: datetime | None
    created_at: datetime
    stix_modified: datetime
    affected_services: str
    impact: str
    cross_border: list


def new_identity_id() -> str:
    return f"identity--{uuid.uuid4()}"


def new_incident_id() -> str:
    return f"incident--{uuid.uuid4()}"


def new_indicator_id() -> str:
    return f"indicator--{uuid.uuid4()}"


def derived_id(kind: str, *parts: str) -> str:
    """A stable id derived from ``parts``, in UUIDv4 form as STIX asks of SDO/SRO ids: the UUIDv5
    of the parts in our namespace, with the version bits set to 4.

    Computed from the SHA-1 directly rather than through two ``uuid.UUID`` objects: a large import
    derives two per indicator (tests/unit/test_stix_build.py checks it equals the uuid way)."""
    raw = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "|".join(parts).encode("utf-8")).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{kind}--{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def version_timestamp(value: datetime) -> str:
    """``created``/``modified`` as stix2 writes them: UTC, at least milliseconds, and every
    further digit kept — two versions of one object a few microseconds apart must differ."""
    value = value.astimezone(timezone.utc)
    fraction = f"{value.microsecond:06d}".rstrip("0").ljust(3, "0")
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


# The identity and the incident are written as plain dicts too (see _observable_objects): going
# through stix2 objects and back to JSON would cost a tenth of an API request. tests/unit/test_stix_build.py
# checks both against stix2.parse and stix2-validator.
def identity(org: OrgLike) -> dict:
    created = version_timestamp(org.created_at)
    return {"type": "identity", "spec_version": "2.1", "id": org.stix_id, "created": created, "modified": created,
            "name": org.name, "identity_class": "organization", "sectors": [org.sector]}


def incident_objects(inc: IncidentLike, org: OrgLike, observables: Sequence[ObservableLike]) -> list[dict]:
    """Every object of a report, incident first, and the definition of any extension an SCO
    uses (so that a TAXII collection holding the report serves it too). Markings are not
    included (see bundle())."""
    marking = markings.marking_id(inc.tlp)
    created = inc.created_at
    modified = max(inc.stix_modified, created)
    labels = [rsit_label(inc.classification), f"severity:{inc.severity}"]
    labels += [f"cross-border:{cc}" for cc in inc.cross_border or ()]
    core = {
        "extension_type": "property-extension",
        "determination": "false-positive" if inc.status == IncidentStatus.FALSE_POSITIVE else "suspected",
        "investigation_status": STATUS_TO_INVESTIGATION.get(inc.status, "new"),
        "criticality": CRITICALITY[inc.severity],
    }
    incident: dict[str, object] = {
        "type": "incident", "spec_version": "2.1", "id": inc.stix_id,
        "created": version_timestamp(created), "modified": version_timestamp(modified),
        "created_by_ref": org.stix_id, "name": inc.title,
    }
    description = _incident_description(inc)
    if description:
        incident["description"] = description
    incident.update(labels=labels, object_marking_refs=[marking], extensions={INCIDENT_CORE_EXTENSION: core})
    objects = [incident]
    # The same three timestamps for every observable: formatted once (a tenth of a large import).
    stamps = (stix_timestamp(inc.created_at), stix_timestamp(inc.detected_at),
              stix_timestamp(inc.started_at or inc.detected_at))
    for obs in observables:
        objects.extend(_observable_objects(obs, inc, org, marking, stamps))
    return objects + opencti.definitions_for(objects)


def _incident_description(inc: IncidentLike) -> str:
    parts = [inc.description or ""]
    if inc.affected_services:
        parts.append(f"Affected services: {inc.affected_services}")
    if inc.impact:
        parts.append(f"Impact: {inc.impact}")
    return "\n\n".join(p for p in parts if p)


def _observable_objects(obs: ObservableLike, inc: IncidentLike, org: OrgLike, marking: str,
                        stamps: tuple[str, str, str]) -> list[dict]:
    # Built as plain dicts from fixed templates: stix2 re-validating our own generated pattern
    # for every observable would cost ~3 ms each, a third of an API request. The shapes are checked
    # against stix2.parse and stix2-validator in tests/unit/test_stix_build.py.
    normalized = obs if isinstance(obs, Observable) else Observable(obs.type, obs.value, obs.value)
    sco = sco_dict(normalized, getattr(obs, "stix_id", None))
    indicator_id = getattr(obs, "indicator_id", None) or derived_id("indicator", inc.stix_id, sco["id"])
    created, valid_from, first_seen = stamps
    common = {"spec_version": "2.1", "created": created, "modified": created,
              "created_by_ref": org.stix_id, "object_marking_refs": [marking]}
    indicator = {
        "type": "indicator", "id": indicator_id, **common,
        "name": f"{normalized.type} {normalized.value}",
        "description": f"Observed by a reporting organization in {inc.classification} activity.",
        "indicator_types": ["malicious-activity"],
        "pattern": normalized.pattern(), "pattern_type": "stix", "pattern_version": "2.1",
        "valid_from": valid_from,
    }
    sighting = {
        "type": "sighting", "id": derived_id("sighting", indicator_id), **common,
        "sighting_of_ref": indicator_id, "where_sighted_refs": [org.stix_id],
        "first_seen": first_seen, "count": 1,
    }
    relationship = {
        "type": "relationship", "id": derived_id("relationship", indicator_id, inc.stix_id), **common,
        "relationship_type": "related-to", "source_ref": inc.stix_id, "target_ref": indicator_id,
    }
    sco = dict(sco, object_marking_refs=[marking])
    return [sco, indicator, sighting, relationship]


def bundle(objects: Iterable[dict], *, include_markings: bool = True) -> dict:
    """A STIX 2.1 bundle with the TLP marking definitions its objects use, and the definition of
    OpenCTI's SCO extension when an object uses it."""
    objects = list(objects)
    objects += opencti.definitions_for(objects)
    if include_markings:
        used = {ref for o in objects for ref in o.get("object_marking_refs") or ()}
        present = {o["id"] for o in objects}
        defs = [m for m in markings.marking_objects().values() if m["id"] in used and m["id"] not in present]
        objects = defs + objects
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def version_of(obj: dict) -> str:
    """The object's version for TAXII: modified, else created, else (SCOs) a fixed epoch."""
    return obj.get("modified") or obj.get("created") or "1970-01-01T00:00:00.000Z"


__all__ = [
    "INCIDENT_CORE_EXTENSION", "bundle", "derived_id", "identity", "incident_objects", "new_identity_id",
    "new_incident_id", "new_indicator_id", "normalize", "stix_timestamp", "version_of", "version_timestamp",
]
