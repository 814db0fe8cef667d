"""Reminders for overdue reporting phases: one per (report, phase), ever.

The ``deadline_reminders`` row and the e-mails go in one transaction; the row's unique key on
(incident, phase) is what makes "never twice" hold even when two schedulers race, and each
message's outbox dedupe key (``incident:<id>:deadline:<phase>:<address>``) guards delivery.
Recipients: the reporting organization's member-admins and CERT staff — of a TLP:RED report,
the staff named on the case, and the duty officer told only which report and phase are late.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..actor import SYSTEM
from ..clock import iso, utcnow
from ..config import setting
from ..database import DbSession
from ..deadlines import Deadline
from ..mail.outbox import enqueue, member_admins
from ..models import DeadlineReminder, Incident
from ..store import audit
from ..store.case_staff import active_staff, staff_audience
from ..store.rows import add_unless_exists
from .workspace import overdue_pairs


@dataclass
class ReminderReport:
    reminders: int = 0
    messages: int = 0
    already_sent: int = 0

    def summary(self) -> str:
        return (f"{self.reminders} overdue phase(s) reminded, {self.messages} message(s) queued, "
                f"{self.already_sent} already reminded before")


def _text(incident: Incident, deadline: Deadline, now: datetime, base_url: str, staff: bool,
          content: bool = True) -> str:
    late = now - deadline.due_at
    hours = int(late.total_seconds() // 3600)
    link = f"{base_url}/incidents/{incident.id}"
    lines = [
        f"The {deadline.phase} of report #{incident.id} was due at {iso(deadline.due_at)} "
        f"and has not been submitted ({hours} h overdue).",
    ]
    if not content:
        return "\n".join(lines + ["", "Only the CERT staff named on the case may read this report: assign it "
                                       f"or name staff on it: {link}"])
    lines += [
        "",
        f"Report: #{incident.id} {incident.title}",
        f"Classification: {incident.classification}, severity {incident.severity}",
    ]
    if staff:
        lines.append(f"Organization: {incident.organization.name}")
    lines += ["", f"Open the report: {link}",
              "Add the phase there or with POST /api/v1/incidents/<id>/updates."]
    return "\n".join(lines)


def send_reminders(session: DbSession, *, now: datetime | None = None) -> ReminderReport:
    """Queue one reminder per overdue phase not reminded before; commits."""
    now = now or utcnow()
    base_url = setting("BASE_URL")
    report = ReminderReport()
    pairs = overdue_pairs(session, now=now)
    if not pairs:
        return report
    done = set(session.execute(select(DeadlineReminder.incident_id, DeadlineReminder.phase).where(
        DeadlineReminder.incident_id.in_({i for i, _ in pairs}))).all())
    report.already_sent = sum(1 for i, d in pairs if (i, d.phase) in done)
    due = [(i, d) for i, d in pairs if (i, d.phase) not in done]
    if not due:
        return report
    incidents = {i.id: i for i in session.execute(select(Incident).where(
        Incident.id.in_({i for i, _ in due}))).scalars()}
    staff = active_staff(session)
    for incident_id, deadline in due:
        incident = incidents[incident_id]
        admins = member_admins(session, incident.org_id)
        # (address, is CERT staff, may read the report's content)
        recipients = [(a, False, True) for a in admins] + [
            (s.address, True, s.reads_content) for s in staff_audience(session, incident, staff=staff)
            if s.address not in admins]
        reminder = DeadlineReminder(incident_id=incident.id, phase=deadline.phase, due_at=deadline.due_at,
                                    sent_at=now, recipients=len(recipients))
        if not add_unless_exists(session, reminder):  # another scheduler got there first
            report.already_sent += 1
            continue
        for address, is_staff, content in recipients:
            message = enqueue(
                session, to=address, kind="deadline",
                subject=f"Overdue: {deadline.phase} for report #{incident.id}",
                text=_text(incident, deadline, now, base_url, is_staff, content), tlp=incident.tlp,
                dedupe_key=f"incident:{incident.id}:deadline:{deadline.phase}:{address.lower()}", now=now)
            report.messages += message is not None
        audit.record(session, SYSTEM, "incident.deadline_reminder", "incident", incident.id,
                     phase=deadline.phase, due_at=iso(deadline.due_at), recipients=len(recipients))
        report.reminders += 1
        session.commit()
    return report
