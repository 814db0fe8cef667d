"""What CERT staff read in the workspace: the triage queue, the dashboard, a case's timeline.

Reads only; changes go through services/triage.py. Everything here is for CERT staff: callers
check ``policy.is_cert_staff`` first (the views and the API do). Lists show every report's existence
to staff, but a TLP:RED report the reader is not named on is listed in ``restricted``: pages show
its summary only (policy.can_see_case_summary), and a filter on what that summary does not show
(title search, class, organization) never matches it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from flask_babel import gettext, ngettext
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import selectinload

from .. import deadlines as deadline_rules
from .. import i18n, policy
from ..actor import Actor
from ..clock import utcnow
from ..database import DbSession
from ..errors import InputError
from ..models import (
    AuditEntry,
    CaseNote,
    Collection,
    DeadlineReminder,
    EarlyWarning,
    Incident,
    Organization,
    OutboxMessage,
    PhaseDeadline,
    StixObject,
    WarningSource,
)
from ..params import id_from_text
from ..vocab import (
    AUDIT_ACTION_LABELS,
    COOPERATION_KIND_LABELS,
    INCIDENT_SOURCE_LABELS,
    INCIDENT_STATUSES,
    N_,
    OPEN_STATUSES,
    PHASE_LABELS,
    RSIT,
    SECTORS,
    SEVERITIES,
    TLP_LEVELS,
    IncidentStatus,
    WarningState,
    tlp_label,
)
from . import deadline_tracking, observable_search
from .incident_listing import received_between, received_window

SEVERITY_ORDER = ("critical", "high", "medium", "low")
SEVERITY_RANK = case({"critical": 4, "high": 3, "medium": 2, "low": 1}, value=Incident.severity, else_=0)
PAGE_SIZE = 50
# Up to this many matching reports the queue sorts them in one query; beyond, it walks the
# (severity, created_at) index one severity at a time.
SMALL_RESULT = 5000
# The queue's status filter: the open statuses, every status, or one of INCIDENT_STATUSES.
QUEUE_OPEN, QUEUE_ALL = "open", "all"
QUEUE_STATUSES = (QUEUE_OPEN, QUEUE_ALL) + INCIDENT_STATUSES


@dataclass
class QueueFilters:
    sector: str | None = None
    rsit_class: str | None = None
    severity: str | None = None
    tlp: str | None = None
    status: str = QUEUE_OPEN  # one of QUEUE_STATUSES
    org: str | None = None  # slug
    overdue: bool = False
    q: str | None = None
    assignee: str | None = None  # "me", "none" or a user id (as text)
    received_from: datetime | None = None  # received (created) at or after
    received_before: datetime | None = None  # received before (exclusive)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "QueueFilters":
        """Parse query-string arguments; unknown values are a clear 400, not an empty page."""
        def pick(name: str, allowed: Sequence[str]) -> str | None:
            value = (args.get(name) or "").strip() or None
            if value is not None and value not in allowed:
                raise InputError(gettext("%(name)s must be one of %(allowed)s",
                                         name=name, allowed=', '.join(allowed)), field=name)
            return value

        status = (args.get("status") or QUEUE_OPEN).strip()
        if status not in QUEUE_STATUSES:
            raise InputError(gettext("status must be open, all or one of %(incident_statuses)s",
                                     incident_statuses=', '.join(INCIDENT_STATUSES)), field="status")
        q = (args.get("q") or "").strip() or None
        if q is not None:
            observable_search.parse_query(q)  # as the search box: too long, control characters, a CIDR too wide
        received_from, received_before = received_window(args)
        return cls(sector=pick("sector", SECTORS), rsit_class=pick("class", tuple(RSIT)),
                   severity=pick("severity", SEVERITIES), tlp=pick("tlp", TLP_LEVELS), status=status,
                   org=(args.get("org") or "").strip() or None,
                   overdue=(args.get("overdue") or "") in {"1", "true", "on", "yes"}, q=q,
                   assignee=(args.get("assignee") or "").strip() or None,
                   received_from=received_from, received_before=received_before)


@dataclass
class QueuePage:
    incidents: list[Incident]
    total: int
    page: int
    pages: int
    overdue: dict[int, list[deadline_rules.Deadline]] = field(default_factory=dict)
    restricted: set[int] = field(default_factory=set)  # shown as a summary only (TLP:RED, not named)


def restricted_ids(actor: Actor, incidents: Iterable[Incident]) -> set[int]:
    """Of these reports, the ones ``actor`` sees only as a summary (policy decides)."""
    return {i.id for i in incidents if not policy.can_read_incident(actor, i)}


def _filtered(filters: QueueFilters, user_id: int | None, actor: Actor) -> Select:
    query = select(Incident)
    if filters.q or filters.rsit_class or filters.org:
        # These look at content a summary hides: matching a report one may not read would answer
        # questions about it ("does its title contain …?").
        query = query.where(policy.incident_read_filter(actor))
    if filters.sector or filters.org:
        query = query.join(Organization, Organization.id == Incident.org_id)
        if filters.sector:
            query = query.where(Organization.sector == filters.sector)
        if filters.org:
            query = query.where(Organization.slug == filters.org)
    if filters.rsit_class:
        query = query.where(Incident.classification.like(filters.rsit_class + "/%"))
    if filters.severity:
        query = query.where(Incident.severity == filters.severity)
    if filters.tlp:
        query = query.where(Incident.tlp == filters.tlp)
    query = received_between(query, filters.received_from, filters.received_before)
    if filters.status == QUEUE_OPEN:
        query = query.where(Incident.status.in_(OPEN_STATUSES))
    elif filters.status != QUEUE_ALL:
        query = query.where(Incident.status == filters.status)
    if filters.q:
        # The title, or an observable the text names (an address, range, domain, hash...).
        query = query.where(observable_search.report_condition(actor, filters.q))
    return _assigned(query, filters.assignee, user_id)


def _assigned(query: Select, assignee: str | None, user_id: int | None) -> Select:
    """The assignee filter: "me", "none" (unassigned) or a user id; anything else filters nothing."""
    if assignee == "me" and user_id is not None:
        return query.where(Incident.assignee_id == user_id)
    if assignee == "none":
        return query.where(Incident.assignee_id.is_(None))
    if assignee and id_from_text(assignee) is not None:
        return query.where(Incident.assignee_id == id_from_text(assignee))
    return query


def overdue_pairs(session: DbSession, query: Select | None = None, *, now: datetime | None = None,
                  limit: int | None = None
                  ) -> list[tuple[int, deadline_rules.Deadline]]:
    """(report id, overdue phase) pairs, most overdue first, from the ``phase_deadlines`` rows
    (an index range scan; services/deadline_tracking.py keeps them in step with the rules).
    ``query``: a ``select(Incident)`` with filters, to restrict to those reports."""
    now = now or utcnow()
    q = deadline_tracking.overdue_query(now).order_by(PhaseDeadline.due_at, PhaseDeadline.incident_id)
    if query is not None:
        q = q.where(PhaseDeadline.incident_id.in_(
            query.with_only_columns(Incident.id).order_by(None).scalar_subquery()))
    if limit is not None:
        q = q.limit(limit)
    return [(incident_id, deadline_rules.Deadline(phase, due_at, None, overdue=True))
            for incident_id, phase, due_at in session.execute(q)]


def overdue_phases(session: DbSession, query: Select | None = None, *, now: datetime | None = None,
                   limit: int | None = None) -> list[tuple[Incident, deadline_rules.Deadline]]:
    """(report, overdue phase) pairs, most overdue first (the first ``limit`` of them)."""
    return _with_incidents(session, overdue_pairs(session, query, now=now, limit=limit))


def _with_incidents(session: DbSession, pairs: list[tuple[int, deadline_rules.Deadline]]
                    ) -> list[tuple[Incident, deadline_rules.Deadline]]:
    ids = {incident_id for incident_id, _ in pairs}
    loaded: dict[int, Incident] = {}
    if ids:
        loaded = {i.id: i for i in session.execute(
            select(Incident).options(selectinload(Incident.organization)).where(Incident.id.in_(ids))).scalars()}
    return [(loaded[incident_id], d) for incident_id, d in pairs]


def queue(session: DbSession, filters: QueueFilters, *, actor: Actor, page: int = 1, per_page: int = PAGE_SIZE,
          user_id: int | None = None, now: datetime | None = None) -> QueuePage:
    """The triage queue as ``actor`` sees it: most severe first, newest first within a severity."""
    now = now or utcnow()
    page = max(page, 1)
    query = _filtered(filters, user_id, actor)
    order = (SEVERITY_RANK.desc(), Incident.created_at.desc(), Incident.id.desc())
    if filters.overdue:
        pairs = overdue_pairs(session, query, now=now)
        by_id: dict[int, list] = {}
        for incident_id, d in pairs:
            by_id.setdefault(incident_id, []).append(d)
        total = len(by_id)
        if not by_id:
            return QueuePage([], 0, page, 1, {})
        ordered = session.execute(query.with_only_columns(Incident.id).where(Incident.id.in_(list(by_id)))
                                  .order_by(*order)).scalars().all()
        chunk_ids = ordered[(page - 1) * per_page: page * per_page]
        loaded = {i.id: i for i in session.execute(
            select(Incident).options(selectinload(Incident.organization), selectinload(Incident.assignee),
                                     selectinload(Incident.case_members))
            .where(Incident.id.in_(chunk_ids))).scalars()} if chunk_ids else {}
        chunk = [loaded[i] for i in chunk_ids]
        return QueuePage(chunk, total, page, max(1, -(-total // per_page)), {i: by_id[i] for i in chunk_ids},
                         restricted_ids(actor, chunk))
    # Most severe first without sorting every matching row: one indexed walk per severity
    # (ix_incidents_severity_created), skipping whole severities that lie before the page.
    # Grouped on an expression so the planner filters through the status/other indexes first
    # instead of walking the whole severity index to get the groups in order.
    key = func.coalesce(Incident.severity, "")
    counts = dict(session.execute(query.with_only_columns(key, func.count()).group_by(key).order_by(None)).all())
    total = sum(counts.values())
    loading = (selectinload(Incident.organization), selectinload(Incident.assignee), selectinload(Incident.updates),
               selectinload(Incident.case_members))
    if total <= SMALL_RESULT:
        # A selective filter (the default "open" queue): sorting its few rows beats index walks.
        rows = list(session.execute(query.options(*loading).order_by(*order)
                                    .limit(per_page).offset((page - 1) * per_page)).scalars())
        return _queue_page(rows, total, page, per_page, now, actor)
    offset, need, rows = (page - 1) * per_page, per_page, []
    for severity in SEVERITY_ORDER + tuple(sorted(set(counts) - set(SEVERITY_ORDER))):
        available = counts.get(severity, 0)
        if need <= 0:
            break
        if offset >= available:
            offset -= available
            continue
        part = list(session.execute(
            query.where(Incident.severity == severity).options(*loading)
            .order_by(Incident.created_at.desc(), Incident.id.desc()).limit(need).offset(offset)).scalars())
        rows.extend(part)
        need -= len(part)
        offset = 0
    return _queue_page(rows, total, page, per_page, now, actor)


def _queue_page(rows: list[Incident], total: int, page: int, per_page: int, now: datetime,
                actor: Actor) -> QueuePage:
    flagged = {}
    for incident in rows:
        late = deadline_rules.overdue(deadline_rules.for_incident(incident, now=now))
        if late:
            flagged[incident.id] = late
    return QueuePage(rows, total, page, max(1, -(-total // per_page)), flagged, restricted_ids(actor, rows))


@dataclass
class Dashboard:
    overdue: list[tuple[Incident, deadline_rules.Deadline]]
    overdue_total: int
    critical: list[Incident]
    new_count: int
    open_count: int
    drafts: list = field(default_factory=list)
    drafts_total: int = 0
    restricted: set[int] = field(default_factory=set)  # shown as a summary only (TLP:RED, not named)


def dashboard(session: DbSession, *, actor: Actor, now: datetime | None = None, limit: int = 10) -> Dashboard:
    """What needs attention now, as ``actor`` sees it: overdue phases, drafts awaiting review,
    open critical reports. The counts include every report (numbers reveal no content)."""
    now = now or utcnow()
    overdue = overdue_phases(session, now=now, limit=limit)
    overdue_total = deadline_tracking.overdue_count(session, now)
    critical = list(session.execute(
        select(Incident).options(selectinload(Incident.organization))
        .where(Incident.severity == "critical", Incident.status.in_(OPEN_STATUSES))
        .order_by(Incident.created_at.desc(), Incident.id.desc()).limit(limit)).scalars())
    counts = dict(session.execute(select(Incident.status, func.count()).where(Incident.status.in_(OPEN_STATUSES))
                                  .group_by(Incident.status)).all())
    drafts, drafts_total = _drafts(session, actor, limit)
    return Dashboard(overdue=overdue, overdue_total=overdue_total, critical=critical,
                     new_count=counts.get(IncidentStatus.NEW, 0), open_count=sum(counts.values()),
                     drafts=drafts, drafts_total=drafts_total,
                     restricted=restricted_ids(actor, critical + [i for i, _ in overdue]))


def _drafts(session: DbSession, actor: Actor, limit: int) -> tuple[list, int]:
    base = select(EarlyWarning).where(EarlyWarning.state == WarningState.DRAFT, policy.warning_read_filter(actor))
    total = session.execute(base.with_only_columns(func.count()).order_by(None)).scalar_one()
    rows = list(session.execute(base.order_by(EarlyWarning.created_at.desc(), EarlyWarning.id.desc())
                                .limit(limit)).scalars())
    return rows, total


# ---- the case timeline ---------------------------------------------------------------------

@dataclass
class TimelineEvent:
    at: datetime
    kind: str  # report, phase, status, assign, note, link, merge, cooperation, warning, email, taxii, audit
    title: str
    detail: str = ""
    actor: str = ""


# The timeline is read on the case page, in the reader's language (labels marked with N_ are
# translated where an event is made; English reads as it always did).
_AUDIT_TITLES = {
    "incident.status": N_("Status changed"),
    "incident.assign": N_("Assignee changed"),
    "incident.link": N_("Linked to another report"),
    "incident.merge": N_("Merged into another report"),
    "incident.cooperation": N_("Cross-border cooperation updated"),
}
_WARNING_STATE_WORDS = {"draft": N_("draft"), "pending": N_("pending"), "published": N_("published"),
                        "discarded": N_("discarded"), "revoked": N_("revoked"), "expired": N_("expired")}
_REPLY_PURPOSES = {"acknowledgement": N_("the acknowledgement"), "answer": N_("the answer")}
# Shown from their own tables (with their text), not from the audit rows that also record them.
_AUDIT_SKIPPED = {"incident.report", "incident.phase", "incident.note"}


def timeline(session: DbSession, incident: Incident) -> list[TimelineEvent]:
    """Every phase update, status change, note, warning, e-mail and TAXII publication, oldest first."""
    events: list[TimelineEvent] = [TimelineEvent(
        incident.created_at, "report", gettext("Reported (early warning)"),
        gettext("via %(source)s", source=gettext(INCIDENT_SOURCE_LABELS.get(incident.source, incident.source))),
        incident.reporter.email if incident.reporter else incident.organization.slug)]
    for update in incident.updates:
        title = gettext("Phase: %(phase)s", phase=gettext(PHASE_LABELS.get(update.phase, update.phase)))
        events.append(TimelineEvent(update.submitted_at, "phase", title, update.summary,
                                    update.author.email if update.author else ""))
    for note in session.execute(select(CaseNote).where(CaseNote.incident_id == incident.id)).scalars():
        events.append(TimelineEvent(note.created_at, "note", gettext("Internal note"), note.body, note.author_label))
    audit_rows = session.execute(select(AuditEntry).where(AuditEntry.target_type == "incident",
                                                          AuditEntry.target_id == str(incident.id))).scalars()
    for row in audit_rows:
        if row.action in _AUDIT_SKIPPED:
            continue
        if row.action.startswith("cooperation."):
            events.append(TimelineEvent(row.at, "cooperation", gettext(AUDIT_ACTION_LABELS.get(row.action, row.action)),
                                        _describe_cooperation(row.details or {}), row.actor))
            continue
        events.append(TimelineEvent(row.at, row.action.split(".", 1)[-1],
                                    gettext(_AUDIT_TITLES.get(row.action, row.action)),
                                    _describe(row.action, row.details),
                                    row.actor))
    events.extend(_publications(session, incident))
    events.extend(_warnings(session, incident))
    events.extend(_emails(session, incident))
    events.sort(key=lambda e: e.at)
    return events


def _describe(action: str, details: dict) -> str:
    if action == "incident.status":
        text = f"{details.get('from')} → {details.get('to')}"
        return text + (f" ({details['reason']})" if details.get("reason") else "")
    if action == "incident.assign":
        return details.get("assignee") or gettext("unassigned")
    if action == "incident.link":
        return f"#{details.get('other')} ({details.get('kind')})"
    if action == "incident.merge":
        return gettext("into #%(id)s", id=details.get("into"))
    if action == "incident.cooperation":
        if details.get("cleared"):
            return gettext("flag cleared")
        return gettext("countries: %(countries)s; partner CERTs: %(certs)s",
                       countries=", ".join(details.get("countries") or []) or "-",
                       certs=", ".join(details.get("partner_certs") or []) or "-")
    return ", ".join(f"{k}={v}" for k, v in sorted(details.items()))


def _describe_cooperation(details: dict) -> str:
    """A cooperation request's audit row as a line: which request, to or from whom, what, by when,
    and what the partner's server said (services/cooperation.py writes these details)."""
    partner = details.get("partner") or gettext("the partner")
    if details.get("direction") == "incoming":
        parts = [gettext("request #%(id)s from %(partner)s", id=details.get("request"), partner=partner)]
    else:
        parts = [gettext("request #%(id)s to %(partner)s", id=details.get("request"), partner=partner)]
    if details.get("kind"):
        parts.append(gettext(COOPERATION_KIND_LABELS.get(details["kind"], details["kind"])).lower())
    if details.get("purpose") and details["purpose"] != "request":
        purpose = _REPLY_PURPOSES.get(details["purpose"])
        parts.append(gettext(purpose) if purpose else gettext("the %(purpose)s", purpose=details["purpose"]))
    if details.get("tlp"):
        parts.append(tlp_label(details["tlp"]))
    if details.get("due_at"):
        parts.append(gettext("due %(time)s", time=_utc_text(details["due_at"])))
    if details.get("channel"):
        parts.append(gettext("over TAXII") if details["channel"] == "taxii" else gettext("by e-mail"))
    if details.get("taxii_status"):
        parts.append(gettext("TAXII status %(status)s", status=details["taxii_status"]))
    if details.get("objects"):
        parts.append(ngettext("%(num)s object(s) attached", "%(num)s object(s) attached", _count(details["objects"])))
    if details.get("previous"):
        parts.append(gettext("was %(state)s", state=details["previous"]))
    text = "; ".join(parts)
    return text + ("\n" + gettext("error: %(error)s", error=details["error"]) if details.get("error") else "")


def _count(value: object) -> int:
    """A count from an audit row, for choosing a plural form (a value that is no number counts as many)."""
    try:
        return int(str(value))
    except ValueError:
        return 2


def _utc_text(value: object) -> str:
    """An ISO date-time from an audit row as the pages show times (UTC); other text unchanged."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return i18n.format_time(parsed.astimezone(timezone.utc))  # English: 2026-05-04 13:00 UTC


def _publications(session: DbSession, incident: Incident) -> Iterable[TimelineEvent]:
    """STIX versions of this report written to TAXII collections (its intake copy included)."""
    rows = session.execute(
        select(Collection.alias, Collection.title, StixObject.type, func.min(StixObject.date_added), func.count())
        .join(Collection, Collection.id == StixObject.collection_id)
        .where(StixObject.incident_id == incident.id, StixObject.type == "incident")
        .group_by(Collection.alias, Collection.title, StixObject.type)).all()
    for alias, title, _type, first, count in rows:
        yield TimelineEvent(first, "taxii", gettext("TAXII: in the collection %(title)s",
                                                    title=collection_title(alias, title)),
                            ngettext("%(num)s version(s)", "%(num)s version(s)", count))


def _warnings(session: DbSession, incident: Incident) -> Iterable[TimelineEvent]:
    rows = session.execute(select(EarlyWarning).join(WarningSource, WarningSource.warning_id == EarlyWarning.id)
                           .where(WarningSource.incident_id == incident.id)).scalars()
    out = []
    titles = dict(session.execute(select(Collection.alias, Collection.title)).tuples().all())
    for w in rows:
        state = gettext(_WARNING_STATE_WORDS.get(w.state, w.state))
        out.append(TimelineEvent(w.created_at, "warning", gettext("Warning #%(id)s raised (%(state)s)", id=w.id,
                                                                  state=state),
                                 f"{w.title} — {tlp_label(w.tlp)}"))
        if w.published_at is not None:
            out.append(TimelineEvent(w.published_at, "warning", gettext("Warning #%(id)s published", id=w.id),
                                     "; ".join(collection_title(alias, titles.get(alias, alias))
                                               for alias in w.published_targets or [])))
    return out


def _emails(session: DbSession, incident: Incident) -> Iterable[TimelineEvent]:
    out = [TimelineEvent(r.sent_at, "email",
                         gettext("Deadline reminder: %(phase)s", phase=gettext(PHASE_LABELS.get(r.phase, r.phase))),
                         ngettext("to %(num)s recipient(s)", "to %(num)s recipient(s)", r.recipients))
           for r in session.execute(select(DeadlineReminder).where(DeadlineReminder.incident_id == incident.id))
           .scalars()]
    # Mails about a report or its warnings are recognised by their dedupe key's prefix:
    # deadline reminders, the critical-report alert, and the draft/owner alerts of its warnings.
    prefixes = [f"incident:{incident.id}:", f"critical-report:{incident.id}:"]
    for warning_id in session.execute(select(WarningSource.warning_id)
                                      .where(WarningSource.incident_id == incident.id)).scalars():
        prefixes += [f"warning-draft:{warning_id}:", f"warning-owner:{warning_id}:"]
    rows = session.execute(select(OutboxMessage).where(
        or_(*(OutboxMessage.dedupe_key.like(p + "%") for p in prefixes)))).scalars()
    for m in rows:
        out.append(TimelineEvent(m.created_at, "email",
                                 gettext("E-mail (%(state)s): %(subject)s", state=gettext(_MAIL_STATE_WORDS.get(
                                     m.state, m.state)), subject=m.subject),
                                 gettext("to %(to)s", to=m.to)))
    return out


_MAIL_STATE_WORDS = {"pending": N_("pending"), "sending": N_("sending"), "sent": N_("sent"), "dead": N_("dead"),
                     "digest": N_("digest"), "folded": N_("folded")}


def collection_title(alias: str, title: str) -> str:
    """A TAXII collection's title as a page shows it, in the reader's language: the platform's own
    collections by their alias (``store.collections`` names them in English, which TAXII serves);
    any other collection by its stored title."""
    if alias == "all-members":
        return gettext("Early warnings for all members")
    if alias == "intake":
        return gettext("Intake")
    if alias.startswith("sector-"):
        return gettext("Warnings for the %(sector)s sector", sector=alias.removeprefix("sector-"))
    if alias.startswith("org-") and title.startswith("Warnings for "):
        return gettext("Warnings for %(organization)s", organization=title.removeprefix("Warnings for "))
    return title
