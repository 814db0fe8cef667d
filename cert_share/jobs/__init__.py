"""Scheduled jobs: the registry, the single-instance scheduler and the ``jobs``/``scheduler`` CLI.

    registry.py    JOBS and the @job decorator; load_jobs() imports the known job modules
    runs.py        slot arithmetic and run_job(): claim the slot in job_runs, run, record
    lock.py        SchedulerLock: who may be the one active scheduler
    scheduler.py   the APScheduler set-up behind the lock
    mail_jobs.py   send-mail, send-digest
    cli.py         cert-share jobs list|run, scheduler run|status, mail dead|requeue

Importing this package starts nothing.
"""
