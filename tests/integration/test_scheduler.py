"""Exactly one active scheduler: two instances started, one runs the jobs, the other takes
over when it stops; a time slot is never run twice, whoever tries."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.jobs.registry import Job
from cert_share.jobs.runs import claim_slot, run_job, slot_start
from cert_share.jobs.scheduler import Scheduler
from cert_share.models import JobRun, SchedulerLease
from tests.integration.waiting import wait_until


def runs(app) -> list[JobRun]:
    with app.app_context():
        result = list(db.session.execute(select(JobRun).order_by(JobRun.id)).scalars())
        db.session.expunge_all()
        return result


def tick_job(calls: list) -> Job:
    def tick(session, now):
        calls.append(now)
        return "tick"

    return Job(name="tick", fn=tick, interval_setting="JOB_TICK_MINUTES", help="test")


class Running:
    """A scheduler instance in a thread, as `cert-share scheduler run` would run it."""

    def __init__(self, app, job: Job, holder: str):
        # A one-second slot keeps the test short; real jobs run every few minutes.
        app.config[job.interval_setting] = 1 / 60
        self.scheduler = Scheduler(app, jobs={job.name: job}, holder=holder, poll_seconds=0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.scheduler.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def halt(self):
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def test_slot_boundaries_are_the_same_for_every_instance():
    now = utcnow().replace(hour=10, minute=7, second=31, microsecond=123)
    assert slot_start(now, 5) == now.replace(minute=5, second=0, microsecond=0)
    assert slot_start(now, 1440) == now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert slot_start(now + timedelta(minutes=3), 5) == slot_start(now, 5) + timedelta(minutes=5)


def test_a_slot_is_claimed_once_even_by_two_schedulers(app):
    slot = slot_start(utcnow(), 5)
    with app.app_context():
        first = claim_slot(db.session, "publish-warnings", slot, holder="a")
    with app.app_context():
        second = claim_slot(db.session, "publish-warnings", slot, holder="b")
        third = claim_slot(db.session, "publish-warnings", slot + timedelta(minutes=5), holder="b")
    assert first is not None and second is None and third is not None


def test_two_instances_racing_for_the_same_slot_run_the_job_once(app):
    calls: list = []
    job = tick_job(calls)
    now = utcnow()
    slot = slot_start(now, 5)
    barrier = threading.Barrier(4)
    results = []

    def contender(i):
        with app.app_context():
            barrier.wait()
            results.append(run_job(db.session, job, now=now, holder=f"h{i}", slot=slot))

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(calls) == 1
    assert sorted(r is None for r in results) == [False, True, True, True]
    [run] = runs(app)
    assert (run.status, run.summary) == ("ok", "tick")


def test_only_one_of_two_schedulers_runs_jobs_and_the_other_takes_over(app):
    calls: list = []
    job = tick_job(calls)
    first = Running(app, job, holder="first")
    try:
        wait_until(lambda: first.scheduler.leading.is_set(), what="the first scheduler to lead")
        second = Running(app, job, holder="second")
        try:
            # While the first runs several slots, the second only stands by.
            started = len([r for r in runs(app) if r.holder == "first"])
            wait_until(lambda: len([r for r in runs(app) if r.holder == "first"]) >= started + 3,
                       what="three more runs by the first scheduler")
            assert not second.scheduler.leading.is_set()
            assert {r.holder for r in runs(app)} == {"first"}
            with app.app_context():
                assert db.session.get(SchedulerLease, "scheduler").holder == "first"

            first.halt()
            wait_until(lambda: second.scheduler.leading.is_set(), what="the second scheduler to take over")
            wait_until(lambda: any(r.holder == "second" for r in runs(app)), what="a run by the second")
            with app.app_context():
                assert db.session.get(SchedulerLease, "scheduler").holder == "second"
        finally:
            second.halt()
    finally:
        first.halt()
    all_runs = runs(app)
    slots = [r.slot_start for r in all_runs]
    assert len(slots) == len(set(slots)), "a slot ran twice"
    assert len(calls) == len(all_runs) and all(r.status == "ok" for r in all_runs)
    with app.app_context():
        assert db.session.get(SchedulerLease, "scheduler").holder is None  # released on stop


def test_a_failing_job_is_recorded_and_the_scheduler_keeps_going(app):
    def explode(session, now):
        raise RuntimeError("feed server on fire")

    job = Job(name="explode", fn=explode, interval_setting="JOB_EXPLODE_MINUTES", help="")
    running = Running(app, job, holder="solo")
    try:
        wait_until(lambda: len(runs(app)) >= 2, what="two failed runs")
    finally:
        running.halt()
    assert all(r.status == "failed" and "feed server on fire" in r.error for r in runs(app))


def test_without_a_lock_file_the_lease_row_decides_and_expires(app):
    from cert_share.jobs.lock import SchedulerLock

    with app.app_context():
        engine = db.engine
    a = SchedulerLock(engine, holder="a", ttl_seconds=60)
    b = SchedulerLock(engine, holder="b", ttl_seconds=60)
    a._lock = b._lock = None  # as for an in-memory SQLite database
    t0 = utcnow()
    assert a.try_acquire(t0)
    assert not b.try_acquire(t0 + timedelta(seconds=30))
    assert a.heartbeat(t0 + timedelta(seconds=50))  # renewed until t0 + 110 s
    assert not b.try_acquire(t0 + timedelta(seconds=100))
    # a died without releasing: once its lease runs out, b takes over and a has lost it.
    assert b.try_acquire(t0 + timedelta(seconds=111))
    assert not a.heartbeat(t0 + timedelta(seconds=112)) and not a.held
    b.release()
    assert a.try_acquire(t0 + timedelta(seconds=113))
    a.release()


def test_run_history_is_kept_for_a_month(app):
    calls: list = []
    job = tick_job(calls)
    now = utcnow()
    with app.app_context():
        for days_ago in (40, 31, 29, 1):
            run_job(db.session, job, now=now - timedelta(days=days_ago), holder="h", keep_days=None)
        run_job(db.session, job, now=now, holder="h")
    kept = sorted(round((now - r.started_at).total_seconds() / 86400) for r in runs(app))
    assert kept == [0, 1, 29]
