"""``run-exercises``: drills' injects go out at their time (services/exercise_delivery.py)."""
from __future__ import annotations

from datetime import datetime

from ..database import DbSession
from ..services.exercise_delivery import run_exercises as deliver
from .registry import job


@job("run-exercises", interval_setting="JOB_RUN_EXERCISES_MINUTES",
     help="Send each due inject of an open exercise, once: its STIX objects to the exercise-<slug> collection "
          "and [EXERCISE] mail to the participating organizations.")
def run_exercises(session: DbSession, now: datetime) -> str:
    return deliver(session, now)
