"""Hypothesis budgets and the run's seed for the property-based tests under tests/fuzz.

Two settings profiles, chosen by the environment variable HYPOTHESIS_PROFILE:

* ``ci`` (the default): what ``make test`` runs, a few dozen examples per property, so that the
  whole fuzz suite stays under a minute on two cores;
* ``debug``: the same examples as ``ci``, and a failure is shrunk to a minimal example;
* ``bench``: a hundred times the examples, shrunk, for a long run (bench/fuzz.sh).

One seed drives every property of a run. It is HYPOTHESIS_SEED (or pytest's --hypothesis-seed)
when given, else a random one chosen once by the pytest process that starts the run and passed to
the xdist workers through the environment; it is printed in the header and again in the summary,
so that ``HYPOTHESIS_SEED=<seed> pytest tests/fuzz`` replays a failing run example for example.
The example database is off: with it, a run would also depend on the examples an earlier run saved.
"""
from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, Phase, seed, settings

SEED_VARIABLE = "HYPOTHESIS_SEED"
PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
_BASE_EXAMPLES = 100

_common = {"deadline": None, "database": None, "derandomize": False, "print_blob": True,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
# Shrinking a failure of these properties (a database per test, requests of up to a megabyte) can
# take minutes: ``make test`` reports the failing example as found; ``debug`` shrinks it.
_NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
settings.register_profile("ci", max_examples=_BASE_EXAMPLES, phases=_NO_SHRINK, **_common)
settings.register_profile("debug", max_examples=_BASE_EXAMPLES, **_common)
settings.register_profile("bench", max_examples=_BASE_EXAMPLES * 100, **_common)
settings.load_profile(os.environ.get(PROFILE_VARIABLE, "ci"))


def examples(n: int) -> int:
    """A property's budget: ``n`` examples in the ci profile, scaled with the loaded profile."""
    return max(1, n * settings().max_examples // _BASE_EXAMPLES)


def run_seed() -> int | str:
    """The seed of this run (chosen by :func:`choose_seed` when nobody gave one)."""
    value = os.environ.get(SEED_VARIABLE) or str(choose_seed())
    return int(value) if value.isdigit() else value


def choose_seed(given: str | None = None) -> int | str:
    """Fix the run's seed once, in the environment that the xdist workers inherit."""
    if given is not None:
        os.environ[SEED_VARIABLE] = str(given)
    elif not os.environ.get(SEED_VARIABLE):
        os.environ[SEED_VARIABLE] = str(random.SystemRandom().randrange(2**32))
    return run_seed()


def seeded(test):
    """Hypothesis' @seed with the run's seed: the same seed gives the same examples."""
    return seed(run_seed())(test)


# --- pytest hooks, imported by tests/conftest.py (the controller of an xdist run loads only that one)

def pytest_configure(config):
    if getattr(config, "workerinput", None) is None:  # the controller (or a run without xdist)
        choose_seed(config.getoption("hypothesis_seed", default=None))


def _seed_line() -> str:
    profile = os.environ.get(PROFILE_VARIABLE, "ci")
    return f"hypothesis seed: {run_seed()} (profile {profile}; replay with {SEED_VARIABLE}={run_seed()})"


def pytest_report_header(config):
    return _seed_line()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminalreporter.write_line(_seed_line())
