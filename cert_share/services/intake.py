"""The one intake path: every report — web form, JSON API, TAXII push, import, partner feed —
becomes an incident, its observables and its STIX objects here, in one transaction."""
from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm.attributes import set_committed_value

from .. import deadlines as deadline_rules
from ..actor import Actor
from ..clock import utcnow
from ..database import DbSession
from ..early_warning.correlate import after_intake, asset_matches
from ..errors import InputError
from ..models import Incident, Organization, PhaseUpdate
from ..schemas.fields import choice_message
from ..stix import build
from ..stix.card_redaction import redact, redact_cards
from ..stix.observables import Observable as ObservableValue
from ..stix.observables import host_key, ip_hex
from ..store import audit
from ..store.collections import intake_collection_id
from ..store.incidents import insert_incident, insert_observables
from ..store.stix_objects import add_objects, prepare_objects
from ..vocab import END_STATUSES, PHASE_LABELS, UPDATE_PHASES, IncidentStatus, Phase
from .deadline_tracking import plan_new, track


def find_by_external_id(session: DbSession, org: Organization, external_id: str) -> Incident | None:
    return session.execute(
        select(Incident).where(Incident.org_id == org.id, Incident.external_id == external_id)
    ).scalar_one_or_none()


def report_incident(session: DbSession, *, org: Organization, data: dict, actor: Actor,
                    source: str) -> tuple[Incident, bool]:
    """Store a validated report (``IncidentCreateSchema`` output) for ``org`` and commit: see
    ``store_report``, which does the work.

    The commit keeps what the session holds loaded: every caller shows or counts the report it
    gets back, and expired, each of its attributes would be read back with four more queries.
    Nothing else changed those rows since they were written, so nothing is stale.
    """
    incident, created = store_report(session, org=org, data=data, actor=actor, source=source)
    _commit_keeping_loaded(session)
    return incident, created


def _commit_keeping_loaded(session: DbSession) -> None:
    # ``session`` may be Flask-SQLAlchemy's scoped session: the setting is the real session's.
    real = session.registry() if isinstance(session, scoped_session) else session
    expire, real.expire_on_commit = real.expire_on_commit, False
    try:
        real.commit()
    finally:
        real.expire_on_commit = expire


def store_report(session: DbSession, *, org: Organization, data: dict, actor: Actor,
                 source: str) -> tuple[Incident, bool]:
    """Add a validated report (``IncidentCreateSchema`` output) for ``org`` to the caller's
    transaction, which the caller commits (``report_incident`` for a report on its own; a TAXII
    push or a feed page stores its reports with its own rows).

    Returns (incident, created). A report whose ``external_id`` the organization already used is
    not stored again: the existing incident is returned with created=False. ``external_id`` is
    the organization's own: another organization's use of the same value is never consulted.
    Two requests racing with the same ``external_id`` get one report: the unique key decides,
    and the loser returns the winner's report like a retry would.

    Full card numbers in the free text (title, description, …), in any spelling, are masked to
    their BIN and last 4 here, whichever channel the report came by: a card number is never stored.
    """
    if data.get("exercise_id") is not None:
        # A drill's report is never an incident, whatever channel brought it: exercise_reports stores it.
        raise InputError(gettext("an exercise report is filed with the report form or POST /api/v1/incidents"),
                         field="exercise_id")
    data = without_cards(data)
    external_id = data.get("external_id")
    if external_id:
        existing = find_by_external_id(session, org, external_id)
        if existing is not None:
            return existing, False
    now = utcnow()
    incident = Incident(
        org_id=org.id,
        reporter_id=actor.user.id if actor.user is not None else None,
        source=source,
        external_id=external_id,
        stix_id=data.get("stix_id") or build.new_incident_id(),
        stix_modified=now,
        title=data["title"],
        description=data.get("description") or "",
        classification=data["classification"],
        severity=data["severity"],
        tlp=data["tlp"],
        status=IncidentStatus.NEW,
        detected_at=data["detected_at"],
        started_at=data.get("started_at"),
        classified_at=data.get("classified_at"),
        affected_services=data.get("affected_services") or "",
        impact=data.get("impact") or "",
        cross_border=list(data.get("cross_border") or []),
        personal_data=bool(data.get("personal_data")),
        share_reporter=bool(data.get("share_reporter")),
        assignee_id=None,
        merged_into_id=None,
        acknowledged_at=None,
        closed_at=None,
        created_at=now,
        updated_at=now,
    )
    incident.organization = org
    # Prepared before the first write, without the database: from the first INSERT to the commit
    # SQLite lets no other transaction write, so work done in between is time the other workers
    # wait (the report's STIX objects and their JSON, the constituency lookup).
    planned = _plan_observables(data.get("observables") or ())
    stix_objects = prepare_objects(_report_objects(incident, org, planned))
    matches = asset_matches(session, planned)
    deadlines = plan_new(incident, org)

    if not insert_incident(session, incident):
        # Refused only for an external_id that a concurrent request stored after the look above.
        assert external_id is not None
        winner = find_by_external_id(session, org, external_id)
        assert winner is not None
        return winner, False
    set_committed_value(incident, "updates", [])  # a new report has none: no lazy load later
    insert_observables(session, incident, planned)
    after_intake(session, incident, matches=matches)  # correlation and critical-report alerts
    track(session, incident, planned=deadlines)
    audit.record(session, actor, "incident.report", "incident", incident.id, source=source,
                 org=org.slug, observables=len(incident.observables))
    # Last: storing STIX objects takes the publication clock's lock until the commit, and every
    # writer of every worker and node waits for it (store/stix_objects.py).
    add_objects(session, intake_collection_id(session), stix_objects, owner_org_id=org.id, incident_id=incident.id)
    return incident, True


# The free-text fields of a report: what a card number can be typed in (observables are validated,
# and a full card number is refused there). An exercise report masks the same (exercise_reports.py).
_FREE_TEXT = ("title", "description", "affected_services", "impact", "external_id")


def without_cards(data: dict) -> dict:
    """``data`` with every card number in its free text masked (``redact_cards``): the original if
    there is none."""
    masked = {name: redact_cards(data[name]) for name in _FREE_TEXT if isinstance(data.get(name), str)}
    changed = {name: text for name, text in masked.items() if text != data[name]}
    return {**data, **changed} if changed else data


class _Planned(NamedTuple):
    """An observable of a report about to be stored, with the ids its STIX objects will use."""
    type: str
    value: str
    display: str
    stix_id: str
    indicator_id: str
    ip_hex: str | None
    host_rev: str | None


def _plan_observables(values: Iterable[ObservableValue]) -> list[_Planned]:
    seen: set[tuple[str, str]] = set()
    planned = []
    for value in values:
        key = (value.type, value.value)
        if key not in seen:
            seen.add(key)
            planned.append(_Planned(value.type, value.value, value.display, value.stix_id,
                                    build.new_indicator_id(), ip_hex(value),
                                    host_key(value.type, value.value)))
    return planned


def _report_objects(incident: Incident, org: Organization, observables: Sequence[build.ObservableLike]) -> list[dict]:
    """A report's STIX version: its organization's identity, the incident and its observables."""
    return [build.identity(org)] + build.incident_objects(incident, org, observables)


def _store_stix(session: DbSession, incident: Incident) -> None:
    """Add the report's current STIX version to the intake collection (read back by its org)."""
    org = incident.organization
    objects = _report_objects(incident, org, incident.observables)
    add_objects(session, intake_collection_id(session), objects, owner_org_id=org.id, incident_id=incident.id)


def add_phase_update(session: DbSession, *, incident: Incident, phase: str, summary: str, details: dict | None,
                     actor: Actor) -> PhaseUpdate:
    """Record a reporting phase and commit; the incident's STIX object gets a new version."""
    if phase not in UPDATE_PHASES:
        raise InputError(gettext("phase must be one of %(update_phases)s",
                                 update_phases=', '.join(UPDATE_PHASES)), field="phase")
    _check_regime_phase(incident, phase)
    if incident.status in END_STATUSES and phase != Phase.FINAL_REPORT:
        raise InputError(gettext("the report is %(status)s; only a final report can still be added",
                                 status=incident.status), field="phase")
    now = utcnow()
    # The summary and details are free text: a card number in them is masked, never stored.
    update = PhaseUpdate(phase=phase, summary=redact_cards(summary), details=redact(details or {}),
                         author_id=actor.user.id if actor.user is not None else None, submitted_at=now)
    # Appending (not session.add first) loads the existing updates before the new row is pending,
    # so the autoflush of that load cannot put the new update in the list twice.
    incident.updates.append(update)
    incident.updated_at = now
    incident.stix_modified = now
    _store_stix(session, incident)
    track(session, incident)  # the phase_deadlines rows follow the new update
    audit.record(session, actor, "incident.phase", "incident", incident.id, phase=phase)
    session.commit()
    return update


def _check_regime_phase(incident: Incident, phase: str) -> None:
    """A phase the reporting organization's regime does not have would be owed to no one: a bank
    under DORA files an intermediate report, not NIS2's notification, and a partner CERT files none."""
    org = incident.organization
    if not deadline_rules.owes_phases(org):
        raise InputError(gettext("%(name)s is a partner CERT: it reports to its own authorities and files no "
                                 "reporting phases with us", name=org.name), field="phase")
    regime = deadline_rules.regime_of_org(org.regime, org.sector)
    allowed = deadline_rules.update_phases(regime)
    if phase not in allowed:
        label = deadline_rules.REGIME_LABELS.get(regime, regime)
        raise InputError(gettext("%(name)s reports under %(regime)s, which has no %(phase)s phase; %(choices)s",
                                 name=org.name, regime=label, phase=gettext(PHASE_LABELS.get(phase, phase)),
                                 choices=choice_message(allowed, lambda value: PHASE_LABELS.get(value, value))),
                         field="phase")


def stix_bundle(incident: Incident) -> dict:
    """The report as a STIX 2.1 bundle (its current version)."""
    return build.bundle(_report_objects(incident, incident.organization, incident.observables))
