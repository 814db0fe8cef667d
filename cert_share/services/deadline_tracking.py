"""Keeps ``phase_deadlines`` rows in step with the rules (cert_share/deadlines.py).

Recomputed in the transaction of every change that moves a deadline: a new report and a phase
update (services/intake.py calls ``track``), a status change or merge (services/triage.py). The
``check-deadlines`` job also repairs rows whose regime no longer matches the organization's
(an admin changed it, or SECTOR_REGIMES changed) and fills rows for reports that have none
(written before this table existed). Queries then find overdue phases with an index range scan
(``is_open AND due_at < now``), whatever the number of reports.

A partner CERT's report (deadlines.owes_phases) gets no rows: it owes us no phases, so it is
never overdue, never reminded and never counted in ``overdue_phases``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import selectinload

from .. import deadlines as rules
from ..clock import utcnow
from ..database import DbSession
from ..models import Incident, Organization, PhaseDeadline

BATCH = 2000


def _regime(org: Organization) -> str | None:
    """The regime the organization's reports are tracked under; None: they owe no phases."""
    return rules.regime_of_org(org.regime, org.sector) if rules.owes_phases(org) else None


def _rows(incident: Incident, regime: str | None) -> list[dict]:
    out: list[dict] = []
    if regime is None:
        return out
    suspended = incident.merged_into_id is not None or incident.status in rules.SUSPENDED_STATUSES
    for d in rules.compute(detected_at=incident.detected_at, created_at=incident.created_at,
                           classified_at=incident.classified_at,
                           submissions=[(u.phase, u.submitted_at) for u in incident.updates],
                           regime=regime, status=incident.status, suspended=suspended, now=incident.created_at):
        out.append({"incident_id": incident.id, "phase": d.phase, "regime": regime, "due_at": d.due_at,
                    "submitted_at": d.submitted_at, "is_open": d.submitted_at is None and not suspended})
    return out


def track(session: DbSession, incident: Incident, *, planned: list[dict] | None = None) -> None:
    """Recompute one report's rows (inside the caller's transaction; no commit). ``planned``:
    plan_new() of a report stored in this transaction, which has no rows yet."""
    if planned is None:
        org = incident.organization or session.get_one(Organization, incident.org_id)
        session.flush()
        session.execute(delete(PhaseDeadline).where(PhaseDeadline.incident_id == incident.id))
        rows = _rows(incident, _regime(org))
    else:
        rows = [dict(row, incident_id=incident.id) for row in planned]
    if rows:
        session.execute(_INSERT, rows)


def plan_new(incident: Incident, org: Organization) -> list[dict]:
    """The rows of a report not stored yet (incident_id filled in by track): intake computes them
    before its first write."""
    return _rows(incident, _regime(org))


_INSERT = PhaseDeadline.__table__.insert()


def track_many(session: DbSession, incident_ids: Iterable[int]) -> int:
    """Recompute the rows of many reports, in batches; commits each batch."""
    ids = list(incident_ids)
    regimes = {o.id: _regime(o) for o in session.execute(select(Organization)).scalars()}
    done = 0
    for start in range(0, len(ids), BATCH):
        part = ids[start:start + BATCH]
        incidents = session.execute(select(Incident).options(selectinload(Incident.updates))
                                    .where(Incident.id.in_(part))).scalars().all()
        session.execute(delete(PhaseDeadline).where(PhaseDeadline.incident_id.in_(part)))
        rows = [row for inc in incidents for row in _rows(inc, regimes[inc.org_id])]
        if rows:
            session.execute(PhaseDeadline.__table__.insert(), rows)
        session.commit()
        session.expunge_all()
        done += len(incidents)
    return done


def repair(session: DbSession) -> int:
    """Rows for reports that have none, and for organizations whose regime changed; commits.
    A partner's reports have none by design; rows they still hold (written before the rule) go."""
    current = {o.id: _regime(o) for o in session.execute(select(Organization)).scalars()}
    exempt = select(Organization.id).where(Organization.kind.in_(rules.NO_PHASES_KINDS)).scalar_subquery()
    missing = select(Incident.id).where(Incident.org_id.not_in(exempt),
                                        Incident.id.not_in(select(PhaseDeadline.incident_id).scalar_subquery()))
    ids = set(session.execute(missing).scalars())
    stored = session.execute(select(Incident.org_id, PhaseDeadline.regime)
                             .join(PhaseDeadline, PhaseDeadline.incident_id == Incident.id).distinct()).all()
    stale_orgs = {org_id for org_id, regime in stored if current.get(org_id) != regime}
    if stale_orgs:
        ids |= set(session.execute(select(Incident.id).where(Incident.org_id.in_(stale_orgs))).scalars())
    return track_many(session, sorted(ids)) if ids else 0


def overdue_query(now: datetime | None = None) -> Select:
    """SELECT incident_id, phase, due_at of the phases overdue at ``now``: an index range scan."""
    now = now or utcnow()
    return (select(PhaseDeadline.incident_id, PhaseDeadline.phase, PhaseDeadline.due_at)
            .where(PhaseDeadline.is_open.is_(True), PhaseDeadline.due_at < now))


def overdue_count(session: DbSession, now: datetime | None = None) -> int:
    return session.execute(overdue_query(now).with_only_columns(func.count())).scalar_one()
