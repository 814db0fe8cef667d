"""How long does an API report hold the publication clock? The ceiling it puts on writers.

Every transaction that stores STIX objects takes the single ``stix_clock`` row's lock (an
UPDATE; store/stix_objects.py) and keeps it until it commits, so the writers of all workers and
all nodes together can commit at most 1 / (hold time) such transactions a second. This bench
posts ``--reports`` reports in-process (Flask test client, bench/intake.py's bodies) and times,
per request, with SQLAlchemy engine events: the whole transaction (BEGIN → COMMIT done), the
part after the clock UPDATE (the lock held), and the COMMIT alone. Usage::

    .venv/bin/python bench/clock_hold.py [--reports 300] [--database-url postgresql://...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.intake import report_body  # noqa: E402
from bench.scratch_db import add_argument, label, scratch_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=300)
    add_argument(parser)
    args = parser.parse_args()
    with scratch_database(args.database_url, Path(tempfile.mkdtemp(prefix="cs-bench-clock-"))) as url:
        measure(args, url)


def measure(args, url: str) -> None:
    env = dict(os.environ, DATABASE_URL=url, CERT_SHARE_ENV="production", BASE_URL="https://share.cert.example",
               SECRET_KEY="bench-" + "x" * 40, SCHEDULER_ENABLED="0", API_RATE_LIMIT="1000000 per minute",
               PYTHONPATH=str(ROOT))

    def cli(*argv: str) -> str:
        out = subprocess.run([str(BIN / "cert-share"), *argv], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
        return out.splitlines()[-1] if out else ""

    cli("db", "upgrade")
    token = cli("token", "add", "--org", cli("org", "add", "--name", "Bench Bank", "--sector", "financial-services"))
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from cert_share import create_app
    from cert_share.extensions import db

    # Config read the environment when cert_share was first imported: name the settings.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": env["SECRET_KEY"], "BASE_URL": env["BASE_URL"],
                      "SCHEDULER_ENABLED": False, "RATELIMIT_ENABLED": False})
    marks: dict[str, float] = {}
    held: list[tuple[float, float, float, float, float]] = []  # begin, clock, commit sent, done; CPU held
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "begin")
        def begin(conn) -> None:
            marks.clear()
            marks["begin"] = time.perf_counter()

        @event.listens_for(engine, "before_cursor_execute")
        def statement(conn, cursor, sql, params, context, executemany) -> None:
            if sql.lstrip().upper().startswith("UPDATE STIX_CLOCK") and "clock" not in marks:
                marks["clock"], marks["clock_cpu"] = time.perf_counter(), time.thread_time()

        @event.listens_for(engine, "commit")
        def commit(conn) -> None:
            marks["commit"] = time.perf_counter()

    @event.listens_for(Session, "after_commit")
    def committed(session) -> None:
        if "clock" in marks and "commit" in marks:
            held.append((marks["begin"], marks["clock"], marks["commit"], time.perf_counter(),
                         time.thread_time() - marks["clock_cpu"]))
        marks.clear()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(20):  # warm-up
        assert client.post("/api/v1/incidents", json=report_body(i), headers=headers).status_code == 201
    held.clear()
    cpu0 = time.process_time()
    for i in range(20, 20 + args.reports):
        assert client.post("/api/v1/incidents", json=report_body(i), headers=headers).status_code == 201
    transactions = [(h[3] - h[0]) * 1000 for h in held]
    holds = [(h[3] - h[1]) * 1000 for h in held]
    hold_cpu = [h[4] * 1000 for h in held]
    commits = [(h[3] - h[2]) * 1000 for h in held]
    cpu = (time.process_time() - cpu0) / args.reports * 1000

    def row(name: str, values: list[float]) -> str:
        return f"| {name} | {statistics.median(values):.2f} | {statistics.mean(values):.2f} |"

    print(f"{label(url)}; {len(holds)} of {args.reports} API reports took the clock, in-process; "
          f"load {os.getloadavg()[0]:.1f}; "
          f"client+server CPU {cpu:.1f} ms per request")
    print("| per report | p50 ms | mean ms |")
    print("|---|---:|---:|")
    print(row("transaction (BEGIN → COMMIT returned)", transactions))
    print(row("publication clock held (clock UPDATE → COMMIT returned)", holds))
    print(row("of which this process's CPU (Python, driver; SQLite's work too)", hold_cpu))
    print(row("COMMIT alone", commits))
    print(f"ceiling for clock-taking transactions, all workers and nodes together: "
          f"{1000 / statistics.mean(holds):,.0f}/s (1 / mean hold, wall), "
          f"{1000 / statistics.mean(hold_cpu):,.0f}/s on an idle machine (1 / mean CPU held)")


if __name__ == "__main__":
    main()
