#!/bin/sh
# A long run of the property-based tests (tests/fuzz): the "bench" Hypothesis profile, a hundred
# times the examples of `make test`, failures shrunk to a minimal example.
#
#   bench/fuzz.sh                          # SQLite, a new random seed (printed at start and end)
#   HYPOTHESIS_SEED=123 bench/fuzz.sh      # replay one run's examples
#   TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test bench/fuzz.sh
#   bench/fuzz.sh -k tlp                   # one property; extra arguments go to pytest
#
# About an hour on two cores. The output goes to bench/results/fuzz-<date>.log as well.
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/results
log="bench/results/fuzz-$(date -u +%Y%m%dT%H%M%SZ).log"
HYPOTHESIS_PROFILE=bench .venv/bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile \
    --hypothesis-show-statistics tests/fuzz "$@" 2>&1 | tee "$log"
