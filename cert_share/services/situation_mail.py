"""The CERT's daily situation mail: one mail a day, at ``MAIL_SITUATION_AT`` in ``CERT_TIMEZONE``,
to each member of CERT staff who chose it on /account/mail (mail/preferences.py).

It says what waits for the CERT, each item with the link to where it is handled: the reports
received in the day before the slot, by severity and sector (the triage queue, filtered); the
drafts waiting for review; the overdue reporting phases; the feeds whose last pull failed, the
member organizations that stopped polling TAXII and the dead letters (/operations). Each
recipient is told only what they may read: a draft raised from a TLP:RED report they are not
named on is left out, and of the overdue phases only the reports they may open are listed (all
of them are counted). No report's title or content is in it: numbers, organizations, feeds.
This module gathers the data (mail/messages.Situation); how the mail reads is
``messages.situation`` and the templates'.

"Once per slot": the slot is the day, and each message's outbox dedupe key
(``situation:<date>:<address>``) is unique, so two schedulers, or a manual run beside a
scheduled one, queue one mail per person per day.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from urllib.parse import urlencode

from sqlalchemy import func, select

from .. import policy
from ..actor import Actor, actor_for_user
from ..clock import iso, utcnow
from ..config import clock_time, time_zone
from ..database import DbSession
from ..early_warning import lifecycle
from ..mail import messages, preferences
from ..mail.messages import DraftWaiting, FailedFeed, NewReports, OverduePhase, SilentMember, Situation
from ..models import Incident, Organization, User
from ..models.user import CERT_ROLES
from ..vocab import SEVERITIES, WarningState
from . import operations, workspace

# Internal to the CERT (which members report what, and which stopped polling): need to know.
TLP = "amber"
LISTED = 20  # items of one kind named one by one; the rest are counted, behind the list's link


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
    shared = _shared(session, now=now, silence=timedelta(hours=int(config["POLL_SILENCE_HOURS"])))
    for user in staff:
        if not preferences.wants_situation(user) or not user.can_sign_in:
            continue
        situation = situation_for(session, actor_for_user(user), day=day, since=since, until=at, now=now,
                                  zone=zone, shared=shared)
        message = messages.situation(situation, messages.recipient_for(user), tlp=TLP)
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
    situation.links = {"queue": messages.url("/incidents?" + urlencode({"status": "all"})),
                       "drafts": messages.url("/warnings?state=draft"),
                       "overdue": messages.url("/incidents?" + urlencode({"status": "all", "overdue": "1"})),
                       "feeds": messages.url("/operations#feeds"), "polling": messages.url("/operations#polling"),
                       "dead": messages.url("/operations#dead-letters")}
    _new_reports(session, situation)
    _drafts(session, actor, situation)
    _overdue(session, actor, situation, now)
    return situation


def _shared(session: DbSession, *, now: datetime, silence: timedelta) -> dict:
    """The parts that are the same for every recipient (feeds, polling, dead letters)."""
    feeds = [FailedFeed(state.name, state.last_error or "", state.last_success_at)
             for state in operations.failed_feeds(session)]
    silent = [SilentMember(org.name, last)
              for org, last in operations.silent_members(session, now=now, silence=silence)]
    return {"feeds": feeds, "silent": silent, "dead": operations.dead_letter_count(session)}


def _new_reports(session: DbSession, situation: Situation) -> None:
    """Reports received in the window, by severity and sector, critical first; each group links to
    the triage queue narrowed to exactly that group and window."""
    rows = session.execute(
        select(Incident.severity, Organization.sector, func.count(Incident.id))
        .join(Organization, Organization.id == Incident.org_id)
        .where(Incident.created_at >= situation.since, Incident.created_at < situation.until)
        .group_by(Incident.severity, Organization.sector)).all()
    order = {severity: i for i, severity in enumerate(reversed(SEVERITIES))}  # critical first
    window = {"received_from": iso(situation.since), "received_to": iso(situation.until)}
    for severity, sector, count in sorted(rows, key=lambda r: (order.get(r[0], 9), -r[2], r[1])):
        query = urlencode({"status": "all", "severity": severity, "sector": sector, **window})
        situation.new_reports.append(NewReports(severity, sector, count, messages.url(f"/incidents?{query}")))


def _drafts(session: DbSession, actor: Actor, situation: Situation) -> None:
    drafts = lifecycle.visible_warnings(session, actor, state=WarningState.DRAFT, limit=1000)
    situation.drafts_total = len(drafts)
    situation.drafts = [DraftWaiting(w.id, w.tlp, w.reporter_count, w.created_at, messages.url(f"/warnings/{w.id}"))
                        for w in drafts[:LISTED]]


def _overdue(session: DbSession, actor: Actor, situation: Situation, now: datetime) -> None:
    situation.overdue_total = len(workspace.overdue_pairs(session, now=now))
    readable = select(Incident).where(policy.incident_read_filter(actor))
    situation.overdue = [OverduePhase(incident.id, deadline.phase, deadline.due_at,
                                      messages.url(f"/incidents/{incident.id}"))
                         for incident, deadline in workspace.overdue_phases(session, readable, now=now, limit=LISTED)]
