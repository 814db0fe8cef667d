"""``check-deadlines``: remind organizations and CERT staff of overdue reporting phases."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..services.deadline_reminders import send_reminders
from ..services.deadline_tracking import repair
from .registry import job


@job("check-deadlines", interval_setting="JOB_CHECK_DEADLINES_MINUTES", default_minutes=15,
     help="Queue one reminder e-mail per overdue reporting phase (member-admins and CERT staff), never twice.")
def check_deadlines(session: Session, now: datetime) -> str:
    repaired = repair(session)  # rows of reports whose organization's regime changed, or missing
    summary = send_reminders(session, now=now).summary()
    return summary + (f"; deadlines recomputed for {repaired} report(s)" if repaired else "")
