"""Reading reports for people: listing and fetching, always through the policy module."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Mapping

from flask_babel import gettext
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from .. import deadlines as deadline_rules
from .. import policy
from ..actor import Actor
from ..clock import iso, parse_iso, utcnow
from ..database import DbSession
from ..errors import InputError, NotFound, PermissionDenied
from ..models import Incident, Organization, PhaseDeadline
from ..vocab import CLASSIFICATIONS, INCIDENT_STATUSES, OPEN_STATUSES, RSIT, SECTORS, SEVERITIES
from . import deadline_tracking, observable_search

# The status filter: any status, the open ones, or one of INCIDENT_STATUSES.
STATUS_ANY, STATUS_OPEN = "all", "open"
STATUS_CHOICES = (STATUS_ANY, STATUS_OPEN) + INCIDENT_STATUSES
_YES = frozenset({"1", "true", "on", "yes"})


def _one_of(args: Mapping[str, str], name: str, allowed: Iterable[str], what: str | None = None) -> str | None:
    """``what``: the words for the values allowed (default: "one of" them, listed)."""
    value = (args.get(name) or "").strip() or None
    if value is not None and value not in allowed:
        what = what or gettext("one of %(values)s", values=", ".join(allowed))
        raise InputError(gettext("%(name)s must be %(what)s, not %(value)r",
                                 name=name, what=what, value=value[:40]), field=name)
    return value


def _day(args: Mapping[str, str], name: str) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    # ASCII digits only: date.fromisoformat takes other forms (and other scripts' digits).
    if len(value) == 10 and value[4] == value[7] == "-" and (value[:4] + value[5:7] + value[8:]).isascii():
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(gettext("%(name)s must be a date as YYYY-MM-DD, not %(value)r",
                             name=name, value=value[:40]), field=name)


def _moment(args: Mapping[str, str], name: str, *, end: bool) -> datetime | None:
    """``received_from`` / ``received_to``: a day (YYYY-MM-DD, UTC; ``to`` includes the whole
    day) or an ISO 8601 date-time (``to`` is the moment the window ends, exclusive), as UTC."""
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if len(value) == 10:
        day = _day(args, name)
        assert day is not None  # _day raises on anything that is not a day
        if end:
            return None if day == date.max else _midnight(day + timedelta(days=1))
        return _midnight(day)
    if len(value) <= 40 and value.isascii():
        try:
            return parse_iso(value)
        except ValueError:
            pass
    raise InputError(gettext("%(name)s must be a day (YYYY-MM-DD) or a date-time such as 2026-01-31T14:05:00Z, not "
                             "%(value)r", name=name, value=value[:40]), field=name)


def received_window(args: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """(from, before): the window ``received_from`` and ``received_to`` give, each None if absent.
    Shared by the members' list, the API and the CERT's triage queue."""
    since, before = _moment(args, "received_from", end=False), _moment(args, "received_to", end=True)
    if since and before and since >= before:
        raise InputError(gettext("received_from must be before received_to"), field="received_from")
    return since, before


def received_between(query: Select, since: datetime | None, before: datetime | None) -> Select:
    """``query`` (a select of reports) narrowed to those received in [since, before)."""
    if since is not None:
        query = query.where(Incident.created_at >= since)
    if before is not None:
        query = query.where(Incident.created_at < before)
    return query


def _received_arg(moment: datetime | None, *, end: bool) -> str | None:
    """A window bound as _moment reads it back: a midnight as its day (the day before, for the
    end, as a day given there includes the whole day), any other moment as a date-time."""
    if moment is None:
        return None
    if moment != _midnight(moment.date()):
        return iso(moment)
    return (moment.date() - timedelta(days=1) if end else moment.date()).isoformat()


@dataclass(frozen=True)
class ReportFilters:
    """What a reader narrows a list of reports to (the query string of the list page and of
    GET /api/v1/incidents). Empty means no filter."""

    status: str | None = None  # STATUS_OPEN or one of INCIDENT_STATUSES; None and "all": any
    severity: str | None = None
    classification: str | None = None  # an RSIT class ("fraud") or class/type ("fraud/phishing")
    detected_from: date | None = None
    detected_to: date | None = None  # inclusive
    q: str | None = None  # in the title, or an observable's value
    overdue: bool = False  # only reports with a phase overdue now
    sector: str | None = None  # the reporting organization's (a member's list is its own anyway)
    received_from: datetime | None = None  # received (created) at or after
    received_before: datetime | None = None  # received before (exclusive)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "ReportFilters":
        """Parse query-string arguments; a value that is not one the list offers is a 400 naming it."""
        status = _one_of(args, "status", STATUS_CHOICES)
        classification = _one_of(args, "class", (*RSIT, *CLASSIFICATIONS),
                                  gettext("an RSIT class such as fraud, or class/type such as fraud/phishing"))
        q = (args.get("q") or "").strip() or None
        if q is not None:
            observable_search.parse_query(q)  # too long, control characters, a CIDR too wide: 400 here
        since, until = _day(args, "from"), _day(args, "to")
        if since and until and since > until:
            raise InputError(gettext("from must not be after to"), field="from")
        received_from, received_before = received_window(args)
        return cls(status=None if status == STATUS_ANY else status,
                   severity=_one_of(args, "severity", SEVERITIES),
                   classification=classification, detected_from=since, detected_to=until, q=q,
                   overdue=(args.get("overdue") or "").strip().lower() in _YES,
                   sector=_one_of(args, "sector", SECTORS),
                   received_from=received_from, received_before=received_before)

    def as_args(self) -> dict[str, Any]:
        """The query-string arguments that give these filters back (for the next page's link).
        Any: url_for's keyword arguments are typed by its own flags (_external, ...)."""
        values = {"status": self.status, "severity": self.severity, "class": self.classification,
                  "from": self.detected_from.isoformat() if self.detected_from else None,
                  "to": self.detected_to.isoformat() if self.detected_to else None, "q": self.q,
                  "overdue": "1" if self.overdue else None, "sector": self.sector,
                  "received_from": _received_arg(self.received_from, end=False),
                  "received_to": _received_arg(self.received_before, end=True)}
        return {name: value for name, value in values.items() if value}

    @property
    def active(self) -> bool:
        return bool(self.as_args())


def readable_incident(session: DbSession, actor: Actor, incident_id: int) -> Incident:
    """The report if ``actor`` may read it. Otherwise NotFound, exactly as if it did not exist —
    except for CERT staff, who see every report's existence: a TLP:RED report they are not named
    on answers PermissionDenied, saying who can grant access."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(gettext("no incident %(incident_id)s", incident_id=incident_id))
    if not policy.can_read_incident(actor, incident):
        if policy.can_see_case_summary(actor, incident):
            raise PermissionDenied(gettext("report #%(id)s is TLP:RED: only the CERT staff named on the case read "
                                           "it; the duty officer (cert-admin) or someone named on it can name you",
                                           id=incident.id))
        raise NotFound(gettext("no incident %(incident_id)s", incident_id=incident_id))
    return incident


def case_summary(session: DbSession, actor: Actor, incident_id: int) -> Incident:
    """The report for its summary (existence, not content): any report CERT staff may see exists.
    Callers show only the fields ``policy.can_see_case_summary`` names."""
    incident = session.get(Incident, incident_id)
    if incident is None or not policy.can_see_case_summary(actor, incident):
        raise NotFound(gettext("no incident %(incident_id)s", incident_id=incident_id))
    return incident


def list_incidents(session: DbSession, actor: Actor, *, before: int | None = None, limit: int = 25,
                   filters: ReportFilters | None = None, now: datetime | None = None) -> tuple[list[Incident], bool]:
    """Newest first, keyset-paged by id: (page, more). Only what ``actor`` may read: members get
    their own organization's reports; CERT staff every report but the TLP:RED ones they are not
    named on. ``filters`` narrow that set, never widen it."""
    # Each report's organization comes in the same query (every page names it): a separate
    # SELECT would be one more round trip per page. Its phase updates come in one more, for the
    # deadlines each row shows.
    query = (select(Incident).options(joinedload(Incident.organization, innerjoin=True),
                                      selectinload(Incident.updates))
             .where(policy.incident_read_filter(actor))
             .order_by(Incident.id.desc()).limit(limit + 1))
    if before is not None:
        query = query.where(Incident.id < before)
    if filters is not None:
        query = _narrowed(query, filters, now or utcnow(), actor)
    rows = list(session.execute(query).scalars())
    return rows[:limit], len(rows) > limit


def _narrowed(query: Select, filters: ReportFilters, now: datetime, actor: Actor) -> Select:
    if filters.status == STATUS_OPEN:
        query = query.where(Incident.status.in_(OPEN_STATUSES))
    elif filters.status:
        query = query.where(Incident.status == filters.status)
    if filters.severity:
        query = query.where(Incident.severity == filters.severity)
    if filters.classification in RSIT:
        query = query.where(Incident.classification.like(f"{filters.classification}/%"))
    elif filters.classification:
        query = query.where(Incident.classification == filters.classification)
    if filters.detected_from:
        query = query.where(Incident.detected_at >= _midnight(filters.detected_from))
    if filters.detected_to and filters.detected_to < date.max:
        query = query.where(Incident.detected_at < _midnight(filters.detected_to + timedelta(days=1)))
    if filters.sector:
        query = query.where(Incident.org_id.in_(select(Organization.id).where(Organization.sector == filters.sector)))
    query = received_between(query, filters.received_from, filters.received_before)
    if filters.overdue:
        overdue = deadline_tracking.overdue_query(now).with_only_columns(PhaseDeadline.incident_id)
        query = query.where(Incident.id.in_(overdue))
    if filters.q:
        # Beside the read filter above: an observable another organization reported finds nothing here.
        query = query.where(observable_search.report_condition(actor, filters.q))
    return query


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def deadline_flags(incidents: Iterable[Incident], *, now: datetime | None = None
                   ) -> dict[int, list[deadline_rules.Deadline]]:
    """Each report's phases that are overdue now or were filed late (the rules decide)."""
    now = now or utcnow()
    return {incident.id: [d for d in deadline_rules.for_incident(incident, now=now) if d.overdue or d.late]
            for incident in incidents}
