"""Correlation: turn a newly stored report into early warnings.

Called once per report by ``services.intake.store_report`` inside its transaction (every
channel goes through it: web form, API, TAXII push, import, partner feeds). For each observable:
- community warning: the same SCO id reported by ≥ 2 organizations within the correlation window
  (index ``ix_observables_stix_created``);
- owner warning: the observable lies inside a member's registered assets
  (see constituency.py; indexed probes only).
An existing warning for (observable, audience) is updated (a new version), never duplicated.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, select

from ..clock import utcnow
from ..database import DbSession
from ..models import EarlyWarning, Incident, Observable, Organization, WarningSource
from ..models.warning import COMMUNITY
from ..stix.build import derived_id
from ..store.rows import add_unless_exists
from ..vocab import IncidentStatus, WarningState
from . import build, lifecycle, notify
from .constituency import AssetMatch, matching_assets_many
from .settings import WarningSettings, current

log = logging.getLogger(__name__)
AssetMatches = dict[tuple[str, str], list[AssetMatch]]
# Sources read per observable: enough to route and count, bounded for very common values.
MAX_WINDOW_SOURCES = 500
# Values per IN list: few enough for any SQLite build (32,766 parameters), and few statements
# for a 10,000-indicator import.
IDS_PER_QUERY = 5_000


# Built once: constructing a statement (and its cache key) on every report cost more than running it.
_WARNINGS_OF = select(EarlyWarning).where(EarlyWarning.sco_id.in_(bindparam("ids", expanding=True)))
_WINDOW = (
    select(Observable.stix_id, Observable.incident_id, Observable.created_at, Incident.tlp, Incident.org_id)
    .join(Incident, Incident.id == Observable.incident_id)
    .join(Organization, Organization.id == Incident.org_id)
    .where(Observable.stix_id.in_(bindparam("ids", expanding=True)), Observable.created_at >= bindparam("since"),
           Incident.status != IncidentStatus.FALSE_POSITIVE, Organization.kind != "cert")
    .order_by(Observable.created_at.desc())
    .limit(bindparam("limit"))
)
# Which of these observables another organization reported within the window: without one, no
# warning can be raised, and the window's sightings need not be read.
_ELSEWHERE = (
    select(Observable.stix_id).distinct()
    .join(Incident, Incident.id == Observable.incident_id)
    .join(Organization, Organization.id == Incident.org_id)
    .where(Observable.stix_id.in_(bindparam("ids", expanding=True)), Observable.created_at >= bindparam("since"),
           Incident.status != IncidentStatus.FALSE_POSITIVE, Organization.kind != "cert",
           Incident.org_id != bindparam("org"))
)


def after_intake(session: DbSession, incident: Incident, *, matches: AssetMatches | None = None) -> None:
    """The intake hook: alert CERT staff about critical reports, then correlate. ``matches``:
    asset_matches() of the report's observables, when intake looked them up beforehand."""
    notify.critical_report(session, incident)
    correlate_incident(session, incident, matches=matches)


def asset_matches(session: DbSession, observables) -> AssetMatches:
    """Members' registered assets containing each observable (objects with .type and .value).

    A read of slowly changing data: intake runs it before its first write (services/intake.py)."""
    return matching_assets_many(session, [(o.type, o.value) for o in observables])


def correlate_incident(session: DbSession, incident: Incident, *, now: datetime | None = None,
                       settings: WarningSettings | None = None,
                       matches: AssetMatches | None = None) -> list[EarlyWarning]:
    """Create or update the warnings this report's observables raise; returns them. Does not commit."""
    org = incident.organization
    if org is None or org.is_cert or incident.status == IncidentStatus.FALSE_POSITIVE:
        return []
    now = now or utcnow()
    settings = settings or current()
    window_start = now - timedelta(days=settings.correlation_window_days)
    touched: list[EarlyWarning] = []
    observables = list(incident.observables)
    if not observables:
        return touched
    # Three or four indexed queries per report, whatever its number of observables.
    sco_ids = sorted({o.stix_id for o in observables})
    existing: dict[str, dict[str, EarlyWarning]] = {}
    for i in range(0, len(sco_ids), IDS_PER_QUERY):
        for known in session.execute(_WARNINGS_OF, {"ids": sco_ids[i:i + IDS_PER_QUERY]}).scalars():
            existing.setdefault(known.sco_id, {})[known.audience] = known
    if matches is None:
        matches = asset_matches(session, observables)
    sightings = _Sightings(session, sco_ids, window_start, org.id,
                           {o.stix_id for o in observables for m in matches.get((o.type, o.value), ())
                            if m.org_id != org.id})
    for obs in observables:
        audiences: list[tuple[str, AssetMatch | None]] = [(COMMUNITY, None)]
        audiences += [(f"org:{m.org_id}", m) for m in matches.get((obs.type, obs.value), ())]
        for audience, match in audiences:
            warning = existing.get(obs.stix_id, {}).get(audience)
            if warning is not None:
                lifecycle.add_source(session, warning, _source_for(incident, org), now=now, settings=settings)
                touched.append(warning)
                continue
            window = sightings.window(obs.stix_id, match)
            if window is None:
                continue
            warning = _maybe_create(session, obs, audience, match, window, now, settings)
            if warning is not None:
                existing.setdefault(obs.stix_id, {})[audience] = warning
                touched.append(warning)
    return touched


def _source_for(incident: Incident, org: Organization) -> WarningSource:
    return WarningSource(incident_id=incident.id, org_id=org.id, tlp=incident.tlp, seen_at=incident.created_at,
                         withdrawn=False, organization=org)


class _Seen(NamedTuple):
    """A report of an observable within the window (a future WarningSource, if a warning is raised)."""
    incident_id: int
    org_id: int
    tlp: str
    seen_at: datetime


class _Sightings:
    """A report's observables' sightings within the window, read once and only when a warning
    could be raised: for a value that only the reporter itself reported, however often, none can
    (_maybe_create would say so after reading up to MAX_WINDOW_SOURCES of its sightings)."""

    def __init__(self, session: DbSession, sco_ids: list[str], since: datetime, org_id: int,
                 owned_elsewhere: set[str]) -> None:
        self.session, self.sco_ids, self.since, self.org_id = session, sco_ids, since, org_id
        self.owned_elsewhere = owned_elsewhere  # inside another member's assets than the reporter's
        self.elsewhere: set[str] | None = None
        self.windows: dict[str, list[_Seen]] | None = None

    def window(self, sco_id: str, match: AssetMatch | None) -> list[_Seen] | None:
        """The sightings of ``sco_id`` (newest first), or None when no warning can qualify."""
        if self.elsewhere is None:
            self.elsewhere = _reported_elsewhere(self.session, self.sco_ids, self.since, self.org_id)
        if sco_id not in self.elsewhere and (match is None or match.org_id == self.org_id):
            return None
        if self.windows is None:
            self.windows = _window_sources(self.session, sorted(self.elsewhere | self.owned_elsewhere), self.since)
        return self.windows.get(sco_id, [])


def _reported_elsewhere(session: DbSession, sco_ids: list[str], since: datetime, org_id: int) -> set[str]:
    """The observables that an organization other than ``org_id`` reported within the window."""
    found: set[str] = set()
    for i in range(0, len(sco_ids), IDS_PER_QUERY):
        found.update(session.execute(_ELSEWHERE, {"ids": sco_ids[i:i + IDS_PER_QUERY], "since": since,
                                                  "org": org_id}).scalars())
    return found


def _window_sources(session: DbSession, sco_ids: list[str], since: datetime) -> dict[str, list[_Seen]]:
    """Reports of these observables within the window (one per incident), newest first.

    Plain tuples: most observables raise no warning, and an ORM instance per report sighting
    would cost a third of correlating a large import."""
    out: dict[str, list[_Seen]] = {}
    seen: set[tuple[str, int]] = set()
    for i in range(0, len(sco_ids), IDS_PER_QUERY):
        chunk = sco_ids[i:i + IDS_PER_QUERY]
        rows = session.execute(_WINDOW, {"ids": chunk, "since": since, "limit": MAX_WINDOW_SOURCES * len(chunk)}).all()
        for row in rows:
            key = (row.stix_id, row.incident_id)
            if key in seen:
                continue
            seen.add(key)
            out.setdefault(row.stix_id, []).append(_Seen(row.incident_id, row.org_id, row.tlp, row.created_at))
    return out


def _maybe_create(session: DbSession, obs: Observable, audience: str, match: AssetMatch | None,
                  window: list[_Seen], now: datetime, settings: WarningSettings) -> EarlyWarning | None:
    orgs = {s.org_id for s in window}
    if match is None and len(orgs) < 2:
        return None
    if match is not None and not (orgs - {match.org_id}):
        return None
    classification = obs.incident.classification
    warning = EarlyWarning(
        audience=audience, owner_org_id=match.org_id if match else None, state=WarningState.PENDING,
        sco_id=obs.stix_id, observable_type=obs.type, observable_value=obs.value,
        observable_display=obs.display_value, ip_hex=obs.ip_hex, host_rev=obs.host_rev,
        report_id=derived_id("report", "early-warning", obs.stix_id, audience),
        indicator_id=derived_id("indicator", "early-warning", obs.stix_id, audience),
        title=build.default_title(obs.type, obs.display_value, classification, match is not None),
        description="", recommended_action=build.recommended_action(obs.type, match is not None),
        classification=classification, tlp="amber+strict", targets=[], edited=False,
        reason=f"constituency:{match.asset}" if match else "correlation", confidence=50, reporter_count=0,
        first_seen=min(s.seen_at for s in window), last_seen=now, valid_from=now, valid_until=now,
        created=lifecycle.stix_now(now), modified=lifecycle.stix_now(now), revoked=False, publish_due=False,
        published_targets=[], created_at=now, updated_at=now,
    )
    if match is not None:
        warning.owner = session.get(Organization, match.org_id)
    for source in window:  # copies: the same window also serves the observable's other audiences
        warning.sources.append(WarningSource(
            incident_id=source.incident_id, org_id=source.org_id, tlp=source.tlp, seen_at=source.seen_at,
            withdrawn=False, organization=session.get(Organization, source.org_id)))
    # Routing before the insert: one INSERT of the final row (plus its sources), no UPDATE after.
    became_draft = lifecycle.recompute(session, warning, now=now, settings=settings, new_version=False,
                                       notify_draft=False)
    # A concurrent report may raise the same warning: the unique key (sco_id, audience) decides,
    # and the loser adds its sighting to the winner's warning. Intake has already written in this
    # transaction.
    if not add_unless_exists(session, warning, after_own_write=True):
        existing = session.execute(select(EarlyWarning).where(
            EarlyWarning.sco_id == obs.stix_id, EarlyWarning.audience == audience)).scalar_one()
        lifecycle.add_source(session, existing, _source_for(obs.incident, obs.incident.organization),
                             now=now, settings=settings)
        return existing
    if became_draft:
        notify.draft_awaiting_review(session, warning)
    log.info("early warning %s raised for %s %s (%s)", warning.id, obs.type, obs.value, audience)
    return warning
