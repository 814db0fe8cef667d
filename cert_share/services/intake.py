"""The one intake path: every report — web form, JSON API, TAXII push, import, partner feed —
becomes an incident, its observables and its STIX objects here, in one transaction."""
from __future__ import annotations

from typing import Iterable, NamedTuple

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..actor import Actor
from ..clock import utcnow
from ..errors import InputError
from ..models import Incident, Observable, Organization, PhaseUpdate
from ..stix import build
from ..stix.observables import Observable as ObservableValue
from ..stix.observables import ip_hex
from ..store import audit
from ..store.collections import intake_collection_id
from ..store.stix_objects import add_objects, insert_ignoring_duplicates, prepare_objects

# Hooks run inside the intake transaction, after the incident and its observables are flushed
# (correlation registers here). Each is called as hook(session, incident).
AFTER_INTAKE_HOOKS: list = []


def find_by_external_id(session: Session, org: Organization, external_id: str) -> Incident | None:
    return session.execute(
        select(Incident).where(Incident.org_id == org.id, Incident.external_id == external_id)
    ).scalar_one_or_none()


def report_incident(session: Session, *, org: Organization, data: dict, actor: Actor, source: str,
                    commit: bool = True) -> tuple[Incident, bool]:
    """Store a validated report (``IncidentCreateSchema`` output) for ``org``.

    Returns (incident, created). A report whose ``external_id`` the organization already used is
    not stored again: the existing incident is returned with created=False. ``external_id`` is
    the organization's own: another organization's use of the same value is never consulted.
    Two requests racing with the same ``external_id`` get one report: the unique key decides,
    and the loser returns the winner's report like a retry would.
    """
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
        status="new",
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
    matches = _asset_matches(session, planned)
    deadlines = _plan_deadlines(incident, org)

    if not _insert_incident(session, incident):
        return find_by_external_id(session, org, external_id), False
    set_committed_value(incident, "updates", [])  # a new report has none: no lazy load later
    _add_observables(session, incident, planned)
    add_objects(session, intake_collection_id(session), stix_objects, owner_org_id=org.id, incident_id=incident.id)
    _early_warnings(session, incident, matches)
    _track_deadlines(session, incident, planned=deadlines)
    for hook in AFTER_INTAKE_HOOKS:
        hook(session, incident)
    audit.record(session, actor, "incident.report", "incident", incident.id, source=source,
                 org=org.slug, observables=len(incident.observables))
    if commit:
        session.commit()
    return incident, True


_INCIDENT_COLUMNS = [c.key for c in Incident.__table__.c if c.key != "id"]
_INSERT_INCIDENT: dict[str, object] = {}  # per dialect, built once


def _insert_incident(session: Session, incident: Incident) -> bool:
    """Insert a new incident with one Core INSERT and add it to the session as persistent;
    False, and nothing stored, if its organization already has a report with its external_id.

    The ORM's unit of work took three times as long for this one row, and on SQLite that time
    is spent holding the writer's lock (it is the transaction's first write). Every column is
    set, so the object needs no refresh afterwards.

    A report with that external_id appears here when a concurrent request committed it after
    this one looked: ON CONFLICT on that key waits for the other transaction to end and then
    skips the row, where a plain INSERT would raise (and catching that would need a savepoint
    around every report)."""
    dialect = session.get_bind().dialect.name
    statement = _INSERT_INCIDENT.get(dialect)
    if statement is None:
        statement = _INSERT_INCIDENT[dialect] = insert_ignoring_duplicates(
            session, Incident.__table__, conflict=("org_id", "external_id")).returning(Incident.__table__.c.id)
    values = {key: getattr(incident, key) for key in _INCIDENT_COLUMNS}
    incident_id = session.execute(statement, values).scalar()
    if incident_id is None:
        return False
    for key, value in values.items():
        set_committed_value(incident, key, value)
    set_committed_value(incident, "id", incident_id)
    make_transient_to_detached(incident)
    session.add(incident)
    return True


class _Planned(NamedTuple):
    """An observable of a report about to be stored, with the ids its STIX objects will use."""
    type: str
    value: str
    display: str
    stix_id: str
    indicator_id: str
    ip_hex: str | None


def _plan_observables(values: Iterable[ObservableValue]) -> list[_Planned]:
    seen: set[tuple[str, str]] = set()
    planned = []
    for value in values:
        key = (value.type, value.value)
        if key not in seen:
            seen.add(key)
            planned.append(_Planned(value.type, value.value, value.display, value.stix_id,
                                    build.new_indicator_id(), ip_hex(value)))
    return planned


def _asset_matches(session: Session, planned: list[_Planned]):
    from ..early_warning.correlate import asset_matches  # late import: warnings builds on this module

    return asset_matches(session, planned)


def _track_deadlines(session: Session, incident: Incident, *, planned: list[dict] | None = None) -> None:
    """Keep the report's phase_deadlines rows in step (CERT workspace, issue 5)."""
    from .deadline_tracking import track

    track(session, incident, planned=planned)


def _plan_deadlines(incident: Incident, org: Organization) -> list[dict]:
    from .deadline_tracking import plan_new

    return plan_new(incident, org)


def _early_warnings(session: Session, incident: Incident, matches=None) -> None:
    """Correlation and critical-report alerts, in this transaction (cert_share.early_warning)."""
    from ..early_warning.correlate import after_intake  # late import: warnings builds on this module

    after_intake(session, incident, matches=matches)


_OBSERVABLES_OF = select(Observable).where(Observable.incident_id == bindparam("incident_id")).order_by(Observable.id)
_INSERT_OBSERVABLES = insert(Observable.__table__)


def _add_observables(session: Session, incident: Incident, planned: list[_Planned]) -> None:
    """Insert the (new) incident's observables and load them into ``incident.observables``.

    One executemany and one SELECT instead of a unit-of-work flush: SQLite makes the ORM insert
    row by row (it needs each generated id), which was a quarter of a 10,000-indicator import.
    (An ORM INSERT … RETURNING is no better: SQLAlchemy splits it by which columns are NULL, and
    on SQLite sends one row per statement to keep the order of the returned ids.)
    """
    rows = [dict(incident_id=incident.id, org_id=incident.org_id, type=p.type, value=p.value,
                 display_value=p.display, stix_id=p.stix_id, indicator_id=p.indicator_id, ip_hex=p.ip_hex,
                 created_at=incident.created_at) for p in planned]
    for start in range(0, len(rows), 5_000):
        session.execute(_INSERT_OBSERVABLES, rows[start:start + 5_000])
    loaded = session.execute(_OBSERVABLES_OF, {"incident_id": incident.id}).scalars().all() if rows else []
    set_committed_value(incident, "observables", list(loaded))


def _report_objects(incident: Incident, org: Organization, observables) -> list[dict]:
    """A report's STIX version: its organization's identity, the incident and its observables."""
    return [build.identity(org)] + build.incident_objects(incident, org, observables)


def _store_stix(session: Session, incident: Incident) -> None:
    """Add the report's current STIX version to the intake collection (read back by its org)."""
    org = incident.organization
    objects = _report_objects(incident, org, incident.observables)
    add_objects(session, intake_collection_id(session), objects, owner_org_id=org.id, incident_id=incident.id)


def add_phase_update(session: Session, *, incident: Incident, phase: str, summary: str, details: dict | None,
                     actor: Actor, commit: bool = True) -> PhaseUpdate:
    """Record a reporting phase; the incident's STIX object gets a new version."""
    from ..models.incident import PHASES

    if phase not in PHASES or phase == "early-warning":
        raise InputError("phase must be one of notification, intermediate, final-report", field="phase")
    if incident.status in {"closed", "false-positive"} and phase != "final-report":
        raise InputError(f"the report is {incident.status}; only a final report can still be added", field="phase")
    now = utcnow()
    update = PhaseUpdate(phase=phase, summary=summary, details=details or {},
                         author_id=actor.user.id if actor.user is not None else None, submitted_at=now)
    # Appending (not session.add first) loads the existing updates before the new row is pending,
    # so the autoflush of that load cannot put the new update in the list twice.
    incident.updates.append(update)
    incident.updated_at = now
    incident.stix_modified = now
    _store_stix(session, incident)
    _track_deadlines(session, incident)
    audit.record(session, actor, "incident.phase", "incident", incident.id, phase=phase)
    if commit:
        session.commit()
    return update


def stix_bundle(incident: Incident) -> dict:
    """The report as a STIX 2.1 bundle (its current version)."""
    return build.bundle(_report_objects(incident, incident.organization, incident.observables))
