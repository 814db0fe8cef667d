"""``pull-feeds``: pull every due partner feed (TAXII 2.1 or MISP) through the intake path."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..database import DbSession
from ..services.feeds import pull_feeds
from .registry import job


@job("pull-feeds", interval_setting="JOB_PULL_FEEDS_MINUTES",
     help="Pull the partner feeds defined in FEEDS_DIR whose own interval_minutes has elapsed.")
def pull_feeds_job(session: DbSession, now: datetime) -> str:
    return pull_feeds(session, current_app.config, now=now).summary()
