"""The CERT's daily situation mail: one mail a day, at ``MAIL_SITUATION_AT`` in ``CERT_TIMEZONE``,
to each member of CERT staff who chose it on /account/mail (mail/preferences.py).

It says what waits for the CERT, each item with the link to where it is handled: the reports
received in the day before the slot, by severity and sector (the triage queue, filtered); the
drafts waiting for review; the overdue reporting phases; the feeds whose last pull failed, the
member organizations that stopped polling TAXII and the dead letters (/operations). Each
recipient is told only what they may read: a draft raised from a TLP:RED report they are not
named on is left out, and of the overdue phases only the reports they may open are listed (all
of them are counted). No report's title or content is in it: numbers, organizations, feeds.

"Once per slot": the slot is the day, and each message's outbox dedupe key
(``situation:<date>:<address>``) is unique, so two schedulers, or a manual run beside a
scheduled one, queue one mail per person per day.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from urllib.parse import urlencode

from sqlalchemy import func, select

from .. import policy
from ..actor import Actor, actor_for_user
from ..clock import utcnow
from ..config import clock_time, time_zone
from ..database import DbSession
from ..early_warning import lifecycle
from ..mail import messages, preferences
from ..models import Incident, Organization, User
from ..models.user import CERT_ROLES
from ..vocab import PHASE_LABELS, SECTOR_LABELS, SEVERITIES, SEVERITY_LABELS, WarningState, tlp_label
from . import operations, workspace

KIND = "situation"
# Internal to the CERT (which members report what, and which stopped polling): need to know.
TLP = "amber"
LISTED = 20  # items of one kind named one by one; the rest are counted, behind the list's link


@dataclass(frozen=True)
class Item:
    """One line of the mail: what, and the link where it is handled."""

    label: str
    detail: str
    url: str


@dataclass
class Situation:
    day: date
    since: datetime
    until: datetime
    zone: tzinfo
    new_reports: list[Item] = field(default_factory=list)
    new_total: int = 0
    drafts: list[Item] = field(default_factory=list)
    drafts_total: int = 0
    overdue: list[Item] = field(default_factory=list)
    overdue_total: int = 0
    failed_feeds: list[Item] = field(default_factory=list)
    silent_members: list[Item] = field(default_factory=list)
    dead_letters: int = 0
    links: dict[str, str] = field(default_factory=dict)


@dataclass
class SituationReport:
    day: date | None = None
    queued: int = 0
    already: int = 0

    def summary(self) -> str:
        if self.day is None:
            return "not yet time for today's situation mail"
        return f"situation mail of {self.day.isoformat()}: {self.queued} queued, {self.already} already queued"


def slot_of(now: datetime, config: Mapping) -> tuple[date, datetime] | None:
    """Today's slot (the CERT's local date, and its time as UTC) once it has come; else None."""
    zone = time_zone("CERT_TIMEZONE", config["CERT_TIMEZONE"])
    hour, minute = clock_time("MAIL_SITUATION_AT", config["MAIL_SITUATION_AT"])
    local = now.astimezone(zone)
    at = datetime.combine(local.date(), time(hour, minute), tzinfo=zone)
    if local < at:
        return None
    return local.date(), at.astimezone(timezone.utc)


def send_situation_mail(session: DbSession, config: Mapping, *, now: datetime | None = None) -> SituationReport:
    """Queue today's situation mail for each member of staff who chose it, once its time has come;
    commits per recipient. Rerunning the same day queues nothing twice."""
    now = now or utcnow()
    slot = slot_of(now, config)
    if slot is None:
        return SituationReport()
    day, at = slot
    report = SituationReport(day=day)
    zone = time_zone("CERT_TIMEZONE", config["CERT_TIMEZONE"])
    # The day before the slot in the CERT's wall-clock time (23 or 25 hours across a DST change).
    since = datetime.combine(day - timedelta(days=1), at.astimezone(zone).time(), tzinfo=zone).astimezone(timezone.utc)
    staff = session.execute(select(User).where(User.role.in_(CERT_ROLES), User.active.is_(True))
                            .order_by(User.email)).scalars().all()
    shared = _shared(session, now=now, silence=timedelta(hours=int(config["POLL_SILENCE_HOURS"])), zone=zone)
    for user in staff:
        if not preferences.wants_situation(user) or not user.can_sign_in:
            continue
        situation = situation_for(session, actor_for_user(user), day=day, since=since, until=at, now=now,
                                  zone=zone, shared=shared)
        message = compose(situation, messages.recipient_for(user))
        if messages.queue(session, message, now=now, dedupe_key=f"situation:{day.isoformat()}:{user.email.lower()}"):
            session.commit()
            report.queued += 1
        else:
            session.rollback()
            report.already += 1
    return report


def situation_for(session: DbSession, actor: Actor, *, day: date, since: datetime, until: datetime,
                  now: datetime, zone: tzinfo, shared: dict) -> Situation:
    """What the situation mail tells ``actor`` (CERT staff) for ``day``; ``shared``: what it tells
    every recipient (_shared)."""
    situation = Situation(day=day, since=since, until=until, zone=zone, failed_feeds=shared["feeds"],
                          silent_members=shared["silent"], dead_letters=shared["dead"])
    _new_reports(session, situation)
    _drafts(session, actor, situation)
    _overdue(session, actor, situation, now)
    situation.links = {"queue": messages.url("/incidents?" + urlencode({"status": "all"})),
                       "drafts": messages.url("/warnings?state=draft"),
                       "overdue": messages.url("/incidents?" + urlencode({"status": "all", "overdue": "1"})),
                       "feeds": messages.url("/operations#feeds"), "polling": messages.url("/operations#polling"),
                       "dead": messages.url("/operations#dead-letters")}
    return situation


def compose(situation: Situation, recipient: messages.Recipient) -> messages.Message:
    day = situation.day.isoformat()
    facts = [("New reports", str(situation.new_total)), ("Drafts waiting", str(situation.drafts_total)),
             ("Overdue phases", str(situation.overdue_total)), ("Feeds failing", str(len(situation.failed_feeds))),
             ("Members not polling", str(len(situation.silent_members))),
             ("Dead letters", str(situation.dead_letters))]
    return messages.compose(
        KIND, "situation", recipient=recipient, subject=f"Situation on {day}", tlp=TLP,
        summary=(f"What waits for the CERT on {day}: the reports received from "
                 f"{when(situation.since, situation.zone)} to {when(situation.until, situation.zone)}, and the rest "
                 "as it stands now."),
        facts=facts, action_label="Open the triage queue", action_url=situation.links["queue"], situation=situation)


def when(moment: datetime, zone: tzinfo) -> str:
    """A moment as the CERT reads it: '2026-11-30 07:00 Europe/Tallinn' (minutes are enough here)."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {zone}"


def _shared(session: DbSession, *, now: datetime, silence: timedelta, zone: tzinfo) -> dict:
    """The parts that are the same for every recipient (feeds, polling, dead letters)."""
    feeds = [Item(state.name, f"{(state.last_error or '')[:200]} (last success: "
                              f"{when(state.last_success_at, zone) if state.last_success_at else 'never'})",
                  messages.url("/operations#feeds")) for state in operations.failed_feeds(session)]
    silent = [Item(org.name, f"last polled {when(last, zone)}", messages.url("/operations#polling"))
              for org, last in operations.silent_members(session, now=now, silence=silence)]
    return {"feeds": feeds, "silent": silent, "dead": operations.dead_letter_count(session)}


def _new_reports(session: DbSession, situation: Situation) -> None:
    rows = session.execute(
        select(Incident.severity, Organization.sector, func.count(Incident.id))
        .join(Organization, Organization.id == Incident.org_id)
        .where(Incident.created_at >= situation.since, Incident.created_at < situation.until)
        .group_by(Incident.severity, Organization.sector)).all()
    order = {severity: i for i, severity in enumerate(reversed(SEVERITIES))}  # critical first
    for severity, sector, count in sorted(rows, key=lambda r: (order.get(r[0], 9), -r[2], r[1])):
        query = urlencode({"status": "all", "severity": severity, "sector": sector})
        situation.new_reports.append(Item(f"{SEVERITY_LABELS.get(severity, severity)}, "
                                          f"{SECTOR_LABELS.get(sector, sector)}", str(count),
                                          messages.url(f"/incidents?{query}")))
        situation.new_total += count


def _drafts(session: DbSession, actor: Actor, situation: Situation) -> None:
    drafts = lifecycle.visible_warnings(session, actor, state=WarningState.DRAFT, limit=1000)
    situation.drafts_total = len(drafts)
    for warning in drafts[:LISTED]:
        detail = (f"proposed {tlp_label(warning.tlp)}, {warning.reporter_count} organization(s), "
                  f"since {when(warning.created_at, situation.zone)}")
        situation.drafts.append(Item(f"Draft #{warning.id}", detail, messages.url(f"/warnings/{warning.id}")))


def _overdue(session: DbSession, actor: Actor, situation: Situation, now: datetime) -> None:
    situation.overdue_total = len(workspace.overdue_pairs(session, now=now))
    readable = select(Incident).where(policy.incident_read_filter(actor))
    for incident, deadline in workspace.overdue_phases(session, readable, now=now, limit=LISTED):
        detail = f"{PHASE_LABELS.get(deadline.phase, deadline.phase)} due {when(deadline.due_at, situation.zone)}"
        situation.overdue.append(Item(f"Report #{incident.id}", detail, messages.url(f"/incidents/{incident.id}")))
