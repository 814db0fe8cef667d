"""``push-partners``: cooperation requests, acknowledgements and answers to partner CERTs."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..database import DbSession
from ..services import cooperation
from ..services.partner_delivery import push_partners as deliver
from .registry import job


@job("push-partners", interval_setting="JOB_PUSH_PARTNERS_MINUTES",
     help="Push due cooperation deliveries to partner CERTs' TAXII collections (retried with backoff, never "
          "twice), queue mail for partners without TAXII and record its fate, then mark overdue requests.")
def push_partners(session: DbSession, now: datetime) -> str:
    try:
        report = deliver(session, current_app.config, now=now)
    except Exception:
        # Deadlines do not wait for the deliveries (the database failing mid-run): overdue
        # requests are still marked, if the database lets us, before the job reports its error.
        session.rollback()
        cooperation.mark_overdue(session, now=now)
        raise
    report.overdue = cooperation.mark_overdue(session, now=now)
    return report.summary()
