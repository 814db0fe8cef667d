"""Instructions per API report (valgrind callgrind): a measure of the intake path's cost that,
unlike seconds, does not move with the load on a shared machine.

Runs ``POST /api/v1/incidents`` in-process (Flask test client, SQLite in a temp dir, the same
report bodies as bench/intake.py) under callgrind twice — with N reports after 20 warm-up
reports, and with none — and prints the difference divided by N. Needs ``valgrind`` (Debian's
package); takes a few minutes. ``--database-url`` runs it on a scratch database of that
PostgreSQL server instead (the count then covers only the client side of the database: the
server's work is in another process). Usage::

    .venv/bin/python bench/intake_instructions.py [--reports 60] [--database-url postgresql://...]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.scratch_db import add_argument, label, scratch_database  # noqa: E402

# The measured program: what runs under valgrind.
CHILD = """
import os, sys
sys.path.insert(0, {bench!r})
from intake import report_body
from cert_share import create_app
app = create_app()
client = app.test_client()
headers = {{"Authorization": "Bearer " + os.environ["BENCH_TOKEN"]}}
base = int(os.environ["BENCH_SEED"])
for i in range(20 + int(os.environ["BENCH_REPORTS"])):
    assert client.post("/api/v1/incidents", json=report_body(base + i), headers=headers).status_code == 201
"""


def instructions(env: dict, reports: int, seed: int, out: Path) -> int:
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c",
         CHILD.format(bench=str(ROOT / "bench"))],
        env=dict(env, BENCH_REPORTS=str(reports), BENCH_SEED=str(seed)), cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-2000:])
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=60)
    add_argument(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cert-share-ir-"))
    with scratch_database(args.database_url, tmp) as url:
        measure(args, tmp, url)


def measure(args, tmp: Path, url: str) -> None:
    env = dict(os.environ, DATABASE_URL=url, CERT_SHARE_ENV="production",
               BASE_URL="https://share.cert.example", SECRET_KEY="bench-" + "x" * 40, SCHEDULER_ENABLED="0",
               API_RATE_LIMIT="1000000 per minute",  # measures the request, not the per-token limit
               PYTHONPATH=str(ROOT))

    def cli(*argv: str) -> str:
        out = subprocess.run([str(BIN / "cert-share"), *argv], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
        return out.splitlines()[-1] if out else ""

    cli("db", "upgrade")
    slug = cli("org", "add", "--name", "Bench Bank", "--sector", "financial-services")
    env["BENCH_TOKEN"] = cli("token", "add", "--org", slug)
    without = instructions(env, 0, 1_000_000, tmp / "cg.0")
    with_reports = instructions(env, args.reports, 2_000_000, tmp / "cg.1")
    print(f"POST /api/v1/incidents (3 observables), {label(url)}: "
          f"{(with_reports - without) / args.reports / 1e6:.1f} M instructions per report ({args.reports} reports, "
          f"callgrind; load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
