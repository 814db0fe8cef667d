"""The scheduler: APScheduler runs every registered job at its interval, in one process only.

Each instance loops: try the lock (``lock.py``); while it holds it, APScheduler fires the jobs
and the lock is renewed every ``poll_seconds``; otherwise it waits ``poll_seconds`` and tries
again, so a standby takes over within one poll after the active one stops or dies.
Each firing claims its epoch-aligned slot in ``job_runs`` (``runs.py``) before running, so even
two active schedulers (a split brain, a clock jump) never run the same slot twice.

Nothing here starts at import time; ``cert-share scheduler run`` builds and runs one.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta, timezone
from typing import Mapping

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from ..clock import utcnow
from ..extensions import db
from .lock import SchedulerLock
from .registry import Job, load_jobs
from .runs import run_job, slot_start

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, app: Flask, *, jobs: Mapping[str, Job] | None = None, holder: str | None = None,
                 poll_seconds: float | None = None, lock_ttl_seconds: float | None = None):
        self.app = app
        self.jobs = dict(jobs if jobs is not None else load_jobs())
        self.poll_seconds = float(poll_seconds if poll_seconds is not None
                                  else app.config["SCHEDULER_POLL_SECONDS"])
        # Validate every interval before taking the lock: a typo should stop us, not a job.
        self.intervals = {name: job.interval_minutes(app.config) for name, job in self.jobs.items()}
        with app.app_context():
            engine = db.engine
        self.lock = SchedulerLock(engine, holder=holder,
                                  ttl_seconds=lock_ttl_seconds or max(30.0, self.poll_seconds * 6))
        self.leading = threading.Event()

    @property
    def holder(self) -> str:
        return self.lock.holder

    def run(self, stop: threading.Event) -> None:
        """Wait for the lock, run the jobs while holding it; return once ``stop`` is set."""
        log.info("scheduler %s started (%s); jobs: %s", self.holder, self.lock.kind,
                 ", ".join(f"{n} every {m:g} min" for n, m in self.intervals.items()) or "none")
        announced = False
        try:
            while not stop.is_set():
                if self._try_lock():
                    self._lead(stop)
                    announced = False
                else:
                    if not announced:
                        log.info("scheduler %s standing by: another instance holds the lock", self.holder)
                        announced = True
                    stop.wait(self.poll_seconds)
        finally:
            self.lock.release()
            log.info("scheduler %s stopped", self.holder)

    def _try_lock(self) -> bool:
        try:
            return self.lock.try_acquire()
        except Exception:  # database unreachable: keep trying, do not die
            log.exception("scheduler %s could not try the lock", self.holder)
            return False

    def _lead(self, stop: threading.Event) -> None:
        aps = BackgroundScheduler(
            timezone=timezone.utc,
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        now = utcnow()
        for name, job in self.jobs.items():
            minutes = self.intervals[name]
            # Fire on slot boundaries, plus once right away for the current slot (which the
            # slot claim turns into a no-op if a previous holder already ran it).
            aps.add_job(self._fire, IntervalTrigger(seconds=minutes * 60, start_date=slot_start(now, minutes),
                                                    timezone=timezone.utc),
                        args=(job,), id=f"{name}:interval", name=name)
            aps.add_job(self._fire, DateTrigger(run_date=now, timezone=timezone.utc), args=(job,),
                        id=f"{name}:catch-up", name=f"{name} (catch-up)")
        self.leading.set()
        aps.start()
        log.info("scheduler %s is active", self.holder)
        try:
            while not stop.wait(self.poll_seconds):
                try:
                    if not self.lock.heartbeat():
                        break
                except Exception:
                    log.exception("scheduler %s could not renew its lease", self.holder)
        finally:
            self.leading.clear()
            aps.shutdown(wait=True)
            self.lock.release()

    def _fire(self, job: Job) -> None:
        if not self.leading.is_set():
            return
        with self.app.app_context():
            now = utcnow()
            try:
                # The slot of the boundary we were woken for, even if a timer wakes a hair early.
                run_job(db.session, job, now=now, holder=self.holder,
                        slot=slot_start(now + timedelta(milliseconds=5), self.intervals[job.name]))
            except Exception:  # bookkeeping failed (database down); the next slot tries again
                log.exception("scheduler %s could not run %s", self.holder, job.name)
