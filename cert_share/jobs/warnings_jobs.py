"""``publish-warnings``: write due early warnings into their TAXII collections, expire old ones."""
from __future__ import annotations

from datetime import datetime

from ..database import DbSession
from ..early_warning.lifecycle import publish_warnings
from .registry import job


@job("publish-warnings", interval_setting="JOB_PUBLISH_WARNINGS_MINUTES",
     help="Publish pending early warnings (and revocations) to their TAXII collections; expire old ones.")
def publish_warnings_job(session: DbSession, now: datetime) -> str:
    return publish_warnings(session, now)
