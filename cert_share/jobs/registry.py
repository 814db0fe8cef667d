"""The job registry: names are a contract with operators (``cert-share jobs run NAME``).

A job is ``fn(session, now) -> str`` (a one-line summary), registered with ``@job``. It runs
inside an app context, must be idempotent, and owns its transactions. Its interval comes from
the setting named by ``interval_setting`` (app config, then the environment), in minutes.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping

from sqlalchemy.orm import Session

JobFunction = Callable[[Session, datetime], str]

JOBS: dict[str, "Job"] = {}

# Modules that register jobs. Parts still being built are simply absent.
JOB_MODULES = (
    "cert_share.jobs.mail_jobs",
    "cert_share.jobs.warnings_jobs",
    "cert_share.jobs.feeds_jobs",
    "cert_share.jobs.deadline_jobs",
)


@dataclass(frozen=True)
class Job:
    name: str
    fn: JobFunction
    interval_setting: str
    default_minutes: float
    help: str

    def interval_minutes(self, config: Mapping | None = None) -> float:
        """The configured interval in minutes (config first, then environment, then default)."""
        raw = None
        if config is not None:
            raw = config.get(self.interval_setting)
        if raw is None or raw == "":
            raw = os.environ.get(self.interval_setting)
        if raw is None or raw == "":
            return float(self.default_minutes)
        try:
            minutes = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{self.interval_setting} must be a number of minutes, got {raw!r}") from None
        if not minutes > 0:
            raise ValueError(f"{self.interval_setting} must be more than 0 minutes, got {raw!r}")
        return minutes


def job(name: str, *, interval_setting: str, default_minutes: float, help: str):
    """Register ``fn(session, now) -> str`` as the job ``name``."""

    def register(fn: JobFunction) -> JobFunction:
        existing = JOBS.get(name)
        if existing is not None and existing.fn is not fn and _qualname(existing.fn) != _qualname(fn):
            raise RuntimeError(f"job {name!r} registered twice ({_qualname(existing.fn)} and {_qualname(fn)})")
        JOBS[name] = Job(name=name, fn=fn, interval_setting=interval_setting,
                         default_minutes=default_minutes, help=help)
        return fn

    return register


def load_jobs() -> dict[str, Job]:
    """Import the job modules that exist and return the registry, sorted by name."""
    for module_name in JOB_MODULES:
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that part is not built yet; anything else is a bug
                continue
            raise
    return dict(sorted(JOBS.items()))


def _qualname(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"
