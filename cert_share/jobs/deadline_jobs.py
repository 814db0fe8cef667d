"""``check-deadlines``: remind organizations and CERT staff of overdue reporting phases."""
from __future__ import annotations

from datetime import datetime

from ..database import DbSession
from ..services.deadline_reminders import send_reminders
from ..services.deadline_tracking import repair
from .registry import job


@job("check-deadlines", interval_setting="JOB_CHECK_DEADLINES_MINUTES",
     help="Queue one reminder e-mail per overdue reporting phase (member-admins and CERT staff), never twice.")
def check_deadlines(session: DbSession, now: datetime) -> str:
    repaired = repair(session)  # rows of reports whose organization's regime changed, or missing
    summary = send_reminders(session, now=now).summary()
    return summary + (f"; deadlines recomputed for {repaired} report(s)" if repaired else "")
