"""``situation-mail``: the CERT staff's daily situation mail, once its time of day has come."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from ..database import DbSession
from ..services.situation_mail import send_situation_mail
from .registry import job


@job("situation-mail", interval_setting="JOB_SITUATION_MAIL_MINUTES",
     help="Queue the daily situation mail (MAIL_SITUATION_AT in CERT_TIMEZONE) for the CERT staff who chose "
          "it; once a day per person, however many schedulers run.")
def situation_mail(session: DbSession, now: datetime) -> str:
    return send_situation_mail(session, current_app.config, now=now).summary()
