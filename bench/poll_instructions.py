"""Instructions per TAXII poll (valgrind callgrind): what an incremental poll and a full page cost
the server, in a measure that does not move with the load on a shared machine.

Loads --objects indicators into ``all-members`` (SQLite in a temp dir), then runs TAXII GETs
in-process (the app called as a WSGI server calls it, a member's HTTP Basic credentials, as
taxii2-client sends them) under callgrind twice — with N requests after 20 warm-up requests, and with none — and prints
the difference divided by N, for two requests:

- the incremental poll: ``added_after`` = the date_added of the 50th object from the end,
  ``limit=100`` (50 objects back);
- a full page: the first ``limit=1000`` page, per object served.

Needs ``valgrind`` (Debian's package); takes a few minutes. Usage::

    .venv/bin/python bench/poll_instructions.py [--objects 10000] [--polls 100] [--pages 10] \
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

On PostgreSQL the count is the server process's (this bench's Python, the driver) only: the
database server's own work runs in another process, outside callgrind.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch_db import add_argument, date_added_near_end, is_postgresql, label, scratch_database  # noqa: E402

GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"

# The measured program: what runs under valgrind. The app is called as gunicorn calls it, with
# the environ a WSGI server builds (made once by werkzeug's EnvironBuilder): the Flask test
# client's own work (building the environ, wrapping the response, its cookie jar) is the
# client's, not the server's, and would be counted per request.
CHILD = """
import base64, io, os
from werkzeug.test import EnvironBuilder
import gc
from cert_share import create_app
app = create_app()
gc.freeze()  # as worker_app() does in a server: a full collection would walk the app's objects, when it happens to run
basic = base64.b64encode((os.environ["BENCH_SLUG"] + ":" + os.environ["BENCH_TOKEN"]).encode()).decode()
headers = {"Authorization": "Basic " + basic, "Accept": "application/taxii+json;version=2.1"}
url = "/taxii2/api/collections/" + os.environ["BENCH_COLLECTION"] + "/objects/"
environ = EnvironBuilder(path=url, query_string=os.environ["BENCH_QUERY"], headers=headers,
                         base_url="http://127.0.0.1:8000/").get_environ()
for i in range(20 + int(os.environ["BENCH_REQUESTS"])):
    status = []
    body = b"".join(app(dict(environ, **{"wsgi.input": io.BytesIO()}), lambda s, h, e=None: status.append(s)))
    assert status[0].startswith("200") and b'"objects"' in body, (status, body[:300])
"""


def indicators(n: int) -> list[dict]:
    out = []
    for i in range(n):
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        out.append({"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                    "created": "2026-01-05T10:00:00.000Z", "modified": "2026-01-05T10:00:00.000Z",
                    "name": f"scanner {ip}", "indicator_types": ["malicious-activity"],
                    "pattern": f"[ipv4-addr:value = '{ip}']", "pattern_type": "stix",
                    "valid_from": "2026-01-05T10:00:00Z", "object_marking_refs": [GREEN]})
    return out


def prepare(env: dict, objects: int) -> dict:
    """Migrate, create the CERT and a member with a token, load the objects; return the names."""
    code = """
import json, os, sys
sys.path.insert(0, {bench!r})
from poll_instructions import indicators
from cert_share import create_app
from cert_share.extensions import db
from cert_share.schema_upgrade import upgrade
from cert_share.services.organizations import create_organization
from cert_share.services.tokens import issue_token
from cert_share.store.collections import by_alias
from cert_share.store.stix_objects import add_objects
app = create_app()
with app.app_context():
    upgrade(app)
    cert = create_organization(db.session, name="National CERT", sector="government-national", kind="cert")
    bank = create_organization(db.session, name="Bench Bank", sector="financial-services")
    _, token = issue_token(db.session, bank, "bench")
    coll = by_alias(db.session, "all-members")
    out = {{"slug": bank.slug, "token": token, "collection": coll.id}}
    n = int(os.environ["BENCH_OBJECTS"])
    for i in range(0, n, 5000):
        add_objects(db.session, coll, indicators(min(5000, n - i)), owner_org_id=cert.id)
        db.session.commit()
        coll = by_alias(db.session, "all-members")
print(json.dumps(out))
""".format(bench=str(ROOT / "bench"))
    run = subprocess.run([sys.executable, "-c", code], env=dict(env, BENCH_OBJECTS=str(objects)), cwd=ROOT,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-3000:])
    import json
    return json.loads(run.stdout.strip().splitlines()[-1])


def instructions(env: dict, query: str, requests: int, out: Path) -> int:
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", CHILD],
        env=dict(env, BENCH_QUERY=query, BENCH_REQUESTS=str(requests)), cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-3000:])
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--polls", type=int, default=100, help="incremental polls measured")
    parser.add_argument("--pages", type=int, default=10, help="full pages of 1000 measured")
    add_argument(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cert-share-poll-ir-"))
    with scratch_database(args.database_url, tmp) as url:
        measure(args, tmp, url)


def measure(args: argparse.Namespace, tmp: Path, url: str) -> None:
    env = dict(os.environ, DATABASE_URL=url, CERT_SHARE_ENV="production",
               BASE_URL="https://share.cert.example", SECRET_KEY="bench-" + "x" * 40, SCHEDULER_ENABLED="0",
               TAXII_PAGE_SIZE="1000",
               TAXII_RATE_LIMIT="1000000 per minute",  # measures the request, not the per-token limit
               # The consumption log is written once, as the process stops, instead of every 5 s of wall
               # time: under callgrind (≈ 50× slower) a run saw as many flushes as the machine's load
               # made seconds, which moved the per-poll count by ±0.6 M. One flush of N rows is still
               # counted, divided among the N polls.
               TAXII_POLL_LOG_SECONDS="86400",
               # The same hash seed in every run: str hashes decide dicts' and sets' probes, which
               # otherwise move the count from one run to the next.
               PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"),
               PYTHONPATH=str(ROOT))
    names = prepare(env, args.objects)
    if is_postgresql(url):
        # Statistics for the planner, as autovacuum would gather them after a bulk load.
        from sqlalchemy import create_engine, text

        from cert_share import _normalize_db_url

        engine = create_engine(_normalize_db_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()
    print(f"database: {label(url)}; {args.objects:,} objects", flush=True)
    env.update(BENCH_SLUG=names["slug"], BENCH_TOKEN=names["token"], BENCH_COLLECTION=names["collection"])
    after = date_added_near_end(url)
    poll = f"added_after={after}&limit=100"
    without = instructions(env, poll, 0, tmp / "cg.poll.0")
    with_polls = instructions(env, poll, args.polls, tmp / "cg.poll.1")
    print(f"GET objects/?added_after=…&limit=100 (50 objects, {args.objects:,} in the collection): "
          f"{(with_polls - without) / args.polls / 1e6:.2f} M instructions per poll ({args.polls} polls, callgrind)")
    page = "limit=1000"
    without = instructions(env, page, 0, tmp / "cg.page.0")
    with_pages = instructions(env, page, args.pages, tmp / "cg.page.1")
    print(f"GET objects/?limit=1000 (a full page): {(with_pages - without) / args.pages / 1000 / 1e3:.1f} k "
          f"instructions per object served ({args.pages} pages, callgrind)")


if __name__ == "__main__":
    main()
