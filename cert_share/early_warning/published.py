"""A warning as members received it: the latest version stored in a collection it went to that
policy serves them (the rows TAXII would serve), never the working copy CERT staff edit. Staff
edits, a return to draft or a lowered TLP reach members only with the next publish run.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from .. import policy
from ..actor import Actor
from ..clock import parse_iso
from ..database import DbSession
from ..models import EarlyWarning, StixObject
from ..stix import markings
from ..stix.fraud import PERSONAL_TYPES
from ..stix.keyed_hash import current_hash
from ..store.warning_versions import stored_rows

_ACTION_PREFIX = "Recommended action: "
# build.warning_objects' pattern for a personal value carried by its keyed hash.
_HASHED_PATTERN = re.compile(r"^\[[a-z-]+:x_cert_share_value_hmac = '(hmac-sha256:[A-Za-z0-9_.-]+:[0-9a-f]{64})'\]$")


@dataclass
class PublishedVersion:
    """One stored version of the warning's report and indicator, read back as a person reads it."""

    version: str
    title: str
    description: str
    recommended_action: str
    tlp: str | None
    valid_until: datetime | None
    confidence: int | None
    revoked: bool
    valid_from: datetime | None = None
    added: datetime | None = None  # when this version was stored
    # The keyed hash the indicator carried instead of the value (None: the value, or no indicator).
    value_hash: str | None = None
    clear: bool = False  # the indicator carried the value itself
    objects: list[dict] = field(default_factory=list)  # the CERT identity (if stored), indicator, report


def _time(value: object) -> datetime | None:
    return parse_iso(value) if isinstance(value, str) else None


def _value_hash(indicator: dict | None) -> str | None:
    match = _HASHED_PATTERN.match(str(indicator.get("pattern", ""))) if indicator else None
    return match.group(1) if match else None


def version_fields(version: str, report: dict, indicator: dict | None) -> PublishedVersion:
    """build.warning_objects, read backwards: the recommended action travels at the end of the
    report's description and as the indicator's whole description."""
    action = ""
    if indicator is not None and str(indicator.get("description", "")).startswith(_ACTION_PREFIX):
        action = indicator["description"][len(_ACTION_PREFIX):]
    description = str(report.get("description", ""))
    suffix = f"\n\n{_ACTION_PREFIX}{action}"
    if action and description.endswith(suffix):
        description = description[:-len(suffix)]
    return PublishedVersion(version=version, title=str(report.get("name", "")), description=description,
                            recommended_action=action, tlp=markings.tlp_of(report),
                            valid_until=_time(indicator.get("valid_until")) if indicator else None,
                            confidence=report.get("confidence"), revoked=bool(report.get("revoked")),
                            valid_from=_time(indicator.get("valid_from")) if indicator else None,
                            value_hash=_value_hash(indicator),
                            clear=indicator is not None and _value_hash(indicator) is None)


def received_versions(session: DbSession, actor: Actor, warnings: list[EarlyWarning], *,
                      extra_ids: tuple[str, ...] = ()) -> dict[int, PublishedVersion]:
    """Warning id -> the latest version ``actor`` received, for the warnings that reached it: one
    query for the whole list. A row counts if it is stored in a collection the warning was
    published to and policy.object_admitted lets it through to ``actor`` there (as TAXII would).
    ``extra_ids``: other objects to return with each version (the CERT identity)."""
    published = [w for w in warnings if w.published_at is not None and w.published_targets]
    ids = {i for w in published for i in (w.report_id, w.indicator_id)} | set(extra_ids)
    rows = stored_rows(session, {a for w in published for a in w.published_targets}, ids)
    by_alias: dict[str, list[StixObject]] = {}
    access = {}
    for collection, row in rows:
        if collection.alias not in access:
            access[collection.alias] = policy.collection_access(actor, collection)
        if policy.object_admitted(access[collection.alias], tlp=row.tlp, owner_org_id=row.owner_org_id):
            by_alias.setdefault(collection.alias, []).append(row)
    out = {}
    for warning in published:
        latest: dict[str, StixObject] = {}
        wanted = (warning.report_id, warning.indicator_id, *extra_ids)
        for alias in warning.published_targets:
            for row in by_alias.get(alias, ()):
                if row.stix_id in wanted and (row.stix_id not in latest or row.version > latest[row.stix_id].version):
                    latest[row.stix_id] = row
        report = latest.get(warning.report_id)
        if report is None:
            continue
        bodies = {stix_id: json.loads(row.body) for stix_id, row in latest.items()}
        version = version_fields(report.version, bodies[warning.report_id], bodies.get(warning.indicator_id))
        version.added = report.date_added
        version.objects = [bodies[i] for i in wanted if i in bodies and i != warning.report_id]
        version.objects.append(bodies[warning.report_id])
        out[warning.id] = version
    return out


@dataclass
class ReceivedWarning:
    """What a member lists, searches and reads over the API: the warning's fixed facts (its id,
    STIX ids, observable) with the texts, TLP and validity of the version it received."""

    warning: EarlyWarning
    version: PublishedVersion

    @property
    def id(self) -> int:
        return self.warning.id

    @property
    def report_id(self) -> str:
        return self.warning.report_id

    @property
    def indicator_id(self) -> str:
        return self.warning.indicator_id

    @property
    def observable_type(self) -> str:
        return self.warning.observable_type

    @property
    def observable_value(self) -> str:
        """The value as the received version carried it: a personal value's keyed hash unless
        that version was published in clear."""
        if self.warning.observable_type not in PERSONAL_TYPES or self.version.clear:
            return self.warning.observable_value
        return self.version.value_hash or current_hash(self.warning.observable_type, self.warning.observable_value)

    @property
    def observable_display(self) -> str:
        if self.warning.observable_type not in PERSONAL_TYPES or self.version.clear:
            return self.warning.observable_display
        return self.observable_value

    @property
    def value_hash(self) -> str | None:
        """A personal value's keyed hash (the received version's; the current key's for one
        published in clear); None for other types."""
        if self.warning.observable_type not in PERSONAL_TYPES:
            return None
        if self.version.clear:
            return current_hash(self.warning.observable_type, self.warning.observable_value)
        return self.observable_value

    @property
    def classification(self) -> str:
        return self.warning.classification

    @property
    def title(self) -> str:
        return self.version.title

    @property
    def description(self) -> str:
        return self.version.description

    @property
    def recommended_action(self) -> str:
        return self.version.recommended_action

    @property
    def tlp(self) -> str | None:
        return self.version.tlp

    @property
    def confidence(self) -> int | None:
        return self.version.confidence

    @property
    def valid_from(self) -> datetime | None:
        return self.version.valid_from

    @property
    def valid_until(self) -> datetime | None:
        return self.version.valid_until

    @property
    def modified(self) -> datetime | None:
        return _time(self.version.version)

    @property
    def revoked(self) -> bool:
        return self.version.revoked

    @property
    def published_at(self) -> datetime | None:
        return self.version.added


def received(session: DbSession, actor: Actor, warnings: list[EarlyWarning]) -> list[ReceivedWarning]:
    """``warnings`` (in their order) as ``actor`` received them, leaving out those that never reached it."""
    versions = received_versions(session, actor, warnings)
    return [ReceivedWarning(w, versions[w.id]) for w in warnings if w.id in versions]
