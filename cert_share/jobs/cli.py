"""Commands: ``cert-share jobs list|run``, ``cert-share scheduler run|status``,
``cert-share mail dead|requeue``. ``COMMANDS`` is registered by create_app (register_commands)."""
from __future__ import annotations

import logging
import signal
import sys
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from ..actor import CLI
from ..clock import iso, utcnow
from ..config import base_url_problems
from ..errors import CertShareError
from ..extensions import db
from ..logs import configure as configure_logging
from ..mail.outbox import dead_letters
from ..models import SchedulerLease
from ..schema_revision import BEHIND, read_status
from ..services import operations
from ..vocab import JobRunStatus
from .lock import new_holder_id
from .registry import load_jobs
from .runs import last_run, run_job


@click.group("jobs", help="Scheduled jobs: list them, or run one now.")
def jobs_group():
    pass


@jobs_group.command("list")
@with_appcontext
def jobs_list():
    """Every job with its interval, last run and outcome."""
    jobs = load_jobs()
    try:
        intervals = {name: job.interval_minutes(current_app.config) for name, job in jobs.items()}
    except ValueError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{'job':18} {'every':>10}  {'setting':30} {'last run':24} {'status':8} summary")
    for name, job in jobs.items():
        run = last_run(db.session, name)
        minutes = intervals[name]
        click.echo(f"{name:18} {minutes:>6g} min  {job.interval_setting:30} "
                   f"{(iso(run.started_at) if run else 'never'):24} {(run.status if run else '-'):8} "
                   f"{(run.summary or run.error or '') if run else ''}")
    click.echo(_lease_line())


@jobs_group.command("run")
@click.argument("name")
@with_appcontext
def jobs_run(name):
    """Run the job NAME once now and print its summary."""
    jobs = load_jobs()
    if name not in jobs:
        click.echo(f"Error: unknown job {name!r}; valid jobs: {', '.join(jobs)}", err=True)
        sys.exit(2)
    _refuse_without_base_url()
    run = run_job(db.session, jobs[name], now=utcnow(), holder=f"manual:{new_holder_id()}", trigger="manual")
    if run is None or run.status != JobRunStatus.OK:
        click.echo(f"Error: job {name} failed: {run.error if run else 'slot already taken'}", err=True)
        sys.exit(1)
    click.echo(run.summary or "done")


def _refuse_without_base_url() -> None:
    """The jobs write mail whose links start with BASE_URL: one line and exit 2 without it."""
    for line in base_url_problems(current_app.config):
        click.echo(f"Error: {line}", err=True)
        sys.exit(2)


@click.group("scheduler", help="The scheduler that runs the jobs (one active instance at a time).")
def scheduler_group():
    pass


def _refuse_behind_schema() -> None:
    """Jobs written for this code would fail one by one against an older schema: say so once and
    stop (systemd restarts the unit; after `cert-share db upgrade` it starts)."""
    status = read_status(db.engine)
    if status.state == BEHIND:
        click.echo(f"Error: {status.message()}", err=True)
        sys.exit(2)


@scheduler_group.command("run")
@click.option("--poll-seconds", type=float, default=None,
              help="How often a standby checks for the lock (default SCHEDULER_POLL_SECONDS).")
@with_appcontext
def scheduler_run(poll_seconds):
    """Run in the foreground until SIGTERM/SIGINT; stands by while another instance is active."""
    from .scheduler import Scheduler  # APScheduler: loaded only by the one command that runs it

    if not current_app.config["SCHEDULER_ENABLED"]:
        click.echo("scheduler disabled (SCHEDULER_ENABLED=0); not starting")
        return
    _refuse_without_base_url()
    _refuse_behind_schema()
    configure_logging(current_app.config)  # LOG_FORMAT, LOG_LEVEL: as the app servers log
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per firing is noise
    try:
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # flask types the proxy as a Flask
        scheduler = Scheduler(app, poll_seconds=poll_seconds)
    except ValueError as exc:  # a malformed JOB_*_MINUTES
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    stop = threading.Event()

    def _stop(signum, _frame):
        logging.getLogger(__name__).info("signal %s: stopping the scheduler", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler.run(stop)


@scheduler_group.command("status")
@with_appcontext
def scheduler_status():
    """Which instance holds the scheduler lease, and when it last renewed it."""
    click.echo(_lease_line())


def _lease_line() -> str:
    lease = db.session.get(SchedulerLease, "scheduler")
    if lease is None or lease.holder is None:
        return "scheduler: no active instance"
    state = "active" if lease.expires_at and lease.expires_at > utcnow() else "lease expired"
    return f"scheduler: {lease.holder} ({state}, last heartbeat {iso(lease.heartbeat_at)})"


@click.group("mail", help="The e-mail outbox.")
def mail_group():
    pass


@mail_group.command("dead")
@with_appcontext
def mail_dead():
    """Dead letters: messages refused for good or out of attempts."""
    rows = dead_letters(db.session)
    for row in rows:
        click.echo(f"{row.id}\t{iso(row.created_at)}\t{row.to}\t{row.subject}\t"
                   f"{row.attempts} attempt(s)\t{row.last_error}")
    if not rows:
        click.echo("no dead letters")


@mail_group.command("requeue")
@click.argument("message_id", type=int)
@with_appcontext
def mail_requeue(message_id):
    """Queue dead letter MESSAGE_ID again (e.g. after the mailbox was fixed)."""
    try:
        row = operations.requeue_dead_letter(db.session, message_id, actor=CLI)
    except CertShareError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(2)
    click.echo(f"message {row.id} to {row.to} queued again")


COMMANDS = [jobs_group, scheduler_group, mail_group]
