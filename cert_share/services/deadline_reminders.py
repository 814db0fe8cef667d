"""Reminders for overdue reporting phases: one per (report, phase), ever.

The ``deadline_reminders`` row and the e-mails go in one transaction; the row's unique key on
(incident, phase) is what makes "never twice" hold even when two schedulers race, and each
message's outbox dedupe key (``incident:<id>:deadline:<phase>:<address>``) guards delivery.
Recipients: the reporting organization's member-admins (and analysts who asked) and CERT staff —
of a TLP:RED report, the staff named on the case, and the duty officer told only which report
and phase are late (mail/messages.py words it; a TLP:RED report's content never goes by mail).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .. import i18n
from ..actor import SYSTEM
from ..clock import iso, utcnow
from ..database import DbSession
from ..mail import messages
from ..mail.outbox import member_recipients
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


def send_reminders(session: DbSession, *, now: datetime | None = None) -> ReminderReport:
    """Queue one reminder per overdue phase not reminded before; commits."""
    now = now or utcnow()
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
    languages: dict[int | None, str] = {user.id: i18n.person_locale(user) for user in staff}  # each their own
    for incident_id, deadline in due:
        incident = incidents[incident_id]
        members = member_recipients(session, incident.org_id, messages.DEADLINE_REMINDER)
        addresses = {user.email for user in members}
        # (recipient, may read the report's content)
        recipients = [(messages.recipient_for(user), True) for user in members] + [
            (messages.Recipient(s.address, s.user_id, messages.CERT_STAFF, locale=languages.get(s.user_id)),
             s.reads_content)
            for s in staff_audience(session, incident, staff=staff) if s.address not in addresses]
        reminder = DeadlineReminder(incident_id=incident.id, phase=deadline.phase, due_at=deadline.due_at,
                                    sent_at=now, recipients=len(recipients))
        if not add_unless_exists(session, reminder):  # another scheduler got there first
            report.already_sent += 1
            continue
        for recipient, content in recipients:
            message = messages.deadline_reminder(incident, deadline, recipient, now=now, reads_content=content)
            queued = messages.queue(
                session, message, now=now,
                dedupe_key=f"incident:{incident.id}:deadline:{deadline.phase}:{recipient.address.lower()}")
            report.messages += queued is not None
        audit.record(session, SYSTEM, "incident.deadline_reminder", "incident", incident.id,
                     phase=deadline.phase, due_at=iso(deadline.due_at), recipients=len(recipients))
        report.reminders += 1
        session.commit()
    return report
