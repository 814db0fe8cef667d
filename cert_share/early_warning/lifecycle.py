"""The warning lifecycle: draft → pending (approved, or automatic) → published; discarded,
revoked, expired. Also the ``publish-warnings`` job body.

Versions: every change that members should see bumps ``modified`` (STIX versioning: same ids,
newer ``modified``) and sets ``publish_due``; publish-warnings writes the current version into the
warning's collections. Expiry needs no new version: the published indicator already carries
``valid_until``, which TAXII consumers honour; the platform only marks the warning expired (and a
later sighting revives it with a new validity window). A revoked warning that was ever published
gets one last version with ``revoked: true`` in every collection it went to.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import NamedTuple, cast

from flask_babel import gettext
from sqlalchemy import CursorResult, bindparam, false, func, select, update
from sqlalchemy.orm import selectinload

from .. import policy
from ..actor import SYSTEM, Actor
from ..clock import utcnow
from ..database import DbSession
from ..errors import Conflict, InputError, NotFound, PermissionDenied
from ..limits import MAX_DESCRIPTION, MAX_TITLE
from ..models import Collection, EarlyWarning, Incident, Organization, WarningSource
from ..models.warning import COMMUNITY
from ..stix import markings
from ..stix.build import identity
from ..stix.fraud import PERSONAL_TYPES
from ..store import audit, removed_versions
from ..store.case_staff import red_sources
from ..store.collections import by_alias
from ..store.organizations import cert_organization
from ..store.stix_objects import add_objects
from ..store.warning_versions import readable_collection_ids, received_query
from ..vocab import TLP_LEVELS, WarningState
from . import build, hash_index, notify, published
from .published import ReceivedWarning
from .routing import Route, Source, community_route, extra_sectors, fraud_sectors, owner_route
from .settings import WarningSettings, current

REVIEWERS_ONLY = "only CERT staff may review early warnings"

log = logging.getLogger(__name__)
ONE_MS = timedelta(milliseconds=1)
END_STATES = (WarningState.DISCARDED, WarningState.REVOKED)
# States a warning leaves when new reports send it back to draft: approved or automatic (pending),
# or already out (published, expired). Its redraft_reason/redraft_at then say why and since when.
SENT_BACK_FROM = (WarningState.PENDING, WarningState.PUBLISHED, WarningState.EXPIRED)


def stix_now(now: datetime) -> datetime:
    """STIX timestamps carry milliseconds: truncate so the stored value equals the published one."""
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


def _bump(warning: EarlyWarning, now: datetime) -> None:
    """A new version: ``modified`` strictly after the previous one, even within one millisecond."""
    warning.modified = max(stix_now(now), warning.modified + ONE_MS)
    warning.updated_at = now


class ActiveSources(NamedTuple):
    """What the warning's active (not withdrawn) sources say: one routing Source per
    (organization, TLP), the reporting organizations, and the latest sighting (None: no source)."""
    routing: list[Source]
    orgs: set[int]
    last_seen: datetime | None


# One row per (organization, TLP) of a stored warning's active sources: a popular observable's
# warning has thousands of sources, and loading each as an ORM object made every further
# sighting cost more than the one before.
# Grouped from ix_warning_sources_routing alone (no row reads), then joined to the few organizations.
_PER_ORG_TLP = (
    select(WarningSource.org_id, WarningSource.tlp, func.max(WarningSource.seen_at).label("seen_at"))
    .where(WarningSource.warning_id == bindparam("wid"), WarningSource.withdrawn == false())
    .group_by(WarningSource.org_id, WarningSource.tlp)
    .subquery()
)
_ACTIVE_SOURCES = (
    select(_PER_ORG_TLP.c.org_id, _PER_ORG_TLP.c.tlp, Organization.kind, Organization.sector,
           _PER_ORG_TLP.c.seen_at)
    .join(Organization, Organization.id == _PER_ORG_TLP.c.org_id)
)
_HAS_SOURCE = select(WarningSource.id).where(WarningSource.warning_id == bindparam("wid"),
                                             WarningSource.incident_id == bindparam("iid"))


def active_sources(session: DbSession, warning: EarlyWarning) -> ActiveSources:
    """The warning's active sources, from its ``sources`` when they are in memory (a new warning,
    or one whose sources were loaded), else aggregated by the database."""
    if warning.id is None or "sources" in warning.__dict__:
        active = [s for s in warning.sources if not s.withdrawn]
        return ActiveSources([Source(s.org_id, s.organization.kind, s.organization.sector, s.tlp) for s in active],
                             {s.org_id for s in active}, max((s.seen_at for s in active), default=None))
    rows = session.execute(_ACTIVE_SOURCES, {"wid": warning.id}).all()
    return ActiveSources([Source(org_id, kind, sector, tlp) for org_id, tlp, kind, sector, _ in rows],
                         {row[0] for row in rows}, max((row[4] for row in rows), default=None))


def route_for(warning: EarlyWarning, sources: list[Source]) -> Route | None:
    if warning.audience == COMMUNITY:
        return community_route(sources, also=extra_sectors(warning.observable_type, fraud_sectors()))
    assert warning.owner_org_id is not None  # a warning for any other audience is an owner's
    return owner_route(warning.owner_org_id, warning.owner.slug, sources)


def add_source(session: DbSession, warning: EarlyWarning, source: WarningSource, *, now: datetime,
               settings: WarningSettings) -> None:
    """A later sighting: record it and publish a new version of the same warning.

    Reads neither the warning's sources nor their count: one indexed probe for the report, one
    aggregate per (organization, TLP) in recompute, whatever the number of earlier sightings."""
    if "sources" in warning.__dict__ or warning.id is None:
        if any(s.incident_id == source.incident_id for s in warning.sources):
            return
    elif session.execute(_HAS_SOURCE, {"wid": warning.id, "iid": source.incident_id}).first() is not None:
        return
    source.warning = warning  # appended to ``sources`` only where they are loaded
    session.add(source)
    recompute(session, warning, now=now, settings=settings)


def recompute(session: DbSession, warning: EarlyWarning, *, now: datetime, settings: WarningSettings,
              new_version: bool = True, notify_draft: bool = True) -> bool:
    """Re-derive routing, counts, validity and state from the warning's active sources.

    Returns True when the warning just became a draft (CERT staff are told, unless the caller
    does it itself once the new row has its id: ``notify_draft=False``)."""
    if warning.state in END_STATES:
        return False  # staff decided (or it was withdrawn); later sightings are recorded, nothing more
    active = active_sources(session, warning)
    route = route_for(warning, active.routing)
    if route is None:
        _revoke(warning, now)
        return False
    orgs = active.orgs
    warning.reporter_count = len(orgs)
    if warning.audience == COMMUNITY:
        warning.confidence = min(95, 40 + 20 * len(orgs))
    else:
        warning.confidence = min(95, 55 + 10 * len(orgs - {warning.owner_org_id}))
    if active.last_seen is not None:
        warning.last_seen = max(warning.last_seen, active.last_seen)
    warning.valid_until = stix_now(max(now, warning.last_seen) + timedelta(days=settings.validity_days))
    if not warning.edited:
        warning.tlp, warning.targets = route.tlp, list(route.targets)
        asset = warning.reason.partition(":")[2] if warning.reason.startswith("constituency:") else None
        warning.description = build.default_description(
            warning.observable_type, warning.observable_display, warning.classification, len(orgs),
            settings.correlation_window_days, asset)
    if new_version:
        _bump(warning, now)
    previous = warning.state
    if route.draft:
        warning.state, warning.publish_due = WarningState.DRAFT, False
        if previous != WarningState.DRAFT:
            if warning.id is not None and previous in SENT_BACK_FROM:
                _sent_back(session, warning, route, previous, now)
            if notify_draft:
                notify.draft_awaiting_review(session, warning)
            return True
    else:
        warning.state, warning.publish_due = WarningState.PENDING, True
        warning.redraft_reason, warning.redraft_at = "", None
    return False


def redraft_reason(route: Route) -> str:
    """Why a warning on this route waits for review, as a code the pages put into words:
    ``source-tlp:<level>`` (a source this strict always needs a person) or
    ``no-member-sector:<level>`` (an AMBER warning with no member sector to go to)."""
    kind = "source-tlp" if policy.needs_review(route.tlp) else "no-member-sector"
    return f"{kind}:{route.tlp}"


def _sent_back(session: DbSession, warning: EarlyWarning, route: Route, previous: str, now: datetime) -> None:
    """An approved (or automatic, or published) warning is a draft again because its reports
    changed: say why and since when, on the row and in the audit log."""
    warning.redraft_reason, warning.redraft_at = redraft_reason(route), now
    audit.record(session, SYSTEM, "warning.redraft", "warning", warning.id, reason=warning.redraft_reason,
                 previous_state=previous, reporting_organizations=warning.reporter_count,
                 version=warning.modified.isoformat())


def _revoke(warning: EarlyWarning, now: datetime) -> None:
    if warning.state in END_STATES:
        return
    warning.revoked = True
    warning.state = WarningState.REVOKED
    _bump(warning, now)
    warning.publish_due = warning.published_at is not None  # members hold a version: tell them


# --- the publish-warnings job ---------------------------------------------------------------

def expire_warnings(session: DbSession, now: datetime) -> int:
    # An UPDATE's result is a CursorResult, which Session.execute's annotation does not say.
    result = cast(CursorResult, session.execute(
        update(EarlyWarning).where(EarlyWarning.state == WarningState.PUBLISHED, EarlyWarning.valid_until < now)
        .values(state=WarningState.EXPIRED, updated_at=now)))
    return result.rowcount or 0


def publish_warnings(session: DbSession, now: datetime | None = None, *, batch: int | None = None) -> str:
    """Write every due warning's current version into its collections; commit per batch.

    Idempotent: a version already stored in a collection is skipped by stix_objects.add_objects, and a
    warning leaves the queue in the same transaction that stores it — only if it was not changed
    meanwhile (``modified`` unchanged), so a sighting that lands during the run is published next time.
    Rows are read and marked with Core statements (no ORM identity map): 10,000 due warnings are
    the design load, and the ORM's bookkeeping would cost more than the writes.
    """
    now = now or utcnow()
    batch = batch or current().publish_batch
    cert = cert_organization(session)
    if cert is None:
        return "publish-warnings: no CERT organization configured; nothing published"
    expired = expire_warnings(session, now)
    session.commit()
    published = revoked = missing = 0
    # The CERT's identity is public: marked CLEAR so every reader of a warning can resolve its author
    # (an unmarked object counts as AMBER+STRICT and would not be served in all-members).
    cert_identity = dict(identity(cert), object_marking_refs=[markings.marking_id("clear")])
    table = EarlyWarning.__table__
    mark = (update(table)
            .where(table.c.id == bindparam("wid"), table.c.modified == bindparam("seen_modified"))
            .values(publish_due=False, published_at=bindparam("published_at"), state=bindparam("new_state"),
                    published_targets=bindparam("new_targets")))
    collections: dict[str, Collection | None] = {}
    last_id = 0
    while True:
        rows = [SimpleNamespace(**row) for row in session.execute(
            select(table).where(table.c.publish_due.is_(True), table.c.id > last_id)
            .order_by(table.c.id).limit(batch)).mappings()]
        if not rows:
            break
        per_collection, updates = _plan_batch(session, rows, cert, now)
        revoked += sum(1 for warning in rows if warning.revoked)
        published += sum(1 for warning in rows if not warning.revoked)
        missing += _store_batch(session, per_collection, collections, cert, cert_identity)
        _remove_clear_versions(session, rows, collections, cert)
        session.execute(mark, updates, execution_options={"synchronize_session": False})
        session.commit()
        last_id = rows[-1].id
    summary = f"publish-warnings: {published} published, {revoked} revoked, {expired} expired"
    if missing:
        summary += f", {missing} missing collection(s) skipped"
    return summary


def _plan_batch(session: DbSession, rows: list, cert, now: datetime) -> tuple[dict[str, list[dict]], list[dict]]:
    """For a batch of due warnings: the objects to store per collection alias, and each warning's
    row update. Tells the owners of members' warnings that theirs went out."""
    per_collection: dict[str, list[dict]] = defaultdict(list)
    updates = []
    for warning in rows:
        objects = build.warning_objects(warning, cert, with_identity=False)  # identity: once per collection
        targets = set(warning.targets)
        if warning.revoked:
            targets |= set(warning.published_targets)
        for alias in sorted(targets):
            per_collection[alias].extend(objects)
        updates.append({"wid": warning.id, "seen_modified": warning.modified, "published_at": now,
                        "new_state": WarningState.REVOKED if warning.revoked else WarningState.PUBLISHED,
                        "new_targets": sorted(set(warning.published_targets) | targets)})
        if not warning.revoked and warning.audience != COMMUNITY:
            notify.owner_warning_published(session, warning)
    # A member that holds a published personal value's hash finds it with one indexed read.
    hash_index.index_values(session, ((w.observable_type, w.observable_value) for w in rows if not w.revoked))
    return per_collection, updates


def _store_batch(session: DbSession, per_collection: dict[str, list[dict]], collections: dict[str, Collection | None],
                 cert, cert_identity: dict) -> int:
    """Store each collection's objects with the marking definitions and CERT identity they
    reference; returns how many target collections do not exist (``collections`` caches lookups)."""
    missing = 0
    for alias, objects in per_collection.items():
        if alias not in collections:
            collections[alias] = by_alias(session, alias)
        collection = collections[alias]
        if collection is None:
            missing += 1
            log.warning("publish-warnings: collection %s does not exist; skipped", alias)
            continue
        used = {ref for o in objects for ref in o.get("object_marking_refs", ())}
        defs = [m for m in markings.marking_objects().values() if m["id"] in used]
        add_objects(session, collection, defs + [cert_identity] + objects, owner_org_id=cert.id)
    return missing


# The text a stored indicator's JSON carries when it names a personal value by its keyed hash
# (build.warning_objects' pattern, as store.stix_objects.body_json writes it: compact, and the
# quotes of a JSON key and value unescaped, so no text inside a string can look like it).
def _hashed_marker(obs_type: str) -> str:
    return f'"pattern":"[{obs_type}:x_cert_share_value_hmac = \''


def _remove_clear_versions(session: DbSession, rows: list, collections: dict[str, Collection | None], cert) -> int:
    """A personal value's warning that goes out as its keyed hash: every stored version of its
    indicator and report that carried the value in clear (CERT staff published it in clear,
    then went back to the hash) is deleted from every collection the warning was published to,
    in the transaction that stores the hashed version. Members that fetched it before keep their
    copy; no TAXII route serves it again. Returns how many versions went; audited per warning
    (which versions, never the value)."""
    hashed = [w for w in rows if build.hides_value(w.observable_type, w.publish_clear) and w.published_targets]
    if not hashed:
        return 0
    for alias in {a for w in hashed for a in w.published_targets} - set(collections):
        collections[alias] = by_alias(session, alias)
    aliases = {c.id: alias for alias, c in collections.items() if c is not None}
    found = removed_versions.versions_lacking(
        session, collection_ids=sorted(aliases), owner_org_id=cert.id,
        stix_ids=[w.indicator_id for w in hashed], markers=sorted({_hashed_marker(w.observable_type) for w in hashed}))
    if not found:
        return 0
    by_indicator = {w.indicator_id: w for w in hashed}
    doomed = [(coll, stix_id, version) for coll, indicator_id, version in found
              for stix_id in (indicator_id, by_indicator[indicator_id].report_id)]
    removed_versions.remove_versions(session, owner_org_id=cert.id, rows=doomed)
    for indicator_id, warning in by_indicator.items():
        mine = [(coll, version) for coll, i, version in found if i == indicator_id]
        if mine:
            audit.record(session, SYSTEM, "warning.clear-versions-removed", "warning", warning.id,
                         versions=sorted({v for _, v in mine}), collections=sorted({aliases[c] for c, _ in mine}))
    log.info("publish-warnings: %d version(s) published in clear removed", len({(c, v) for c, _, v in found}))
    return len({(i, v) for _, i, v in found})


# --- CERT staff actions ----------------------------------------------------------------------


def get_warning(session: DbSession, warning_id: int) -> EarlyWarning:
    warning = session.get(EarlyWarning, warning_id)
    if warning is None:
        raise NotFound(gettext("no warning %(warning_id)s", warning_id=warning_id))
    return warning


def _require_case_reader(session: DbSession, warning: EarlyWarning, actor: Actor) -> None:
    if not policy.can_read_case_warning(actor, red_sources(session, warning)):
        raise PermissionDenied(gettext("warning %(id)s was raised from a TLP:RED report you are not named on",
                                       id=warning.id))


def _edit_texts(warning: EarlyWarning, texts: tuple[tuple[str, str | None, int], ...]) -> dict:
    """Set the texts given as (name, value or None, longest length), stripped, on ``warning``;
    returns what was set."""
    changes = {}
    for name, value, limit in texts:
        if value is None:
            continue
        value = value.strip()
        if name == "title" and not value:
            raise InputError(gettext("title must not be empty"), field="title")
        if len(value) > limit:
            raise InputError(gettext("%(name)s is longer than %(limit)s characters",
                                     name=name, limit=limit), field=name)
        setattr(warning, name, value)
        changes[name] = value
    return changes


def _known_targets(session: DbSession, targets: object) -> list[str]:
    """The target aliases, sorted and without repeats; InputError unless each names a collection
    a warning may be published to."""
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise InputError(gettext("targets must be a list of collection aliases"), field="targets")
    found = {t: by_alias(session, t) for t in targets if t != "intake"}
    unknown = [t for t in targets if found.get(t) is None]
    if unknown:
        raise InputError(gettext("unknown collection(s): %(unknown)s", unknown=', '.join(unknown)), field="targets")
    # A deactivated organization no longer receives warnings; its collection stays for its history.
    org_ids = [c.org_id for c in found.values() if c is not None and c.org_id is not None]
    inactive = list(session.execute(select(Organization.name).where(
        Organization.id.in_(org_ids), Organization.active.is_(False))).scalars()) if org_ids else []
    if inactive:
        raise InputError(gettext("deactivated organization(s) no longer receive warnings: %(values)s",
                                 values=', '.join(sorted(inactive))),
                         field="targets")
    return sorted(set(targets))


def review_warning(session: DbSession, warning_id: int, actor: Actor, *, title: str | None = None,
                   description: str | None = None, recommended_action: str | None = None,
                   tlp: str | None = None, targets: list[str] | None = None, publish_clear: bool | None = None,
                   now: datetime | None = None) -> EarlyWarning:
    """CERT staff edit a warning, and commit. Edited fields are kept when later sightings update it.
    ``publish_clear``: a personal value goes out in clear (True) or as its keyed hash (False)."""
    warning = _review(session, warning_id, actor, title=title, description=description,
                      recommended_action=recommended_action, tlp=tlp, targets=targets,
                      publish_clear=publish_clear, now=now)
    session.commit()
    return warning


def approve_warning(session: DbSession, warning_id: int, actor: Actor, *,
                    now: datetime | None = None) -> EarlyWarning:
    """Publish a draft, and commit: it goes out with the next publish-warnings run."""
    warning = _approve(session, warning_id, actor, now=now)
    session.commit()
    return warning


def publish_reviewed(session: DbSession, warning_id: int, actor: Actor, *, tlp: str | None,
                     targets: list[str], now: datetime | None = None, **texts: str | None) -> EarlyWarning:
    """Publish a draft with the TLP, targets (and texts: title, description, recommended_action)
    the reviewer chose for it, and commit. The choice is an edit only where it differs from the
    warning's; edit and approval are one transaction, so a choice the approval refuses leaves the
    draft as it was."""
    now = now or utcnow()
    changes = _differences(get_warning(session, warning_id), tlp=tlp, targets=targets, **texts)
    if changes:
        _review(session, warning_id, actor, now=now, **changes)
    warning = _approve(session, warning_id, actor, now=now)
    session.commit()
    return warning


def save_reviewed(session: DbSession, warning_id: int, actor: Actor, *, tlp: str | None,
                  targets: list[str], now: datetime | None = None, **texts: str | None) -> dict:
    """Save what the reviewer changed on the warning's page (only what differs), and commit;
    returns the changes (none: nothing saved, nothing audited)."""
    policy.require_cert_staff(actor, REVIEWERS_ONLY)
    warning = get_warning(session, warning_id)
    _require_case_reader(session, warning, actor)  # even with nothing to save: the same answer
    changes = _differences(warning, tlp=tlp, targets=targets, **texts)
    if changes:
        _review(session, warning_id, actor, now=now, **changes)
        session.commit()
    return changes


_TEXTS = ("title", "description", "recommended_action")


def _differences(warning: EarlyWarning, *, tlp: str | None, targets: list[str], **texts: str | None) -> dict:
    """The fields of a page's form that differ from the warning (texts compared stripped)."""
    unknown = set(texts) - set(_TEXTS)
    if unknown:
        raise TypeError(f"not a warning text: {', '.join(sorted(unknown))}")
    changes: dict = {}
    if sorted(set(targets)) != sorted(warning.targets or []):
        changes["targets"] = sorted(set(targets))
    if tlp and tlp != warning.tlp:
        changes["tlp"] = tlp
    for name, value in texts.items():
        if value is not None and value.strip() != getattr(warning, name):
            changes[name] = value
    return changes


def _review(session: DbSession, warning_id: int, actor: Actor, *, title: str | None = None,
            description: str | None = None, recommended_action: str | None = None,
            tlp: str | None = None, targets: list[str] | None = None, publish_clear: bool | None = None,
            now: datetime | None = None) -> EarlyWarning:
    policy.require_cert_staff(actor, REVIEWERS_ONLY)
    now = now or utcnow()
    warning = get_warning(session, warning_id)
    _require_case_reader(session, warning, actor)
    if warning.state in END_STATES:
        raise Conflict(gettext("warning %(warning_id)s is %(state)s; it can no longer be edited",
                               warning_id=warning_id, state=warning.state))
    changes = _edit_texts(warning, (("title", title, MAX_TITLE), ("description", description, MAX_DESCRIPTION),
                                    ("recommended_action", recommended_action, MAX_DESCRIPTION)))
    if tlp is not None:
        if tlp not in TLP_LEVELS:
            raise InputError(gettext("tlp must be one of %(tlp_levels)s",
                                     tlp_levels=', '.join(TLP_LEVELS)), field="tlp")
        warning.tlp = changes["tlp"] = tlp
    if targets is not None:
        warning.targets = changes["targets"] = _known_targets(session, targets)
    problem = policy.warning_targets_refusal(warning.tlp, warning.targets)
    if problem:
        raise InputError(problem, field="targets")
    clear = _clear_choice(warning, publish_clear)
    if changes or clear is None:
        warning.edited = True  # the value's form is no routing or text choice: sightings still update those
    warning.reviewed_by_id = actor.user.id if actor.user is not None else None
    warning.reviewed_at = now
    if warning.state in (WarningState.PUBLISHED, WarningState.EXPIRED):
        _bump(warning, now)
        warning.state, warning.publish_due = WarningState.PENDING, True
    if changes or clear is None:
        audit.record(session, actor, "warning.edit", "warning", warning.id, **changes)
    if clear is not None:
        # Who chose to let a personal value go out in clear, when, for which warning (never the value).
        audit.record(session, actor, "warning.publish-clear" if clear else "warning.publish-hashed", "warning",
                     warning.id, observable_type=warning.observable_type, state=warning.state)
    return warning


def _clear_choice(warning: EarlyWarning, publish_clear: bool | None) -> bool | None:
    """Set ``publish_clear`` where it changes; returns the new choice (None: unchanged)."""
    if publish_clear is None or publish_clear == warning.publish_clear:
        return None
    if warning.observable_type not in PERSONAL_TYPES:
        raise InputError(gettext("only a phone number, bank account or payment card is published as a keyed hash; "
                                 "other values always go out in clear"), field="publish_clear")
    warning.publish_clear = publish_clear
    return publish_clear


def _approve(session: DbSession, warning_id: int, actor: Actor, *, now: datetime | None = None) -> EarlyWarning:
    policy.require_cert_staff(actor, REVIEWERS_ONLY)
    now = now or utcnow()
    warning = get_warning(session, warning_id)
    _require_case_reader(session, warning, actor)
    if warning.state not in (WarningState.DRAFT, WarningState.PENDING):
        raise Conflict(gettext("warning %(warning_id)s is %(state)s; only drafts can be published",
                               warning_id=warning_id, state=warning.state))
    if not warning.targets:
        raise InputError(gettext("choose at least one target collection before publishing"), field="targets")
    problem = policy.warning_targets_refusal(warning.tlp, warning.targets)
    if problem:
        raise InputError(problem, field="targets")
    _bump(warning, now)
    warning.state, warning.publish_due = WarningState.PENDING, True
    warning.reviewed_by_id = actor.user.id if actor.user is not None else None
    warning.reviewed_at = now
    warning.redraft_reason, warning.redraft_at = "", None  # a person decided again
    audit.record(session, actor, "warning.publish", "warning", warning.id, tlp=warning.tlp, targets=warning.targets)
    return warning


def discard_warning(session: DbSession, warning_id: int, actor: Actor, *,
                    now: datetime | None = None) -> EarlyWarning:
    """Drop a draft or a not-yet-published warning; a published one must be revoked instead."""
    policy.require_cert_staff(actor, REVIEWERS_ONLY)
    now = now or utcnow()
    warning = get_warning(session, warning_id)
    _require_case_reader(session, warning, actor)
    if warning.published_at is not None or warning.state not in (WarningState.DRAFT, WarningState.PENDING):
        raise Conflict(gettext("warning %(warning_id)s is %(state)s and was published; revoke it instead",
                               warning_id=warning_id, state=warning.state))
    warning.state, warning.publish_due, warning.updated_at = WarningState.DISCARDED, False, now
    warning.reviewed_by_id = actor.user.id if actor.user is not None else None
    warning.reviewed_at = now
    audit.record(session, actor, "warning.discard", "warning", warning.id)
    session.commit()
    return warning


def revoke_warning(session: DbSession, warning_id: int, actor: Actor, *,
                   now: datetime | None = None) -> EarlyWarning:
    """Withdraw a warning: members receive a ``revoked: true`` version of everything it published."""
    policy.require_cert_staff(actor, REVIEWERS_ONLY)
    warning = get_warning(session, warning_id)
    _require_case_reader(session, warning, actor)
    if warning.state in END_STATES:
        raise Conflict(gettext("warning %(warning_id)s is already %(state)s",
                               warning_id=warning_id, state=warning.state))
    _revoke(warning, now or utcnow())
    audit.record(session, actor, "warning.revoke", "warning", warning.id)
    session.commit()
    return warning


def revoke_for_incident(session: DbSession, incident: Incident, actor: Actor, *,
                        now: datetime | None = None) -> list[EarlyWarning]:
    """The CERT marked ``incident`` a false positive: withdraw it from every warning it raised.

    A warning that no longer qualifies without it is revoked; one that still does (other
    organizations reported the same observable) gets a new version. Adds to the caller's
    transaction; does not commit.
    """
    return _set_withdrawn(session, incident, actor, withdrawn=True, now=now)


def restore_for_incident(session: DbSession, incident: Incident, actor: Actor, *,
                         now: datetime | None = None) -> list[EarlyWarning]:
    """The CERT reopened ``incident`` after marking it a false positive: it counts again in the
    warnings it had raised, which get a new version. A warning that was revoked meanwhile stays
    revoked (STIX revocation is final); its sources are restored for the record. Adds to the
    caller's transaction; does not commit."""
    return _set_withdrawn(session, incident, actor, withdrawn=False, now=now)


def _set_withdrawn(session: DbSession, incident: Incident, actor: Actor, *, withdrawn: bool,
                   now: datetime | None) -> list[EarlyWarning]:
    """Flip ``incident``'s sources to ``withdrawn``, recompute their warnings, audit it once."""
    now = now or utcnow()
    settings = current()
    sources = session.execute(select(WarningSource).where(WarningSource.incident_id == incident.id,
                                                          WarningSource.withdrawn.is_(not withdrawn))).scalars().all()
    touched = []
    for source in sources:
        source.withdrawn = withdrawn
        recompute(session, source.warning, now=now, settings=settings)
        touched.append(source.warning)
    if touched:
        revoked = [w.id for w in touched if w.state == WarningState.REVOKED]
        if withdrawn:
            audit.record(session, actor, "warning.withdraw-source", "incident", incident.id,
                         warnings=[w.id for w in touched], revoked=revoked)
        else:
            audit.record(session, actor, "warning.restore-source", "incident", incident.id,
                         warnings=[w.id for w in touched], still_revoked=revoked)
    return touched


def visible_warnings(session: DbSession, actor: Actor, *, state: str | None = None,
                     limit: int = 100, before: int | None = None) -> list[EarlyWarning]:
    """Warnings the actor may read: CERT staff all (optionally by state) but those raised from
    TLP:RED reports they may not read; members what was published to a collection they may read
    (the rows only: what members are shown of them is received_warnings')."""
    if not policy.is_cert_staff(actor):
        return [r.warning for r in received_warnings(session, actor, limit=limit, before=before)]
    # The drafts list names the owner of a constituency match: loaded with the rows.
    query = (select(EarlyWarning).order_by(EarlyWarning.id.desc()).where(policy.warning_read_filter(actor))
             .options(selectinload(EarlyWarning.owner)))
    if before is not None:
        query = query.where(EarlyWarning.id < before)
    if state:
        query = query.where(EarlyWarning.state == state)
    return list(session.execute(query.limit(limit)).scalars())


# Warnings read per round while looking for a member's newest readable ones.
_RECEIVED_BATCH = 100


def received_warnings(session: DbSession, actor: Actor, *, limit: int = 100,
                      before: int | None = None) -> list[ReceivedWarning]:
    """The newest warnings that reached ``actor`` (not CERT staff), as it received them. SQL keeps
    only warnings stored in a collection the member may read; published.received (the rule TAXII
    applies to each stored row) decides."""
    collection_ids = readable_collection_ids(session, actor)
    out: list[ReceivedWarning] = []
    while collection_ids and len(out) < limit:
        query = received_query(collection_ids)
        if before is not None:
            query = query.where(EarlyWarning.id < before)
        batch = list(session.execute(query.limit(_RECEIVED_BATCH)).scalars())
        out += published.received(session, actor, batch)
        if len(batch) < _RECEIVED_BATCH:
            break
        before = batch[-1].id
    return out[:limit]


def readable_warning(session: DbSession, actor: Actor, warning_id: int) -> EarlyWarning:
    """The warning if ``actor`` may read it; otherwise NotFound, exactly as if it did not exist
    (an unpublished warning, or one not published to the caller)."""
    warning = session.get(EarlyWarning, warning_id)
    if warning is None or not readable_by(session, actor, warning):
        raise NotFound(gettext("no warning %(warning_id)s", warning_id=warning_id))
    return warning


def received_warning(session: DbSession, actor: Actor, warning_id: int) -> ReceivedWarning:
    """The warning as ``actor`` (not CERT staff) received it; NotFound as readable_warning."""
    warning = session.get(EarlyWarning, warning_id)
    found = published.received(session, actor, [warning]) if warning is not None else []
    if not found:
        raise NotFound(gettext("no warning %(warning_id)s", warning_id=warning_id))
    return found[0]


def readable_by(session: DbSession, actor: Actor, warning: EarlyWarning) -> bool:
    """May ``actor`` read this warning? CERT staff: any, but one raised from TLP:RED reports only if
    they may read one of them; others: only a version that was published to them, decided on
    what was stored (its TLP, the collections it went to), never on the working copy."""
    if policy.is_cert_staff(actor):
        return policy.can_read_case_warning(actor, red_sources(session, warning))
    return bool(published.received(session, actor, [warning]))
