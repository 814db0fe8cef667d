"""Which intake statement grows over a long run? Every SQL statement of ``POST /api/v1/incidents``,
grouped by text, for the first ``--window`` reports of a run against the last ``--window``:
calls, rows and milliseconds per report (issue 14: on PostgreSQL intake latency drifted upward
in the soak while SQLite stayed flat).

In-process (Flask test client), no scheduler, no pollers: ``--total`` reports with the soak's
mix (bench/soak.py ``Reports``): three fresh observables each, one in four also carries one of
five hot addresses, one in ten a domain another organization reported a little earlier, from
``--orgs`` organizations over six sectors. On PostgreSQL it also prints the tables' dead row
versions and the publication clock's size (pages, HOT chain) at the start and the end. Usage::

    .venv/bin/python bench/intake_statements.py [--total 3000] [--window 300] [--orgs 12]
    ... [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import cli_line  # noqa: E402
from bench.scratch_db import add_argument, is_postgresql, label, scratch_database  # noqa: E402

SECTORS = ("financial-services", "telecommunications", "energy", "healthcare", "transportation",
           "infrastructure-water")
HOT = tuple(f"203.0.113.{i}" for i in range(1, 6))
PARAMS = re.compile(r"(%\([^)]+\)s|\?)(\s*,\s*(%\([^)]+\)s|\?))+")


def shape(statement: str) -> str:
    """The statement's text with an expanded IN list as one placeholder."""
    return " ".join(PARAMS.sub("…", statement).split())


def set_up(env: dict, orgs: int) -> list[str]:
    def cli(*argv: str) -> str:
        return cli_line(env, *argv)

    cli("db", "upgrade")
    tokens = []
    for n in range(orgs):
        slug = cli("org", "add", "--name", f"Bench Member {n}", "--sector", SECTORS[n % len(SECTORS)])
        tokens.append(cli("token", "add", "--org", slug))
    return tokens


def pg_state(conn) -> dict:
    from sqlalchemy import text

    dead = {r[0]: (r[1], r[2]) for r in conn.execute(text(
        "SELECT relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE n_dead_tup > 0 OR n_live_tup > 0"))}
    clock_pages = conn.execute(text("SELECT pg_relation_size('stix_clock') / 8192")).scalar_one()
    clock_index_pages = conn.execute(text(
        "SELECT sum(pg_relation_size(indexrelid)) / 8192 FROM pg_index WHERE indrelid = 'stix_clock'::regclass"
    )).scalar_one()
    waiting = conn.execute(text(
        "SELECT state, count(*) FROM pg_stat_activity WHERE datname = current_database() GROUP BY state")).all()
    return {"dead": dead, "clock_pages": clock_pages, "clock_index_pages": clock_index_pages, "activity": waiting}


def explain_clock(conn) -> str:
    from sqlalchemy import text

    conn.execute(text("BEGIN"))
    plan = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) UPDATE stix_clock SET id = 1 WHERE id = 1 "
                             "RETURNING last_date_added")).scalars().all()
    conn.execute(text("ROLLBACK"))
    return " / ".join(line.strip() for line in plan if "Buffers" in line or "Time" in line or "Scan" in line)


def explain_prepared(url: str, statement: str, parameters: dict) -> str:
    """EXPLAIN of a statement as a connection runs it once psycopg has prepared it (its 6th run
    on that connection): PostgreSQL's generic plan, kept for later runs, against the custom plan
    of the same values."""
    import psycopg
    from sqlalchemy.engine import make_url

    names: list[str] = []

    def placeholder(match: re.Match) -> str:
        names.append(match.group(1))
        return f"${len(names)}"

    numbered = re.sub(r"%\(([^)]+)\)s", placeholder, statement)
    out = []
    raw = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(raw, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute(f"PREPARE probe AS {numbered}")
        values = ", ".join(["%s"] * len(names))
        for mode in ("force_custom_plan", "force_generic_plan"):
            conn.execute(f"SET plan_cache_mode = {mode}")
            plan = [r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE probe({values})",
                                               [parameters[n] for n in names])]
            out.append(f"\n  {mode}:\n    " + "\n    ".join(plan))
    return "".join(out)


def print_app_plans(engine, last: dict, texts: list[str]) -> None:
    """The plans the run's own connection holds for these statements (psycopg prepares a statement
    on its 6th run on a connection; PostgreSQL then keeps a generic plan once it judges it no
    worse than the custom ones), run again with the latest parameters."""
    import psycopg

    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        cur = psycopg.ClientCursor(conn)
        for text_ in texts:
            statement, parameters = last[text_]
            cur.execute("SELECT name, generic_plans, custom_plans, statement FROM pg_prepared_statements")
            mine = [r for r in cur.fetchall() if shape(re.sub(r"\$\d+", "%(p)s", r[3])) == shape(
                re.sub(r"%\(([^)]+)\)s", "%(p)s", statement))]
            print(f"\n`{text_[:100]}` on the run's connection: prepared {[(n, g, c) for n, g, c, _ in mine]}")
            for name, _, _, _ in mine[:1]:
                names = re.findall(r"%\(([^)]+)\)s", statement)
                values = ", ".join(["%s"] * len(names))
                plan = [r[0] for r in cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({values})",
                                                  [parameters[n] for n in names])]
                print("    " + "\n    ".join(plan))
        conn.rollback()
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--window", type=int, default=300, help="reports compared at each end")
    parser.add_argument("--orgs", type=int, default=12)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--explain", type=int, default=2, help="statements (most grown first) to EXPLAIN at the end")
    add_argument(parser)
    args = parser.parse_args()
    if "BENCH_TOKENS" in os.environ:
        run(args, os.environ["BENCH_URL"], os.environ["BENCH_TOKENS"].split(","))
        return
    tmp = Path(tempfile.mkdtemp(prefix="cs-bench-statements-"))
    with scratch_database(args.database_url, tmp) as url:
        env = dict(os.environ, DATABASE_URL=url, CERT_SHARE_ENV="production", BASE_URL="https://share.cert.example",
                   SECRET_KEY="bench-" + "x" * 40, SCHEDULER_ENABLED="0", API_RATE_LIMIT="1000000 per minute",
                   PYTHONPATH=str(ROOT))
        tokens = set_up(env, args.orgs)
        print(f"database: {label(url)}; load: {os.popen('uptime').read().strip()}", flush=True)
        # A process of its own: the settings are read from the environment when cert_share is imported.
        subprocess.run([sys.executable, __file__, *sys.argv[1:]], cwd=ROOT, check=True,
                       env=dict(env, BENCH_TOKENS=",".join(tokens), BENCH_URL=url))


def soak_body(k: int, org: int, seeds: list[tuple[str, int]]) -> dict:
    """Report ``k`` of bench/soak.py's mix, from organization ``org``."""
    from bench.intake import report_body

    body = report_body(1_000_000 + k) | {"title": f"Statements report {k}"}
    if k % 4 == 1:
        body["observables"].append({"type": "ipv4-addr", "value": HOT[k % len(HOT)]})
    if k % 10 == 5:
        seeds.append((f"shared-{k}.statements.example", org % len(SECTORS)))
        body["observables"].append({"type": "domain-name", "value": seeds[-1][0]})
    elif k % 10 == 0:
        pair = next((s for s in seeds if s[1] != org % len(SECTORS)), None)
        if pair:
            seeds.remove(pair)
            body["observables"].append({"type": "domain-name", "value": pair[0]})
    return body


def run(args, url: str, tokens: list[str]) -> None:
    from sqlalchemy import event

    from cert_share import create_app
    from cert_share.extensions import db

    app = create_app()
    client = app.test_client()
    stats: dict[str, list[list[float]]] = defaultdict(lambda: [[0, 0, 0.0], [0, 0, 0.0]])  # calls, rows, s
    phase = {"at": None}
    last: dict[str, tuple] = {}  # each statement's text and its latest parameters
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        if phase["at"] is None:
            return
        key = shape(statement)
        last[key] = (statement, parameters)
        entry = stats[key][phase["at"]]
        entry[0] += 1
        entry[1] += max(cursor.rowcount, 0)
        entry[2] += time.perf_counter() - conn.info["t0"]

    postgres = is_postgresql(url)
    # Autocommit: an open transaction here would hold back the xmin horizon and be the finding.
    side = engine.connect().execution_options(isolation_level="AUTOCOMMIT") if postgres else None
    if side is not None:
        start = pg_state(side)
        print(f"clock UPDATE at start: {explain_clock(side)}")
    seeds: list[tuple[str, int]] = []
    wall = [0.0, 0.0]
    t_run = time.perf_counter()
    for k in range(args.total):
        org = (k * 7) % len(tokens)
        body = soak_body(k, org, seeds)
        phase["at"] = 0 if k < args.window else 1 if k >= args.total - args.window else None
        t = time.perf_counter()
        status = client.post("/api/v1/incidents", json=body, headers={"Authorization": "Bearer " + tokens[org]})
        if phase["at"] is not None:
            wall[phase["at"]] += time.perf_counter() - t
        assert status.status_code == 201, status.get_data(as_text=True)
    phase["at"] = None
    n = args.window
    print(f"{args.total} reports in {time.perf_counter() - t_run:.0f} s, {args.orgs} organizations; "
          f"load: {os.popen('uptime').read().strip()}")
    print(f"ms/report wall: first {n}: {wall[0] / n * 1000:.2f}; last {n}: {wall[1] / n * 1000:.2f}")
    total = [sum(s[i][2] for s in stats.values()) / n * 1000 for i in (0, 1)]
    print(f"ms/report in SQL (client side): first {total[0]:.2f}; last {total[1]:.2f}")
    print("| statement | calls/report first → last | rows/report first → last | ms/report first → last |")
    print("|---|---:|---:|---:|")
    ranked = sorted(stats.items(), key=lambda kv: -(kv[1][1][2] - kv[1][0][2]))
    for text_, (a, b) in ranked[:args.top]:
        print(f"| `{text_[:150]}` | {a[0] / n:.2f} → {b[0] / n:.2f} | {a[1] / n:.2f} → {b[1] / n:.2f} | "
              f"{a[2] / n * 1000:.3f} → {b[2] / n * 1000:.3f} |")
    if side is not None:
        print_app_plans(engine, last, [t for t, _ in ranked if t.startswith("SELECT")][:args.explain])
        end = pg_state(side)
        print(f"clock UPDATE at end: {explain_clock(side)}")
        print(f"stix_clock pages: {start['clock_pages']} → {end['clock_pages']}; its index pages: "
              f"{start['clock_index_pages']} → {end['clock_index_pages']}")
        print(f"sessions by state at end: {end['activity']}")
        for text_, _ in ranked[:args.explain]:
            print(f"\n`{text_[:100]}`, latest parameters: {explain_prepared(url, *last[text_])}")
        print("| table | live rows end | dead rows start → end |")
        print("|---|---:|---:|")
        for name, (live, dead) in sorted(end["dead"].items(), key=lambda kv: -kv[1][1])[:12]:
            print(f"| {name} | {live} | {start['dead'].get(name, (0, 0))[1]} → {dead} |")
        side.close()


if __name__ == "__main__":
    main()
