"""How well the response works, over a period: the figures the Convention asks states to publish.

Definitions (the API keys are a contract; see README "Metrics"):

- the period is whole UTC days, ``from`` and ``to`` inclusive: [from 00:00Z, to+1 00:00Z);
- ``incidents``: reports *received* (created) in the period, by the reporter's STIX sector, by
  RSIT ``class/type``, by severity and by their status now;
- ``cross_border_cases``: reports received in the period that concern another country, counted
  once each: ``cross_border_declared``, those whose reporter declared another country affected
  (a code in ``cross_border`` other than the CERT organization's own ``country``; every code when
  that is not set), and ``cross_border_cooperation``, those CERT staff flagged for cross-border
  cooperation; a report in both parts is one case;
- ``warnings_published``: early warnings first published in the period;
- ``median_time_to_acknowledge_minutes``: received → first left "new", over the period's
  acknowledged reports (None when there are none);
- ``median_time_to_first_warning_minutes``: received → first publication of a warning the
  report contributed to, over the period's reports that raised one;
- ``case_processing_rate``: share of the period's reports that are closed or false-positive
  now (0..1, None without reports);
- ``overdue_phases``: reporting phases of the period's reports overdue now;
- ``members_polling``: member organizations that polled TAXII in the period (from the
  ``taxii_polls`` rows);
- ``cooperation``: cooperation requests with partner CERTs, ``outgoing`` (opened by CERT staff in
  the period) and ``incoming`` (a partner's, received in the period), each by kind, by the
  partner's country and by state now, with the median minutes to acknowledge and to answer. The
  clock starts when the partner could see the request: an outgoing request's at ``sent_at`` (one
  never delivered has no time), an incoming one's at ``created_at``, when it reached us. ``overdue``:
  the period's requests past their due date and still unanswered now (failed ones are not awaited);
  ``answered_late``: answered after their due date.

Counts are GROUP BY queries; medians are taken in Python over two timestamps per report, and
the cooperation figures over one row per request (a CERT's requests are hundreds, not millions).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask_babel import gettext
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute

from ..clock import utcnow
from ..database import DbSession
from ..errors import InputError
from ..models import Cooperation, CooperationRequest, EarlyWarning, Incident, Organization, WarningSource
from ..store.organizations import cert_organization
from ..vocab import COOPERATION_DIRECTIONS, COOPERATION_KINDS, END_STATUSES, CooperationState
from .taxii_store import members_polling as taxii_members_polling
from .workspace import overdue_pairs

MAX_DAYS = 3660


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=timezone.utc)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=timezone.utc)

    def as_dict(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def parse_period(start: str | None, end: str | None, *, default_days: int = 30,
                 today: date | None = None) -> Period:
    """``YYYY-MM-DD`` strings (either may be missing: the last ``default_days`` days). Bad input
    is one InputError whose ``errors`` name every bad date."""
    today = today or utcnow().date()
    errors: dict[str, list[str]] = {}

    def parse(value: str, name: str) -> date | None:
        try:
            if len(value) != 10:
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            errors[name] = [gettext("%(name)s must be a date as YYYY-MM-DD, got %(value)r", name=name, value=value)]
            return None

    start_d = parse(start, "from") if start else None
    end_d = parse(end, "to") if end else today
    if errors or end_d is None:
        raise InputError("; ".join(message for messages in errors.values() for message in messages), errors=errors)
    start_d = start_d or end_d - timedelta(days=default_days - 1)
    if start_d > end_d:
        raise InputError(gettext("from must not be after to"), field="from")
    if (end_d - start_d).days > MAX_DAYS:
        raise InputError(gettext("the period is at most %(max_days)s days", max_days=MAX_DAYS), field="from")
    return Period(start_d, end_d)


def _in_period(period: Period) -> ColumnElement[bool]:
    return (Incident.created_at >= period.since) & (Incident.created_at < period.until)


def _grouped(session: DbSession, column: InstrumentedAttribute[str], period: Period,
             join_org: bool = False) -> dict[str, int]:
    query = select(column, func.count()).select_from(Incident)
    if join_org:
        query = query.join(Organization, Organization.id == Incident.org_id)
    rows = session.execute(query.where(_in_period(period)).group_by(column)).all()
    return {key: count for key, count in sorted(rows, key=lambda r: (-r[1], r[0]))}


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def acknowledge_minutes(session: DbSession, period: Period) -> list[float]:
    rows = session.execute(select(Incident.created_at, Incident.acknowledged_at)
                           .where(_in_period(period), Incident.acknowledged_at.is_not(None))).all()
    return [max(0.0, _minutes(ack - created)) for created, ack in rows]


def first_warning_minutes(session: DbSession, period: Period) -> list[float]:
    rows = session.execute(
        select(Incident.created_at, func.min(EarlyWarning.published_at))
        .join(WarningSource, WarningSource.incident_id == Incident.id)
        .join(EarlyWarning, EarlyWarning.id == WarningSource.warning_id)
        .where(_in_period(period), EarlyWarning.published_at.is_not(None))
        .group_by(Incident.id, Incident.created_at)).all()
    return [max(0.0, _minutes(first - created)) for created, first in rows if first is not None]


def warnings_published(session: DbSession, period: Period) -> int:
    return session.execute(select(func.count()).select_from(EarlyWarning).where(
        EarlyWarning.published_at >= period.since, EarlyWarning.published_at < period.until)).scalar_one()


def cross_border(session: DbSession, period: Period) -> dict[str, int]:
    """The cross-border cases and their parts (see the module docstring): ``cases``,
    ``declared``, ``cooperation``, ``requests``."""
    cert = cert_organization(session)
    own = cert.country if cert is not None else None
    # Lists are stored as compact JSON: an empty one is the text '[]', most reports' value.
    declared = {incident_id for incident_id, codes in session.execute(
        select(Incident.id, Incident.cross_border).where(_in_period(period), Incident.cross_border != []))
        if any(code != own for code in codes)}
    cooperation = set(session.execute(select(Cooperation.incident_id)
                                      .join(Incident, Incident.id == Cooperation.incident_id)
                                      .where(_in_period(period))).scalars())
    requests = set(session.execute(select(CooperationRequest.incident_id).distinct()
                                   .join(Incident, Incident.id == CooperationRequest.incident_id)
                                   .where(_in_period(period))).scalars())
    return {"cases": len(declared | cooperation | requests), "declared": len(declared),
            "cooperation": len(cooperation), "requests": len(requests)}


def cross_border_cases(session: DbSession, period: Period) -> int:
    return cross_border(session, period)["cases"]


def members_polling(session: DbSession, period: Period) -> int:
    return taxii_members_polling(session, period.since, period.until)


def compute(session: DbSession, period: Period, *, now: datetime | None = None) -> dict:
    """The metrics document of GET /api/v1/metrics."""
    now = now or utcnow()
    by_status = _grouped(session, Incident.status, period)
    total = sum(by_status.values())
    processed = sum(count for status, count in by_status.items() if status in END_STATUSES)
    overdue = overdue_pairs(session, select(Incident).where(_in_period(period)), now=now)
    border = cross_border(session, period)
    return {
        "period": period.as_dict(),
        "incidents": {
            "total": total,
            "by_sector": _grouped(session, Organization.sector, period, join_org=True),
            "by_classification": _grouped(session, Incident.classification, period),
            "by_severity": _grouped(session, Incident.severity, period),
            "by_status": by_status,
        },
        "cross_border_cases": border["cases"],
        "cross_border_declared": border["declared"],
        "cross_border_cooperation": border["cooperation"],
        "cross_border_requests": border["requests"],
        "warnings_published": warnings_published(session, period),
        "median_time_to_acknowledge_minutes": _median(acknowledge_minutes(session, period)),
        "median_time_to_first_warning_minutes": _median(first_warning_minutes(session, period)),
        "case_processing_rate": round(processed / total, 4) if total else None,
        "overdue_phases": len(overdue),
        "members_polling": members_polling(session, period),
        "cooperation": cooperation_figures(session, period, now=now),
    }


@dataclass(frozen=True)
class RequestFacts:
    """What the indicators need of one cooperation request."""

    direction: str
    kind: str
    country: str | None  # the partner's
    state: str
    clock_from: datetime | None  # when the partner could see it (see the module docstring)
    acknowledged_at: datetime | None
    answered_at: datetime | None
    due_at: datetime | None

    def _since_start(self, moment: datetime | None) -> float | None:
        if self.clock_from is None or moment is None:
            return None
        return max(0.0, _minutes(moment - self.clock_from))

    @property
    def minutes_to_acknowledge(self) -> float | None:
        return self._since_start(self.acknowledged_at)

    @property
    def minutes_to_answer(self) -> float | None:
        return self._since_start(self.answered_at)

    def overdue(self, now: datetime) -> bool:
        return (self.answered_at is None and self.state != CooperationState.FAILED
                and self.due_at is not None and self.due_at < now)

    @property
    def answered_late(self) -> bool:
        return self.answered_at is not None and self.due_at is not None and self.answered_at > self.due_at


def cooperation_requests(session: DbSession, period: Period) -> list[RequestFacts]:
    """The requests opened (outgoing) or received (incoming) in the period."""
    rows = session.execute(
        select(CooperationRequest.direction, CooperationRequest.kind, Organization.country, CooperationRequest.state,
               CooperationRequest.created_at, CooperationRequest.sent_at, CooperationRequest.acknowledged_at,
               CooperationRequest.answered_at, CooperationRequest.due_at)
        .join(Organization, Organization.id == CooperationRequest.partner_org_id)
        .where(CooperationRequest.created_at >= period.since, CooperationRequest.created_at < period.until)).all()
    return [RequestFacts(direction, kind, country, state, sent if direction == "outgoing" else created,
                         acknowledged, answered, due)
            for direction, kind, country, state, created, sent, acknowledged, answered, due in rows]


def _counted(keys: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def request_figures(requests: list[RequestFacts], now: datetime) -> dict:
    """Counts and medians over one direction's requests."""
    acknowledge = [m for m in (r.minutes_to_acknowledge for r in requests) if m is not None]
    answer = [m for m in (r.minutes_to_answer for r in requests) if m is not None]
    return {
        "total": len(requests),
        "by_kind": {kind: sum(r.kind == kind for r in requests) for kind in COOPERATION_KINDS},
        "by_country": _counted([r.country or "unknown" for r in requests]),
        "by_state": _counted([r.state for r in requests]),
        "acknowledged": len(acknowledge),
        "answered": len(answer),
        "median_time_to_acknowledge_minutes": _median(acknowledge),
        "median_time_to_answer_minutes": _median(answer),
        "overdue": sum(r.overdue(now) for r in requests),
        "answered_late": sum(r.answered_late for r in requests),
    }


def cooperation_figures(session: DbSession, period: Period, *, now: datetime | None = None) -> dict:
    """``outgoing`` and ``incoming``: each direction's request figures (see the module docstring)."""
    now = now or utcnow()
    requests = cooperation_requests(session, period)
    return {direction: request_figures([r for r in requests if r.direction == direction], now)
            for direction in COOPERATION_DIRECTIONS}


def weekly(session: DbSession, period: Period) -> dict:
    """Series for the metrics page charts: per ISO week (Monday), reports by sector, the median
    time to acknowledge and the processing rate of that week's reports."""
    rows = session.execute(
        select(Incident.created_at, Incident.acknowledged_at, Incident.status, Organization.sector)
        .join(Organization, Organization.id == Incident.org_id).where(_in_period(period))).all()
    weeks: list[date] = []
    monday = period.start - timedelta(days=period.start.weekday())
    while monday <= period.end:
        weeks.append(monday)
        monday += timedelta(days=7)
    index = {w: i for i, w in enumerate(weeks)}
    by_sector: dict[str, list[int]] = {}
    ack: list[list[float]] = [[] for _ in weeks]
    done = [0] * len(weeks)
    total = [0] * len(weeks)
    for created, acknowledged, status, sector in rows:
        day = created.date()
        i = index[day - timedelta(days=day.weekday())]
        by_sector.setdefault(sector, [0] * len(weeks))[i] += 1
        total[i] += 1
        if status in END_STATUSES:
            done[i] += 1
        if acknowledged is not None:
            ack[i].append(max(0.0, _minutes(acknowledged - created)))
    return {
        "weeks": [w.isoformat() for w in weeks],
        "reports_by_sector": dict(sorted(by_sector.items())),
        "median_acknowledge_minutes": [_median(v) for v in ack],
        "processing_rate": [round(d / t, 4) if t else None for d, t in zip(done, total, strict=True)],
    }
