#!/usr/bin/env python
"""Soak: the platform as a national CERT sees it, for a bounded time (issue 14, target 3).

Set-up (not timed): a fresh database (``--database-url``: default a SQLite file in a temporary
directory; a PostgreSQL URL names the server, where the soak creates ``cs_soak_<pid>`` and drops
it at the end), migrated with ``cert-share db upgrade``; the CERT, ``--orgs`` (500) member
organizations spread over six sectors, each with a token, and one observer per sector, created
through the services as bench/taxii.py does; ``--sync-objects`` (100,000) indicators bulk-loaded
into ``all-members``. Then gunicorn (``-c python:cert_share.gunicorn_conf``, 2 workers, its
access log in a file) and ``cert-share scheduler run`` (every job on its production interval,
except ``publish-warnings`` every ``--publish-minutes``), and, for ``--duration`` seconds:

* every member polls with taxii2-client every ``--poll-interval`` seconds (300), the members
  staggered evenly over the interval: the list of collections, then each readable collection
  from its own ``added_after`` cursor (``X-TAXII-Date-Added-Last`` of the last page), as a SIEM
  does. The cursors start at the end of the seeding: the members were in sync before the soak;
* ``--reports-per-second`` (2) reports through ``POST /api/v1/incidents``, open loop, from
  random members, TLP:AMBER, three fresh observables each; one in four also carries one of five
  "hot" addresses (reported again and again, by every sector); one in ten carries a domain
  another member of another sector reported a little earlier: that second report raises an
  early warning to both sectors' collections;
* the scheduler's jobs; halfway through, one member's new SIEM syncs ``all-members`` from the
  start (pages of 1000 objects);
* one observer per sector polls its sector collection every ``--watch-interval`` seconds for the
  expected warnings: the time from the second report's 201 to its indicator being readable in
  every collection it targets (resolution: the watch interval).

After the load stops, the observers wait up to one publish interval and a minute more for the
warnings still due. Reported (markdown on stdout, ``--json PATH`` for the numbers): p50/p99/max
latency per route, errors (non-2xx, exceptions, tracebacks or error lines in the server's and
the scheduler's logs, failed job runs: there must be none), each worker's RSS at start and end
(``/proc/<pid>/status``; bounds ``--rss-growth-mib`` over the run and ``--rss-after-sync-mib``
from the end of the full sync to the end), the warning delay, intake latency in the
first and the last minute (issue target: within 20 %), the client's own CPU, and the 1-minute
load at start and end. Exit status 1 when an error was counted or a bound broke. Usage::

    .venv/bin/python bench/soak.py [--duration 600] [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                   [--json soak.json]
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import BIN, free_port, machine, report_body  # noqa: E402

SECTORS = ("financial-services", "telecommunications", "energy", "healthcare", "transportation",
           "infrastructure-water")
HOT = tuple(f"203.0.113.{i}" for i in range(1, 6))  # TEST-NET-3: the addresses every sector reports
PAGE = 1000
SYNC_ROUTE = "TAXII GET objects/ (full sync, 1000 a page)"
LOCAL = threading.local()  # the route label of the request a thread is about to send; its last response


def stix_now() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def code_version() -> str:
    """HEAD, and how many files under cert_share/ differ from it (the soak runs the working tree)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "cert_share", "migrations"], cwd=ROOT,
                           capture_output=True, text=True).stdout.splitlines()
    return f"{head.strip() or 'unknown'}" + (f" + {len(dirty)} uncommitted files under cert_share/ and migrations/"
                                             if dirty else "")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def top(values: list[float]) -> float:
    return max(values) if values else float("nan")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


# ---- the database -------------------------------------------------------------------------------

def is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql", "postgres:"))


def admin_sql(url: str, *statements: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from cert_share import _normalize_db_url

    engine = create_engine(make_url(_normalize_db_url(url)).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def scratch_url(url: str | None, tmp: Path) -> tuple[str, str | None]:
    """(the soak's database URL, the scratch PostgreSQL database to drop at the end or None)."""
    if not url:
        return f"sqlite:///{tmp / 'soak.db'}", None
    if not is_postgresql(url):
        return url, None
    from sqlalchemy.engine import make_url

    name = f"cs_soak_{os.getpid()}"
    admin_sql(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return make_url(url).set(database=name).render_as_string(hide_password=False), name


@dataclass
class Member:
    index: int
    slug: str
    token: str
    sector: str
    root: Any = None  # taxii2client ApiRoot, made on the first poll
    cursors: dict = field(default_factory=dict)


def prepare(args, env: dict) -> dict:
    """The CERT, the members and the observers with their tokens; the seed in all-members."""
    from sqlalchemy import text

    from bench.taxii import indicators
    from cert_share import create_app
    from cert_share.extensions import db
    from cert_share.models import Collection
    from cert_share.services.organizations import create_organization
    from cert_share.services.tokens import issue_token
    from cert_share.store.stix_objects import add_objects

    subprocess.run([str(BIN / "cert-share"), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"]})
    started = time.perf_counter()
    with app.app_context():
        cert = create_organization(db.session, name="National CERT", sector="government-national", kind="cert")
        members, observers = [], {}
        for i in range(args.orgs):
            sector = SECTORS[i % len(SECTORS)]
            org = create_organization(db.session, name=f"Soak Member {i:04d}", sector=sector)
            _, token = issue_token(db.session, org, "siem")
            members.append(Member(i, org.slug, token, sector))
        for sector in SECTORS:
            org = create_organization(db.session, name=f"Soak Observer {sector}", sector=sector)
            _, token = issue_token(db.session, org, "observer")
            observers[sector] = Member(-1, org.slug, token, sector)
        orgs_s = time.perf_counter() - started
        collections = {c.alias: c.id for c in db.session.query(Collection).all()}
        seed_started = time.perf_counter()
        cert_id = cert.id
        for i in range(0, args.sync_objects, 20_000):
            batch = indicators(min(20_000, args.sync_objects - i), start=i)
            add_objects(db.session, collections["all-members"], batch, owner_org_id=cert_id)
            db.session.commit()
            db.session.expunge_all()
        if is_postgresql(env["DATABASE_URL"]):
            # What autovacuum does within a minute of a bulk load on a production server (a test server
            # may run without it): without statistics every `next` page of the full sync anti-joins
            # all the rows after it (1.6 s instead of 14 ms a page at 100k objects, measured).
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        seed_s = time.perf_counter() - seed_started
        db.engine.dispose()
    return {"members": members, "observers": observers, "collections": collections, "orgs_s": orgs_s,
            "seed_s": seed_s, "cursor": stix_now()}


# ---- measuring ----------------------------------------------------------------------------------

class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.samples: dict[str, list[tuple[float, float]]] = defaultdict(list)  # route -> (t from t0, ms)
        self.errors: Counter = Counter()
        self.examples: list[str] = []

    def add(self, route: str, started: float, ms: float, status: int, text: str) -> None:
        with self.lock:
            self.samples[route].append((started - self.t0, ms))
            if not 200 <= status < 300:
                self.errors[(route, f"HTTP {status}")] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{route}: {status} {text[:300]}")

    def error(self, route: str, what: str) -> None:
        with self.lock:
            self.errors[(route, what)] += 1
            if len(self.examples) < 10:
                self.examples.append(f"{route}: {what}")


def instrument(session, rec: Recorder, timeout: float = 300):
    """Time every request the session sends (body read included), under the thread's route label."""
    send = session.request

    def request(method, url, **kwargs):
        kwargs.setdefault("timeout", timeout)
        route = getattr(LOCAL, "route", f"{method} {url}")
        started = time.monotonic()
        try:
            response = send(method, url, **kwargs)
        except Exception as exc:  # a connection refused or reset, a timeout: counted, then raised
            rec.error(route, type(exc).__name__)
            raise
        rec.add(route, started, (time.monotonic() - started) * 1000, response.status_code,
                response.text if response.status_code >= 300 else "")
        LOCAL.response = response
        return response

    session.request = request
    return session


def api_root(member: Member, base: str, rec: Recorder):
    from taxii2client.v21 import ApiRoot

    if member.root is None:
        member.root = ApiRoot(f"{base}/taxii2/api/", user=member.slug, password=member.token)
        instrument(member.root._conn.session, rec)
    return member.root


def read_since(collection, cursor: str | None, route: str):
    """Every page of ``collection`` after ``cursor`` (all of it when None): (objects, new cursor)."""
    from taxii2client.v21 import as_pages

    LOCAL.route = route
    objects: list[dict] = []
    kwargs = {"added_after": cursor} if cursor else {}
    for envelope in as_pages(collection.get_objects, per_request=PAGE, **kwargs):
        page = envelope.get("objects") or []
        objects += page
        last = LOCAL.response.headers.get("X-TAXII-Date-Added-Last")
        if page and last:
            cursor = last
    return objects, cursor


def poll(member: Member, base: str, rec: Recorder, start_cursor: str) -> int:
    """One SIEM cycle: the collections, then every readable one from its cursor."""
    root = api_root(member, base, rec)
    LOCAL.route = "TAXII GET collections/"
    root.refresh_collections()
    seen = 0
    for coll in root.collections:
        if coll.can_read:
            objects, member.cursors[coll.id] = read_since(coll, member.cursors.get(coll.id, start_cursor),
                                                          "TAXII GET objects/ (poll, added_after)")
            seen += len(objects)
    return seen


class Warnings:
    """Reports that should raise a warning, and when each target collection first showed it."""

    def __init__(self, observers: dict, collections: dict, base: str, rec: Recorder, interval: float, cursor: str):
        self.observers, self.collections, self.base, self.rec = observers, collections, base, rec
        self.interval, self.cursors = interval, {s: cursor for s in observers}
        self.lock = threading.Lock()
        self.expected: dict[str, dict] = {}  # value -> {acked, targets: {sector: seen-at or None}}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def expect(self, value: str, sectors: set[str], acked: float) -> None:
        with self.lock:
            self.expected[value] = {"acked": acked, "targets": {s: None for s in sectors}}

    def outstanding(self) -> set[str]:
        with self.lock:
            return {s for e in self.expected.values() for s, seen in e["targets"].items() if seen is None}

    def run(self) -> None:
        from taxii2client.v21 import Collection

        colls = {}
        for sector, observer in self.observers.items():
            coll = Collection(f"{self.base}/taxii2/api/collections/{self.collections[f'sector-{sector}']}/",
                              user=observer.slug, password=observer.token)
            instrument(coll._conn.session, self.rec)
            colls[sector] = coll
        while not self.stop.wait(self.interval):
            for sector in sorted(self.outstanding()):
                try:
                    objects, self.cursors[sector] = read_since(colls[sector], self.cursors[sector],
                                                               "TAXII GET objects/ (observer, added_after)")
                except Exception:  # noqa: BLE001 - counted by the recorder; the watch goes on
                    continue
                now = time.monotonic()
                patterns = [o.get("pattern", "") for o in objects if o.get("type") == "indicator"]
                with self.lock:
                    for value, e in self.expected.items():
                        if e["targets"].get(sector, 0) is None and any(f"'{value}'" in p for p in patterns):
                            e["targets"][sector] = now

    def delays(self) -> tuple[list[float], int]:
        """Seconds from the 201 to readable in every target; how many never became readable."""
        done, missing = [], 0
        with self.lock:
            for e in self.expected.values():
                seen = list(e["targets"].values())
                if all(s is not None for s in seen):
                    done.append(max(seen) - e["acked"])
                else:
                    missing += 1
        return done, missing


class Reports:
    """Open-loop intake at a fixed rate; some reports share a domain with an earlier one from
    another sector (a warning is expected), some carry a hot address."""

    def __init__(self, members: list[Member], base: str, rec: Recorder, warnings: Warnings, rate: float):
        self.members, self.base, self.rec, self.warnings, self.rate = members, base, rec, warnings, rate
        self.rng = random.Random(14)
        self.lock = threading.Lock()
        self.seeds: list[tuple[str, str]] = []  # (domain, sector) reported once, waiting for a second reporter
        self.sessions: dict[int, object] = {}
        self.sent = self.paired = 0
        self.lag = 0.0  # the most a report was sent behind its schedule

    def session(self):
        import requests

        key = threading.get_ident()
        if key not in self.sessions:
            self.sessions[key] = instrument(requests.Session(), self.rec)
        return self.sessions[key]

    def post(self, k: int, due: float) -> None:
        self.lag = max(self.lag, time.monotonic() - due)
        member = self.members[self.rng.randrange(len(self.members))]
        body = report_body(1_000_000 + k) | {"title": f"Soak report {k}"}
        seed = pair = None
        if k % 4 == 1:
            body["observables"].append({"type": "ipv4-addr", "value": HOT[k % len(HOT)]})
        if k % 10 == 5:
            seed = f"shared-{k}.soak.example"
            body["observables"].append({"type": "domain-name", "value": seed})
        elif k % 10 == 0:
            with self.lock:
                pair = next((s for s in self.seeds if s[1] != member.sector), None)
                if pair:
                    self.seeds.remove(pair)
            if pair:
                body["observables"].append({"type": "domain-name", "value": pair[0]})
        LOCAL.route = "API POST /api/v1/incidents"
        try:
            response = self.session().post(f"{self.base}/api/v1/incidents", json=body,
                                           headers={"Authorization": f"Bearer {member.token}"})
        except Exception:  # noqa: BLE001 - counted by the recorder
            return
        with self.lock:
            self.sent += 1
        if response.status_code != 201:
            return
        if seed:
            with self.lock:
                self.seeds.append((seed, member.sector))
        if pair:
            self.paired += 1
            self.warnings.expect(pair[0], {pair[1], member.sector}, time.monotonic())


# ---- processes ----------------------------------------------------------------------------------

def workers_of(master: int) -> list[int]:
    try:
        return sorted(int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split())
    except OSError:
        return []


def rss_mib(pid: int) -> dict:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def wait_ready(base: str, proc: subprocess.Popen, log: Path) -> None:
    import requests

    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: see {log}")
        try:
            if requests.get(f"{base}/api/v1/openapi.json", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)  # a server process starting
    raise RuntimeError(f"gunicorn did not serve within 60 s: see {log}")


ERROR_LINE = re.compile(r'Traceback|"level": ?"(ERROR|CRITICAL)"|\b(ERROR|CRITICAL)\b')


def log_errors(path: Path) -> list[str]:
    try:
        return [line.strip()[:300] for line in path.read_text(errors="replace").splitlines() if ERROR_LINE.search(line)]
    except OSError:
        return []


def database_counts(url: str) -> dict:
    from sqlalchemy import create_engine, text

    from cert_share import _normalize_db_url

    engine = create_engine(_normalize_db_url(url))
    with engine.connect() as conn:
        jobs = conn.execute(text("SELECT job, status, count(*) FROM job_runs GROUP BY job, status ORDER BY job")).all()
        failed = conn.execute(text("SELECT job, error FROM job_runs WHERE status = 'failed'")).all()
        warnings = conn.execute(text("SELECT state, count(*) FROM warnings GROUP BY state")).all()
        incidents = conn.execute(text("SELECT count(*) FROM incidents")).scalar()
        dead = []
        if conn.dialect.name == "postgresql":
            # The tables whose dead row versions piled up most (what autovacuum would have cleared).
            dead = [tuple(row) for row in conn.execute(text(
                "SELECT relname, n_live_tup, n_dead_tup, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                "ORDER BY n_dead_tup DESC LIMIT 6")).all()]
    engine.dispose()
    return {"jobs": {f"{j} {s}": n for j, s, n in jobs}, "failed_jobs": [f"{j}: {(e or '')[:200]}" for j, e in failed],
            "warnings": dict(warnings), "incidents": incidents, "dead_tuples": dead}


# ---- the run ------------------------------------------------------------------------------------

class Load:
    """The members' polls, the reports and the full sync, for ``args.duration`` seconds from now."""

    def __init__(self, args, base: str, setup: dict, rec: Recorder, warnings: Warnings):
        self.args, self.base, self.setup, self.rec = args, base, setup, rec
        self.members, self.cursor = setup["members"], setup["cursor"]
        self.reports = Reports(self.members, base, rec, warnings, args.reports_per_second)
        self.stop = threading.Event()
        self.end = rec.t0 + args.duration
        self.lock = threading.Lock()
        self.polled: Counter = Counter()
        self.poll_lag = 0.0
        self.sync: dict = {}
        self.rss: list[tuple[float, dict[int, float]]] = []  # (t from t0, worker pid -> RSS MiB), every 10 s

    def sample_rss(self, workers: list[int]) -> None:
        while True:
            self.rss.append((time.monotonic() - self.rec.t0, {pid: rss_mib(pid).get("VmRSS", 0.0) for pid in workers}))
            if time.monotonic() >= self.end or self.stop.wait(10):
                return

    def poll_one(self, member: Member, due: float) -> None:
        self.poll_lag = max(self.poll_lag, time.monotonic() - due)
        try:
            seen = poll(member, self.base, self.rec, self.cursor)
        except Exception:  # noqa: BLE001 - counted by the recorder
            with self.lock:
                self.polled["failed"] += 1
            return
        with self.lock:
            self.polled["objects"] += seen
            self.polled["cycles"] += 1

    def poll_loop(self, pool: ThreadPoolExecutor) -> None:
        """Member i polls at t0 + i × interval / members, then every interval."""
        interval = self.args.poll_interval
        due = [(self.rec.t0 + i * interval / len(self.members), i) for i in range(len(self.members))]
        heapq.heapify(due)
        while due:
            when, i = due[0]
            if when >= self.end or self.stop.wait(max(0.0, when - time.monotonic())):
                return
            heapq.heapreplace(due, (when + interval, i))
            pool.submit(self.poll_one, self.members[i], when)

    def report_loop(self, pool: ThreadPoolExecutor) -> None:
        k = 0
        while True:
            when = self.rec.t0 + k / self.args.reports_per_second
            if when >= self.end or self.stop.wait(max(0.0, when - time.monotonic())):
                return
            pool.submit(self.reports.post, k, when)
            k += 1

    def full_sync(self) -> None:
        """Halfway through, a member's new SIEM reads all-members from the start."""
        from taxii2client.v21 import Collection

        if self.stop.wait(self.args.duration / 2):
            return
        member = self.members[len(self.members) // 2]
        coll = Collection(f"{self.base}/taxii2/api/collections/{self.setup['collections']['all-members']}/",
                          user=member.slug, password=member.token)
        instrument(coll._conn.session, self.rec)
        started = time.monotonic()
        self.sync["at_s"] = started - self.rec.t0
        try:
            objects, _ = read_since(coll, None, SYNC_ROUTE)
            self.sync["objects"] = len(objects)
        except Exception as exc:  # noqa: BLE001 - counted by the recorder
            self.sync["error"] = type(exc).__name__
        self.sync["seconds"] = time.monotonic() - started

    def run(self, workers: list[int]) -> None:
        with ThreadPoolExecutor(self.args.poll_threads) as polls, \
                ThreadPoolExecutor(self.args.report_threads) as posts:
            threads = [threading.Thread(target=self.poll_loop, args=(polls,)),
                       threading.Thread(target=self.report_loop, args=(posts,)),
                       threading.Thread(target=self.full_sync),
                       threading.Thread(target=self.sample_rss, args=(workers,))]
            if self.args.vacuum_seconds and is_postgresql(self.args.database_url or ""):
                threads.append(threading.Thread(target=self.vacuum_loop))
            for t in threads:
                t.start()
            try:
                for t in threads:
                    t.join()
            finally:
                self.stop.set()


    def vacuum_loop(self) -> None:
        """VACUUM (ANALYZE) the database every --vacuum-seconds, as a production server's
        autovacuum would: the test server this bench runs on may have autovacuum off."""
        from sqlalchemy import create_engine, text

        from cert_share import _normalize_db_url

        engine = create_engine(_normalize_db_url(os.environ["DATABASE_URL"]), isolation_level="AUTOCOMMIT")
        try:
            while True:
                left = self.end - time.monotonic()
                if left <= 0 or self.stop.wait(min(self.args.vacuum_seconds, left)) or time.monotonic() >= self.end:
                    return
                with engine.connect() as conn:
                    conn.execute(text("VACUUM (ANALYZE)"))
        finally:
            engine.dispose()


def warm_up(base: str, setup: dict) -> None:
    """Not measured: each worker imports and connects on its first requests."""
    import requests

    warm = Recorder()
    for member in setup["members"][:4]:
        poll(member, base, warm, setup["cursor"])
        member.root = None
        member.cursors.clear()
        body = report_body(900_000 + member.index) | {"title": "Soak warm-up"}
        requests.post(f"{base}/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {member.token}"},
                      timeout=60).raise_for_status()


def start_processes(args, env: dict, tmp: Path) -> tuple[subprocess.Popen, subprocess.Popen]:
    """gunicorn as production runs it, and the scheduler beside it."""
    port = env["BASE_URL"].rsplit(":", 1)[1]
    with (tmp / "gunicorn.log").open("w") as out:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:cert_share.gunicorn_conf", "--workers", str(args.workers),
             "--bind", f"127.0.0.1:{port}", "wsgi:app"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    with (tmp / "scheduler.log").open("w") as out:
        scheduler = subprocess.Popen([str(BIN / "cert-share"), "scheduler", "run"], cwd=ROOT, stdout=out,
                                     env=dict(env, SCHEDULER_ENABLED="1"), stderr=subprocess.STDOUT)
    return server, scheduler


def soak(args, env: dict, setup: dict, tmp: Path) -> dict:
    base = env["BASE_URL"]
    server, scheduler = start_processes(args, env, tmp)
    rec = Recorder()
    r: dict = {}
    try:
        wait_ready(base, server, tmp / "gunicorn.log")
        warm_up(base, setup)
        workers = workers_of(server.pid)
        r.update(rss_start={pid: rss_mib(pid) for pid in workers}, scheduler_rss_start=rss_mib(scheduler.pid),
                 load_start=uptime(), code=code_version())
        rec.t0 = time.monotonic()
        cpu0 = time.process_time()
        warnings = Warnings(setup["observers"], setup["collections"], base, rec, args.watch_interval, setup["cursor"])
        warnings.thread.start()
        load = Load(args, base, setup, rec, warnings)
        load.run(workers)
        r.update(loaded_s=time.monotonic() - rec.t0, rss_end={pid: rss_mib(pid) for pid in workers},
                 workers_end=workers_of(server.pid), scheduler_rss_end=rss_mib(scheduler.pid), load_end=uptime(),
                 client_cpu_s=time.process_time() - cpu0)
        # The warnings still due: at most one publish interval, an observer's poll and a margin.
        grace_end = time.monotonic() + args.publish_minutes * 60 + 60
        while warnings.outstanding() and time.monotonic() < grace_end:
            time.sleep(1)  # the observer thread is polling
        warnings.stop.set()
        warnings.thread.join(timeout=60)
        r.update(polls=dict(load.polled), poll_lag_s=load.poll_lag, report_lag_s=load.reports.lag,
                 reports_sent=load.reports.sent, warnings_expected=load.reports.paired, sync=load.sync,
                 rss_samples=load.rss)
        r["warning_delays"], r["warnings_missing"] = warnings.delays()
    finally:
        for proc in (server, scheduler):
            proc.send_signal(signal.SIGTERM)
        for proc in (server, scheduler):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    r.update(server_log_errors=log_errors(tmp / "gunicorn.log"), scheduler_log_errors=log_errors(tmp / "scheduler.log"),
             samples=rec.samples, http_errors=rec.errors, examples=rec.examples)
    return r


def by_minute(samples: list[tuple[float, float]], seconds: float) -> list[list[float]]:
    minutes: list[list[float]] = [[] for _ in range(max(1, int(seconds // 60)))]
    for t, ms in samples:
        minutes[min(len(minutes) - 1, int(t // 60))].append(ms)
    return minutes


def around_sync(r: dict, pid: int) -> tuple[float, float]:
    """A worker's RSS at the last sample before the full sync and the first after it."""
    sync = r["sync"]
    start, end = sync.get("at_s", float("inf")), sync.get("at_s", float("inf")) + sync.get("seconds", 0)
    before = [rss[pid] for t, rss in r["rss_samples"] if t < start and pid in rss]
    after = [rss[pid] for t, rss in r["rss_samples"] if t > end and pid in rss]
    return (before[-1] if before else float("nan")), (after[0] if after else float("nan"))


def summarize(args, db_label: str, setup: dict, r: dict, counts: dict) -> tuple[str, dict, bool]:
    lines, errors = [], sum(r["http_errors"].values())
    routes = {}
    for route, samples in sorted(r["samples"].items()):
        ms = [m for _t, m in samples]
        routes[route] = {"requests": len(ms), "p50_ms": statistics.median(ms), "p99_ms": pct(ms, 99), "max_ms": max(ms),
                         "errors": sum(n for (rt, _w), n in r["http_errors"].items() if rt == route)}
    for (route, _what), _n in r["http_errors"].items():
        routes.setdefault(route, {"requests": 0, "p50_ms": float("nan"), "p99_ms": float("nan"),
                                  "max_ms": float("nan"), "errors": 0})
    intake = r["samples"].get("API POST /api/v1/incidents", [])
    first = [m for t, m in intake if t < 60]
    last = [m for t, m in intake if r["loaded_s"] - 60 <= t < r["loaded_s"]]
    growth = {pid: r["rss_end"].get(pid, {}).get("VmRSS", float("nan")) - r["rss_start"][pid]["VmRSS"]
              for pid in r["rss_start"]}
    replaced = sorted(r["rss_start"]) != r["workers_end"]
    delays, missing = r["warning_delays"], r["warnings_missing"]
    failures = {
        "errors (non-2xx, exceptions)": errors,
        "error lines in the server log": len(r["server_log_errors"]),
        "error lines in the scheduler log": len(r["scheduler_log_errors"]),
        "failed job runs": len(counts["failed_jobs"]),
        "warnings never readable": missing,
        "workers replaced": int(replaced),
        f"workers over +{args.rss_growth_mib} MiB RSS": sum(1 for g in growth.values() if not g <= args.rss_growth_mib),
        f"workers over +{args.rss_after_sync_mib} MiB RSS after the full sync": sum(  # unsampled: not counted
            1 for pid in growth if r["rss_end"].get(pid, {}).get("VmRSS", 0.0) - around_sync(r, pid)[1]
            > args.rss_after_sync_mib),
    }
    if r["sync"].get("objects", 0) < args.sync_objects:
        failures["full sync incomplete"] = 1
    ok = not any(failures.values())
    ratio = median(last) / median(first)

    lines.append(f"soak: {args.duration:.0f} s, {args.orgs} members polling every {args.poll_interval:.0f} s, "
                 f"{args.reports_per_second:g} reports/s, gunicorn {args.workers} workers, {db_label}")
    lines.append(f"machine: {machine()}")
    lines.append(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; code: {r['code']}")
    lines.append(f"load at start: {r['load_start']}")
    lines.append(f"load at end:   {r['load_end']}")
    lines.append(f"set-up: {args.orgs + len(SECTORS) + 1} organizations in {setup['orgs_s']:.1f} s, "
                 f"{args.sync_objects:,} objects seeded in {setup['seed_s']:.1f} s")
    lines.append("")
    lines.append("| route | requests | p50 ms | p99 ms | max ms | errors |")
    lines.append("|---|---|---|---|---|---|")
    for route, s in routes.items():
        lines.append(f"| {route} | {s['requests']:,} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['max_ms']:.0f} | "
                     f"{s['errors']} |")
    lines.append("")
    lines.append("| measure | value |")
    lines.append("|---|---|")
    sync, polls = r["sync"], r["polls"]
    synced, sync_s = sync.get("objects", 0), sync.get("seconds", float("nan"))
    sent, loaded_s = r["reports_sent"], r["loaded_s"]
    pages = [ms for _t, ms in r["samples"].get(SYNC_ROUTE, [])]
    rows = [
        ("reports posted", f"{sent:,} in {loaded_s:.0f} s ({sent / loaded_s:.2f}/s); "
                           f"most behind schedule {r['report_lag_s']:.2f} s"),
        ("SIEM poll cycles", f"{polls.get('cycles', 0):,} ({polls.get('objects', 0):,} objects; "
                             f"{polls.get('failed', 0)} failed); most behind schedule {r['poll_lag_s']:.2f} s"),
        ("full sync of all-members", f"{synced:,} objects in {sync_s:.1f} s ({synced / sync_s:,.0f} objects/s), "
                                     f"started at {sync.get('at_s', 0):.0f} s {sync.get('error', '')}; "
                                     f"page p50, first 10 pages {median(pages[:10]):.0f} ms, "
                                     f"last 10 {median(pages[-10:]):.0f} ms"),
        ("intake p50 first minute → last minute",
         f"{median(first):.1f} ms → {median(last):.1f} ms (×{ratio:.2f}; target ≤ ×1.20); "
         f"mean {mean(first):.1f} → {mean(last):.1f} ms"),
        ("intake p50 minute by minute", " ".join(f"{median(m):.0f}" for m in by_minute(intake, loaded_s)) + " ms"),
        ("report → warning readable in every targeted collection",
         f"{len(delays)} of {r['warnings_expected']}: p50 {median(delays):.0f} s, max {top(delays):.0f} s "
         f"(publish-warnings every {args.publish_minutes:g} min, observers poll every {args.watch_interval:g} s); "
         f"never readable: {missing}"),
    ]
    for pid in sorted(r["rss_start"]):
        s, e = r["rss_start"][pid], r["rss_end"].get(pid, {})
        before, after = around_sync(r, pid)
        last = e.get("VmRSS", float("nan"))
        rows.append((f"worker {pid} RSS start → before the full sync → after it → end (peak)",
                     f"{s['VmRSS']:.0f} → {before:.0f} → {after:.0f} → {last:.0f} MiB "
                     f"({e.get('VmHWM', float('nan')):.0f}); growth {growth[pid]:+.0f} MiB "
                     f"(bound +{args.rss_growth_mib:g} MiB), after the sync {last - after:+.0f} MiB "
                     f"(bound +{args.rss_after_sync_mib:g} MiB)"))
    rows.append(("scheduler RSS start → end", f"{r['scheduler_rss_start'].get('VmRSS', float('nan')):.0f} → "
                                             f"{r['scheduler_rss_end'].get('VmRSS', float('nan')):.0f} MiB"))
    rows.append(("job runs", ", ".join(f"{k} ×{v}" for k, v in counts["jobs"].items()) or "none"))
    if counts["dead_tuples"]:
        rows.append(("PostgreSQL dead row versions at the end (live, dead, updates, HOT updates)"
                     + (f"; VACUUM every {args.vacuum_seconds:.0f} s" if args.vacuum_seconds else "; no VACUUM"),
                     "; ".join(f"{name} {live:,}/{dead:,}/{upd:,}/{hot:,}" for name, live, dead, upd, hot
                               in counts["dead_tuples"])))
    rows.append(("stored", f"{counts['incidents']:,} reports; warnings by state "
                           + ", ".join(f"{k} {v}" for k, v in sorted(counts["warnings"].items()))))
    rows.append(("client CPU (this process)",
                 f"{r['client_cpu_s']:.0f} s ({r['client_cpu_s'] / r['loaded_s'] * 100:.0f} % of one core)"))
    rows.append(("errors", "none" if ok else "; ".join(f"{k}: {v}" for k, v in failures.items() if v)))
    for name, value in rows:
        lines.append(f"| {name} | {value} |")
    for example in (r["examples"] + r["server_log_errors"][:5] + r["scheduler_log_errors"][:5]
                    + counts["failed_jobs"][:5]):
        lines.append(f"  - {example}")
    data = {"duration_s": args.duration, "loaded_s": r["loaded_s"], "database": db_label, "machine": machine(),
            "date": datetime.now(timezone.utc).isoformat(), "code": r["code"],
            "load_start": r["load_start"], "load_end": r["load_end"],
            "routes": routes, "errors": {f"{k[0]}: {k[1]}": v for k, v in r["http_errors"].items()},
            "failures": failures, "ok": ok, "reports_sent": r["reports_sent"], "polls": polls, "sync": sync,
            "sync_pages_ms": pages,
            "intake_first_minute_ms": first, "intake_last_minute_ms": last, "intake_ratio_p50": ratio,
            "warning_delays_s": delays, "warnings_missing": missing,
            "rss_start": r["rss_start"], "rss_end": r["rss_end"], "rss_samples": r["rss_samples"],
            "scheduler_rss_start": r["scheduler_rss_start"],
            "scheduler_rss_end": r["scheduler_rss_end"], "client_cpu_s": r["client_cpu_s"], "counts": counts,
            "server_log_errors": r["server_log_errors"], "scheduler_log_errors": r["scheduler_log_errors"]}
    return "\n".join(lines), data, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600, help="seconds under load (default 600)")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:5432/test (a scratch database "
                             "cs_soak_<pid> is created there and dropped); default: a fresh SQLite file")
    parser.add_argument("--orgs", type=int, default=500, help="member organizations polling (default 500)")
    parser.add_argument("--poll-interval", type=float, default=300, help="seconds between a member's polls (300)")
    parser.add_argument("--reports-per-second", type=float, default=2.0)
    parser.add_argument("--sync-objects", type=int, default=100_000, help="objects seeded in all-members (100000)")
    parser.add_argument("--publish-minutes", type=float, default=1.0,
                        help="JOB_PUBLISH_WARNINGS_MINUTES (production default 5; 1 so that a short soak sees many)")
    parser.add_argument("--watch-interval", type=float, default=2.0, help="seconds between the observers' polls")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--poll-threads", type=int, default=6)
    parser.add_argument("--report-threads", type=int, default=4)
    parser.add_argument("--rss-growth-mib", type=float, default=64,
                        help="largest acceptable RSS growth of a worker over the run (default 64 MiB)")
    parser.add_argument("--rss-after-sync-mib", type=float, default=8,
                        help="largest acceptable RSS growth of a worker from the end of the full sync to the end "
                             "(default 8 MiB)")
    parser.add_argument("--vacuum-seconds", type=float, default=0,
                        help="PostgreSQL: VACUUM (ANALYZE) every this many seconds during the run, standing in for "
                             "autovacuum where the server has it off (default 0: never)")
    parser.add_argument("--json", help="write the numbers here too")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, SQLite file)")
    args = parser.parse_args()

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "cert_share")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="cert-share-soak-"))
    # Config reads the environment once, at import: set it before anything imports cert_share.
    os.environ.update(CERT_SHARE_ENV="production", SECRET_KEY=uuid.uuid4().hex * 2,
                      SCHEDULER_ENABLED="0", CERT_SHARE_DATA_DIR=str(tmp), PYTHONPATH=str(ROOT),
                      JOB_PUBLISH_WARNINGS_MINUTES=str(args.publish_minutes), SESSION_COOKIE_SECURE="0",
                      BASE_URL=f"http://127.0.0.1:{free_port()}")
    url, scratch = scratch_url(args.database_url, tmp)
    os.environ["DATABASE_URL"] = url
    env = dict(os.environ)
    ok = False
    try:
        setup = prepare(args, env)
        db_label = "PostgreSQL" if scratch else "SQLite"
        print(f"[{time.strftime('%H:%M:%S')}] set up {args.orgs} members in {setup['orgs_s']:.0f} s, seeded "
              f"{args.sync_objects:,} objects in {setup['seed_s']:.0f} s; soaking {args.duration:.0f} s",
              file=sys.stderr)
        result = soak(args, env, setup, tmp)
        text, data, ok = summarize(args, db_label, setup, result, database_counts(url))
        print(text)
        if args.json:
            Path(args.json).write_text(json.dumps(data, indent=1, default=str))
    finally:
        if scratch:
            admin_sql(args.database_url, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        if args.keep:
            print(f"work directory kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
