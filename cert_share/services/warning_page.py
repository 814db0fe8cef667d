"""What the page of one early warning shows (``/warnings/<id>``).

Members: the warning as they received it, i.e. the latest version stored in a collection it went
to that policy serves them (the same rows TAXII would serve), and that version as a STIX bundle.
CERT staff also: the reports that raised it, its history (every stored version, what changed in
it, and the audited actions of people and of the platform in between), which organizations
fetched it over TAXII (the consumption log), and the collections it may be published to, grouped
so that the choice scales to hundreds of members.

Reads only: every change goes through early_warning.lifecycle. Who may read a warning at all is
lifecycle.readable_warning's decision (policy); this module never widens it.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from .. import policy
from ..actor import Actor
from ..database import DbSession
from ..early_warning import build
from ..early_warning.published import PublishedVersion, received_versions, version_fields
from ..errors import InputError, NotFound
from ..models import AuditEntry, Collection, EarlyWarning, Incident, Organization, StixObject, TaxiiPoll
from ..stix import build as stix_build
from ..stix.fraud import PERSONAL_TYPES
from ..stix.keyed_hash import current_hash
from ..store import collections as collection_store
from ..store.organizations import cert_organization
from ..store.text import lower_contains
from ..store.warning_versions import stored_rows
from ..vocab import N_, TLP_LEVELS
from .workspace import collection_title

# The read routes whose polls hand out objects (a manifest lists them without their content).
FETCH_ROUTES = ("objects", "object", "versions")
# Organizations listed for a search in "Publish to"; the rest are counted, not listed.
ORG_MATCHES = 50
MAX_SEARCH = 100


# ---- the warning as published ----------------------------------------------------------------

def _stored_rows(session: DbSession, warning: EarlyWarning, ids: list[str]) -> list[tuple[Collection, StixObject]]:
    if not warning.published_targets:
        return []
    return stored_rows(session, warning.published_targets, ids)


def value_facts(warning: EarlyWarning) -> dict:
    """For the page: ``personal`` (the value is personal data, members get its keyed hash unless
    CERT staff publish it in clear) and ``value_hmac`` (its hash under the current key)."""
    personal = warning.observable_type in PERSONAL_TYPES
    return {"personal": personal,
            "value_hmac": current_hash(warning.observable_type, warning.observable_value) if personal else None}


def published_version(session: DbSession, actor: Actor, warning: EarlyWarning) -> PublishedVersion | None:
    """The latest version of the warning ``actor`` received (early_warning.published), with the
    CERT identity for the STIX download. None: none."""
    cert = cert_organization(session)
    extra = (cert.stix_id,) if cert is not None else ()
    return received_versions(session, actor, [warning], extra_ids=extra).get(warning.id)


def stix_bundle(session: DbSession, actor: Actor, warning: EarlyWarning) -> tuple[dict, bool]:
    """The warning as a STIX 2.1 bundle, and whether it is a preview: members get the version they
    received; CERT staff the same, or (never published yet) the version it would go out as."""
    published = published_version(session, actor, warning)
    if published is not None:
        return stix_build.bundle(published.objects), False
    cert = cert_organization(session)
    if not policy.is_cert_staff(actor) or cert is None:
        raise NotFound(gettext("no warning %(id)s", id=warning.id))
    return stix_build.bundle(build.warning_objects(warning, cert)), True


# ---- for CERT staff: sources, history, consumption ---------------------------------------------

def collection_titles(session: DbSession, aliases: Iterable[str]) -> dict[str, str]:
    """Alias -> title: pages name collections by their titles, never by their aliases (the
    platform's own collections in the reader's language)."""
    return {alias: collection_title(alias, title) for alias, title in collection_store.titles(session, aliases).items()}


@dataclass
class SourceRow:
    incident: Incident
    readable: bool  # False: a TLP:RED report the reader is not named on (shown as its number only)
    tlp: str
    seen_at: datetime
    withdrawn: bool


def sources(session: DbSession, actor: Actor, warning: EarlyWarning) -> list[SourceRow]:
    """The reports that raised the warning, each as far as ``actor`` may read it."""
    # The page names each report's organization and policy looks at its case members: loaded with it.
    incidents = {i.id: i for i in session.execute(select(Incident).where(
        Incident.id.in_([s.incident_id for s in warning.sources]))
        .options(joinedload(Incident.organization), selectinload(Incident.case_members))).scalars()}
    return [SourceRow(incidents[s.incident_id], policy.can_read_incident(actor, incidents[s.incident_id]),
                      s.tlp, s.seen_at, s.withdrawn) for s in warning.sources if s.incident_id in incidents]


@dataclass
class Change:
    """One field in a history event: set by an edit (``value``), or changed between two versions
    (``before`` → ``value``, given for the TLP only)."""

    name: str  # title, description, recommended_action, tlp, targets, valid_until, confidence, revoked, value_hash
    value: object = None
    before: object = None


@dataclass
class HistoryEvent:
    """One line of the history, as data: workspace/_warning_parts.html's history_event words it."""

    at: datetime
    kind: str  # version, source, edit, publish, discard, revoke, redraft, withdraw-source, restore-source
    action: str = ""  # people's and the platform's actions: the audit action (vocab.AUDIT_ACTION_LABELS)
    actor: str = ""  # a version: who acted since the one before ("": the platform, from its reports)
    code: str = ""  # redraft: the reason code
    incident_id: int | None = None  # source, withdraw-source, restore-source: the report
    sector: str = ""  # source: the reporting organization's sector
    tlp: str | None = None  # source: the report's TLP; publish: the warning's
    version: str = ""
    collections: list[str] = field(default_factory=list)  # version, publish: where to (titles)
    changes: list[Change] = field(default_factory=list)  # edit: what was set; version: what changed
    first: bool = False  # version: the first one
    previous_state: str = ""  # redraft
    reporters: int | None = None  # redraft: reporting organizations


def _audit_events(session: DbSession, warning: EarlyWarning, titles: dict[str, str]) -> list[HistoryEvent]:
    incident_ids = [str(s.incident_id) for s in warning.sources]
    rows = session.execute(select(AuditEntry).where(or_(
        and_(AuditEntry.target_type == "warning", AuditEntry.target_id == str(warning.id)),
        and_(AuditEntry.target_type == "incident", AuditEntry.target_id.in_(incident_ids),
             AuditEntry.action.in_(("warning.withdraw-source", "warning.restore-source")))))).scalars()
    events = []
    for row in rows:
        details = row.details if isinstance(row.details, dict) else {}
        event = HistoryEvent(row.at, row.action.split(".", 1)[1], action=row.action, actor=row.actor,
                             code=str(details.get("reason", "")))
        if row.target_type == "incident":
            if warning.id not in (details.get("warnings") or []):
                continue  # the same report's withdrawal touched other warnings only
            event.incident_id = int(str(row.target_id))
        elif row.action == "warning.edit":
            event.changes = [Change(k, [titles.get(a, a) for a in v] if k == "targets" and isinstance(v, list) else v)
                             for k, v in details.items()]
        elif row.action == "warning.publish":
            event.tlp = details.get("tlp")
            event.collections = [titles.get(a, a) for a in details.get("targets") or []]
        elif row.action == "warning.redraft":
            event.previous_state = str(details.get("previous_state", ""))
            event.reporters = details.get("reporting_organizations")
        events.append(event)
    return events


@dataclass
class _Stored:
    added: datetime
    collections: set[str]
    fields: PublishedVersion


def _stored_versions(session: DbSession, warning: EarlyWarning) -> list[_Stored]:
    """Every version of the warning stored in its collections, oldest first (CERT's view)."""
    bodies: dict[tuple[str, str], dict] = {}
    versions: dict[str, tuple[datetime, set[str]]] = {}
    for collection, row in _stored_rows(session, warning, [warning.report_id, warning.indicator_id]):
        bodies.setdefault((row.stix_id, row.version), json.loads(row.body))
        if row.stix_id == warning.report_id:
            added, where = versions.get(row.version, (row.date_added, set()))
            versions[row.version] = (min(added, row.date_added), where | {collection.alias})
    out = []
    for version in sorted(versions):
        added, where = versions[version]
        out.append(_Stored(added, where, version_fields(version, bodies[(warning.report_id, version)],
                                                        bodies.get((warning.indicator_id, version)))))
    return out


_COMPARED = ("title", "description", "recommended_action", "tlp", "valid_until", "confidence", "revoked", "value_hash")


def _changed(before: PublishedVersion, after: PublishedVersion) -> list[Change]:
    return [Change(name, getattr(after, name), getattr(before, name) if name == "tlp" else None)
            for name in _COMPARED if getattr(before, name) != getattr(after, name)]


def _version_events(stored: list[_Stored], people: list[HistoryEvent], titles: dict[str, str]) -> list[HistoryEvent]:
    """One event per stored version, naming who acted since the previous one was published
    (nobody: the platform made it from new or withdrawn reports)."""
    events = []
    previous: _Stored | None = None
    for item in stored:
        since = previous.added if previous is not None else None
        who = sorted({e.actor for e in people if e.at <= item.added and (since is None or e.at > since)
                      and e.kind in ("edit", "publish", "revoke")})
        events.append(HistoryEvent(item.added, "version", actor=", ".join(who), version=item.fields.version,
                                   collections=sorted(titles.get(a, a) for a in item.collections),
                                   changes=_changed(previous.fields, item.fields) if previous else [],
                                   first=previous is None))
        previous = item
    return events


def history(session: DbSession, warning: EarlyWarning, source_rows: list[SourceRow]) -> list[HistoryEvent]:
    """Reports arriving, people's actions, the platform's, and every published version, oldest first."""
    stored = _stored_versions(session, warning)
    audited = list(session.execute(select(AuditEntry.details).where(
        AuditEntry.target_type == "warning", AuditEntry.target_id == str(warning.id),
        AuditEntry.action.in_(("warning.edit", "warning.publish")))).scalars())
    aliases = {a for item in stored for a in item.collections}
    aliases |= {a for d in audited if isinstance(d, dict) for a in (d.get("targets") or []) if isinstance(a, str)}
    titles = collection_titles(session, aliases)
    people = _audit_events(session, warning, titles)
    events = people + _version_events(stored, people, titles)
    events += [HistoryEvent(s.seen_at, "source", incident_id=s.incident.id, sector=s.incident.organization.sector,
                            tlp=s.tlp) for s in source_rows]
    events.sort(key=lambda e: e.at)
    return events


def first_published(session: DbSession, warning: EarlyWarning) -> datetime | None:
    if not warning.published_targets:
        return None
    return session.execute(select(func.min(StixObject.date_added)).join(
        Collection, Collection.id == StixObject.collection_id).where(
        StixObject.stix_id == warning.report_id, Collection.alias.in_(list(warning.published_targets)))).scalar()


@dataclass
class Consumer:
    organization: Organization
    collections: list[str]  # titles
    polls: int
    first: datetime
    last: datetime


def consumers(session: DbSession, warning: EarlyWarning) -> list[Consumer]:
    """Organizations (not the CERT) whose TAXII reads handed them objects (objects, object or
    versions requests that returned at least one) from a collection the warning was published to,
    at or after ``published_at``: when its latest version was written there. The log is per
    collection, so a read filtered to other objects counts too."""
    if warning.published_at is None or not warning.published_targets:
        return []
    rows = session.execute(
        select(TaxiiPoll.org_id, Collection.alias, func.count(), func.min(TaxiiPoll.polled_at),
               func.max(TaxiiPoll.polled_at))
        .join(Collection, Collection.id == TaxiiPoll.collection_id)
        .join(Organization, Organization.id == TaxiiPoll.org_id)
        .where(Collection.alias.in_(list(warning.published_targets)), TaxiiPoll.polled_at >= warning.published_at,
               TaxiiPoll.route.in_(FETCH_ROUTES), TaxiiPoll.returned > 0, Organization.kind != "cert")
        .group_by(TaxiiPoll.org_id, Collection.alias)).all()
    orgs = {o.id: o for o in session.execute(select(Organization).where(
        Organization.id.in_({r[0] for r in rows}))).scalars()} if rows else {}
    titles = collection_titles(session, {r[1] for r in rows})
    by_org: dict[int, Consumer] = {}
    for org_id, alias, count, first, last in rows:
        found = by_org.get(org_id)
        if found is None:
            by_org[org_id] = Consumer(orgs[org_id], [titles.get(alias, alias)], count, first, last)
            continue
        found.collections.append(titles.get(alias, alias))
        found.polls += count
        found.first, found.last = min(found.first, first), max(found.last, last)
    return sorted(by_org.values(), key=lambda c: c.organization.name.lower())


# ---- "Publish to": targets in groups -----------------------------------------------------------

@dataclass
class TargetOption:
    alias: str
    label: str
    members: int  # member organizations it reaches
    note: str = ""  # e.g. "deactivated"


@dataclass
class TargetGroup:
    key: str  # all-members | sectors | organizations
    options: list[TargetOption]
    # For each TLP level: None where this kind of collection may carry it, else policy's refusal.
    refusals: dict[str, str | None]

    @property
    def allowed(self) -> list[str]:
        return [level for level, refusal in self.refusals.items() if refusal is None]


@dataclass
class TargetChoices:
    groups: list[TargetGroup]
    q: str
    org_matches: int  # organizations matching the search (listed: at most ORG_MATCHES)
    org_total: int


def _refusals(alias: str) -> dict[str, str | None]:
    # The rule is per kind of collection: one alias of the kind stands for all of them.
    return {level: policy.warning_targets_refusal(level, [alias]) for level in TLP_LEVELS}


def target_choices(session: DbSession, *, selected: list[str], q: str | None) -> TargetChoices:
    """The collections a warning may go to, in three groups: all members, each sector (with its
    number of active member organizations), and single organizations: the active ones matching
    the search ``q`` (name or slug), plus the ones already chosen."""
    q = (q or "").strip()
    if len(q) > MAX_SEARCH or "\x00" in q:
        raise InputError(gettext("the organization search is at most %(max_search)s characters, without NUL",
                                 max_search=MAX_SEARCH), field="q")
    members = dict(session.execute(select(Organization.sector, func.count()).where(
        Organization.kind == "member", Organization.active.is_(True)).group_by(Organization.sector)).all())
    kinds = {c.alias: c for c in session.execute(
        select(Collection).where(Collection.kind.in_(("all-members", "sector")))).scalars()}
    groups = []
    if "all-members" in kinds:
        everyone = TargetOption("all-members", N_("All members"), sum(members.values()))
        groups.append(TargetGroup("all-members", [everyone], _refusals("all-members")))
    sectors = sorted((c for c in kinds.values() if c.kind == "sector"), key=lambda c: c.alias)
    groups.append(TargetGroup("sectors", [TargetOption(c.alias, c.sector or c.alias, members.get(c.sector or "", 0))
                                          for c in sectors], _refusals("sector-x")))
    orgs = select(Collection, Organization).join(Organization, Organization.id == Collection.org_id).where(
        Collection.kind == "org")
    # A deactivated organization is no longer offered (lifecycle._known_targets refuses it); one
    # already chosen stays listed, marked, so that it can be unticked.
    offered = orgs.where(Organization.active.is_(True))
    org_total = session.execute(select(func.count()).select_from(offered.subquery())).scalar_one()
    wanted = [a for a in selected if a.startswith("org-")]
    queries = [orgs.where(Collection.alias.in_(wanted))] if wanted else []
    org_matches = 0
    if q:
        matching = offered.where(or_(lower_contains(Organization.name, q), lower_contains(Organization.slug, q)))
        org_matches = session.execute(select(func.count()).select_from(matching.subquery())).scalar_one()
        queries.append(matching.order_by(func.lower(Organization.name)).limit(ORG_MATCHES))
    shown = {}
    for query in queries:
        for collection, org in session.execute(query).all():
            note = "deactivated" if not org.active else ("" if org.kind == "member" else org.kind)
            shown[collection.alias] = TargetOption(collection.alias, org.name,
                                                   1 if org.kind == "member" and org.active else 0, note)
    groups.append(TargetGroup("organizations", sorted(shown.values(), key=lambda o: o.label.lower()),
                              _refusals("org-x")))
    return TargetChoices(groups, q, org_matches, org_total)
