"""The real thing: two `cert-share scheduler run` processes against one database. One runs the
jobs; when it is killed outright (no chance to clean up) the other takes over; SIGTERM stops
an instance cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select

from cert_share.extensions import db
from cert_share.models import JobRun, SchedulerLease
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.slow


def start_scheduler(database_url: str, tmp_path) -> subprocess.Popen:
    env = {**os.environ, "CERT_SHARE_ENV": "development", "DATABASE_URL": database_url,
           "MAILDIR": str(tmp_path / "maildir"), "JOB_SEND_MAIL_MINUTES": "0.02", "SMTP_HOST": ""}
    return subprocess.Popen([sys.executable, "-m", "cert_share.cli", "scheduler", "run", "--poll-seconds", "0.2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def lease_pid(app) -> int | None:
    with app.app_context():
        lease = db.session.get(SchedulerLease, "scheduler")
        db.session.rollback()
        return int(lease.holder.split(":")[1]) if lease is not None and lease.holder else None


def send_mail_runs_by(app, pid: int) -> int:
    with app.app_context():
        holders = db.session.execute(select(JobRun.holder).where(JobRun.job == "send-mail")).scalars().all()
        db.session.rollback()
        return sum(1 for h in holders if h.split(":")[1] == str(pid))


def test_a_killed_scheduler_is_replaced_by_the_standby(app, database_url, tmp_path):
    procs = [start_scheduler(database_url, tmp_path), start_scheduler(database_url, tmp_path)]
    try:
        active = wait_until(lambda: lease_pid(app), timeout=120, what="a scheduler to become active")
        assert active in {p.pid for p in procs}
        [standby] = [p for p in procs if p.pid != active]
        wait_until(lambda: send_mail_runs_by(app, active) >= 2, timeout=60, what="the active one to run jobs")
        assert send_mail_runs_by(app, standby.pid) == 0
        assert standby.poll() is None  # still there, waiting

        os.kill(active, signal.SIGKILL)  # no cleanup: the lock must go with the process
        wait_until(lambda: lease_pid(app) == standby.pid, timeout=60, what="the standby to take over")
        wait_until(lambda: send_mail_runs_by(app, standby.pid) >= 1, timeout=60, what="a run by the standby")

        standby.send_signal(signal.SIGTERM)
        output, _ = standby.communicate(timeout=60)
        assert standby.returncode == 0, output
        assert "stopping the scheduler" in output and "stopped" in output
        assert lease_pid(app) is None
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    with app.app_context():
        slots = db.session.execute(select(JobRun.job, JobRun.slot_start)).all()
    assert len(slots) == len(set(slots))
