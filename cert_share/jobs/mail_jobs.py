"""Mail jobs: ``send-mail`` delivers the outbox, ``send-digest`` composes the digests."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app

from ..database import DbSession
from ..mail.delivery import deliver_outbox
from ..mail.digest import send_digests
from ..mail.outbox import prune_delivered
from ..mail.pgp import SigningError
from .registry import JOBS, job
from .runs import slot_start


@job("send-mail", interval_setting="JOB_SEND_MAIL_MINUTES",
     help="Deliver due outbox messages over SMTP (or to the local maildir without SMTP_HOST); "
          "delete delivered ones older than MAIL_RETENTION_DAYS.")
def send_mail(session: DbSession, now: datetime) -> str:
    report = deliver_outbox(session, current_app.config, now=now, instance_path=current_app.instance_path)
    if report.stopped:  # the run failed: the job's status says so, not only its summary
        raise SigningError(report.summary())
    summary = report.summary()
    days = int(current_app.config["MAIL_RETENTION_DAYS"])
    if days > 0:  # 0 keeps every message
        pruned = prune_delivered(session, now=now, retention=timedelta(days=days))
        if pruned:
            summary += f"; pruned {pruned} delivered message(s) older than {days} days"
    return summary


@job("send-digest", interval_setting="JOB_SEND_DIGEST_MINUTES",
     help="Queue each recipient's digest: held-back messages and the registered digest sections.")
def send_digest(session: DbSession, now: datetime) -> str:
    minutes = JOBS["send-digest"].interval_minutes(current_app.config)
    report = send_digests(session, now=now, period=timedelta(minutes=minutes), slot=slot_start(now, minutes))
    return report.summary()
