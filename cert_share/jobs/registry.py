"""The job registry: names are a contract with operators (``cert-share jobs run NAME``).

A job is ``fn(session, now) -> str`` (a one-line summary), registered with ``@job``. It runs
inside an app context, must be idempotent, and owns its transactions. Its interval is the
setting named by ``interval_setting``, in minutes (declared with its default in config.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping

from ..config import minutes
from ..database import DbSession

JobFunction = Callable[[DbSession, datetime], str]

JOBS: dict[str, "Job"] = {}


@dataclass(frozen=True)
class Job:
    name: str
    fn: JobFunction
    interval_setting: str
    help: str

    def interval_minutes(self, config: Mapping) -> float:
        """The configured interval in minutes; ValueError when the setting is not a positive number."""
        return minutes(self.interval_setting, config[self.interval_setting])


def job(name: str, *, interval_setting: str, help: str):
    """Register ``fn(session, now) -> str`` as the job ``name``."""

    def register(fn: JobFunction) -> JobFunction:
        existing = JOBS.get(name)
        if existing is not None and existing.fn is not fn and _qualname(existing.fn) != _qualname(fn):
            raise RuntimeError(f"job {name!r} registered twice ({_qualname(existing.fn)} and {_qualname(fn)})")
        JOBS[name] = Job(name=name, fn=fn, interval_setting=interval_setting, help=help)
        return fn

    return register


def load_jobs() -> dict[str, Job]:
    """Import the job modules (each registers its jobs with @job) and return the registry, sorted by name."""
    # Imported here, not at the top: each job module imports @job from this module.
    from . import (  # noqa: F401 - imported for their @job registrations
        cooperation_jobs,
        deadline_jobs,
        exercise_jobs,
        feeds_jobs,
        mail_jobs,
        situation_jobs,
        warnings_jobs,
    )

    return dict(sorted(JOBS.items()))


def _qualname(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"
