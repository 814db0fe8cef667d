"""Does a report cost more when its observables were seen before? Instructions per API report
(valgrind callgrind) for fresh observables against one observable already reported 1,000+ times,
and a long in-process intake run printing latency per batch.

Three kinds of report, each ``POST /api/v1/incidents`` with 3 observables (bench/intake.py's
bodies):
- ``fresh``: three values never seen before;
- ``hot``: the first value is one IPv4 address that two organizations (a bank and an energy
  company) have already reported ``--seen`` times between them: its community warning has that
  many sources, and each report adds one;
- ``hot-one-org``: the first value was already reported ``--seen`` times by the reporting
  organization alone (no warning: correlation reads the window of its sightings each time).

``instructions`` (default) pre-loads the sightings, then runs each kind under callgrind twice,
instrumentation switched on (callgrind_control) after ``--warmup`` reports: with ``--reports``
more, and with none; it prints the difference divided by ``--reports``.
``run`` posts ``--total`` reports whose first value cycles through
``--pool`` addresses (so each is reported more and more often, by both organizations), and prints
the wall-clock and CPU time per report for each batch of ``--batch``. Usage::

    .venv/bin/python bench/repeat_intake.py instructions [--seen 1000] [--reports 30]
    .venv/bin/python bench/repeat_intake.py run [--total 4000] [--batch 250] [--pool 20]
    ... [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import cli_line  # noqa: E402
from bench.scratch_db import add_argument, label, scratch_database  # noqa: E402

HOT = {"hot": "203.0.113.7", "hot-one-org": "203.0.113.8"}

# The measured program (also what pre-loads and what the run mode times).
CHILD = """
import os, subprocess, sys, time
sys.path.insert(0, {root!r})
from bench.intake import report_body
from cert_share import create_app
app = create_app()
client = app.test_client()
tokens = os.environ["BENCH_TOKENS"].split(",")
mode, base = os.environ["BENCH_MODE"], int(os.environ["BENCH_SEED"])
hot = {hot!r}.get(mode)
pool = int(os.environ.get("BENCH_POOL", "0"))
batch = int(os.environ.get("BENCH_BATCH", "0"))
wall = cpu = 0.0
warmup = int(os.environ.get("BENCH_WARMUP", "-1"))
for n in range(int(os.environ["BENCH_REPORTS"])):
    if n == warmup:  # under callgrind: count from here on
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
    i = base + n
    body = report_body(i)
    token = tokens[0]
    if hot:
        body["observables"][0] = {{"type": "ipv4-addr", "value": hot}}
        token = tokens[i % 2] if mode == "hot" else tokens[0]
    elif pool:
        body["observables"][0] = {{"type": "ipv4-addr", "value": f"192.0.2.{{i % pool + 1}}"}}
        token = tokens[i % 2]
    t, c = time.perf_counter(), time.process_time()
    status = client.post("/api/v1/incidents", json=body, headers={{"Authorization": "Bearer " + token}}).status_code
    wall += time.perf_counter() - t
    cpu += time.process_time() - c
    assert status == 201, status
    if batch and (n + 1) % batch == 0:
        print(f"{{n + 1}} {{wall / batch * 1000:.2f}} {{cpu / batch * 1000:.2f}}", flush=True)
        wall = cpu = 0.0
"""


def child_code() -> str:
    return CHILD.format(root=str(ROOT), hot=HOT)


def post(env: dict, mode: str, seed: int, reports: int, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", child_code()], cwd=ROOT, check=True, capture_output=True, text=True,
                          env=dict(env, BENCH_MODE=mode, BENCH_SEED=str(seed), BENCH_REPORTS=str(reports), **extra))


def instructions(env: dict, mode: str, warmup: int, reports: int, seed: int, out: Path) -> int:
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", sys.executable, "-c",
         child_code()],
        env=dict(env, BENCH_MODE=mode, BENCH_REPORTS=str(warmup + reports), BENCH_WARMUP=str(warmup),
                 BENCH_SEED=str(seed)), cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-2000:])
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def set_up(env: dict) -> None:
    def cli(*argv: str) -> str:
        return cli_line(env, *argv)

    cli("db", "upgrade")
    tokens = []
    for name, sector in (("Bench Bank", "financial-services"), ("Bench Power", "energy")):
        slug = cli("org", "add", "--name", name, "--sector", sector)
        tokens.append(cli("token", "add", "--org", slug))
    env["BENCH_TOKENS"] = ",".join(tokens)


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["instructions", "run"], nargs="?", default="instructions")
    parser.add_argument("--seen", type=int, default=1000, help="earlier reports of the hot value (instructions)")
    parser.add_argument("--reports", type=int, default=30, help="measured reports per kind (instructions)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--total", type=int, default=4000, help="reports in the run")
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--pool", type=int, default=20, help="recurring values in the run")
    add_argument(parser)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "cert_share")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="cs-bench-repeat-"))
    with scratch_database(args.database_url, tmp) as url:
        env = dict(os.environ, DATABASE_URL=url, CERT_SHARE_ENV="production", BASE_URL="https://share.cert.example",
                   SECRET_KEY="bench-" + "x" * 40, SCHEDULER_ENABLED="0", API_RATE_LIMIT="1000000 per minute",
                   PYTHONPATH=str(ROOT))
        set_up(env)
        print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; database: {label(url)}")
        print(f"load: {load()}")
        if args.what == "run":
            run = subprocess.Popen([sys.executable, "-c", child_code()], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                   env=dict(env, BENCH_MODE="pool", BENCH_SEED="0", BENCH_REPORTS=str(args.total),
                                            BENCH_POOL=str(args.pool), BENCH_BATCH=str(args.batch)))
            print(f"{args.total} reports, first value one of {args.pool} addresses (two organizations), "
                  f"3 observables each; in-process test client")
            print("| reports so far | sightings per recurring value | ms/report wall | ms/report CPU |")
            print("|---:|---:|---:|---:|")
            assert run.stdout is not None
            for line in run.stdout:
                n, wall, cpu = line.split()
                print(f"| {n} | {int(n) // args.pool} | {wall} | {cpu} |", flush=True)
            if run.wait() != 0:
                raise SystemExit("the run failed")
            print(f"load: {load()}")
            return
        for mode in HOT:  # the hot values' earlier sightings (not measured)
            post(env, mode, 10_000_000, args.seen)
        print(f"{args.seen} earlier sightings of each hot value; {args.reports} measured reports after "
              f"{args.warmup} warm-up, callgrind")
        print("| report | instructions per report |")
        print("|---|---:|")
        for k, mode in enumerate(("fresh", "hot", "hot-one-org")):
            seed = 1_000_000 * (k + 1)
            without = instructions(env, mode, args.warmup, 0, seed, tmp / f"cg.{mode}.0")
            with_reports = instructions(env, mode, args.warmup, args.reports, seed + 100_000, tmp / f"cg.{mode}.1")
            print(f"| {mode} | {(with_reports - without) / args.reports / 1e6:.1f} M |", flush=True)
        print(f"load: {load()}")


if __name__ == "__main__":
    main()
