"""Intake benchmark: reports/s through POST /api/v1/incidents on gunicorn with 2
workers, and the time of ``cert-share import`` of a 10,000-indicator STIX bundle.

Everything runs against a fresh database — a SQLite file in a temporary directory, or with
``--database-url`` a scratch database on that PostgreSQL server — set up through the real CLI
(``cert-share db upgrade``, ``org add``, ``token add``). On PostgreSQL, ``--sample-locks``
samples pg_stat_activity every 5 ms during the API run and prints what the workers' backends
were waiting on (and, for lock waits, on which statement of the blocking backend). Usage::

    .venv/bin/python bench/intake.py [--reports 2000] [--clients 12] [--indicators 10000]
    .venv/bin/python bench/intake.py --database-url postgresql://postgres@127.0.0.1:5432/test \
        --workers 2 --skip-import --sample-locks

Prints a results table; paste it with the machine description into docs/performance.md.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.scratch_db import add_argument, label, scratch_database  # noqa: E402


def stix_ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def indicator_bundle(count: int, seed: int = 0) -> dict:
    """``count`` indicators with simple patterns over IPv4, domains, URLs and SHA-256 hashes;
    a different ``seed`` gives different values (nothing to correlate with the first file)."""
    now = datetime.now(timezone.utc) - timedelta(hours=1)
    created = stix_ts(now)
    green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
    objects = []
    for n in range(count):
        i = n + seed * count
        kind = i % 4
        if kind == 0:
            pattern = f"[ipv4-addr:value = '10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}']"  # < 2**24
        elif kind == 1:
            pattern = f"[domain-name:value = 'host{i}.bench.example']"
        elif kind == 2:
            pattern = f"[url:value = 'http://bench{i}.example/payload/{i}.bin']"
        else:
            digest = uuid.uuid5(uuid.NAMESPACE_OID, str(i)).hex * 2
            pattern = f"[file:hashes.'SHA-256' = '{digest}']"
        objects.append({
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
            "created": created, "modified": created, "name": f"bench indicator {i}",
            "indicator_types": ["malicious-activity"], "pattern": pattern, "pattern_type": "stix",
            "pattern_version": "2.1", "valid_from": created, "object_marking_refs": [green],
        })
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def report_body(i: int) -> dict:
    detected = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    return {
        "title": f"Benchmark report {i}", "description": "Load test of the intake path.",
        "classification": "malicious-code/infected-system", "severity": "medium", "tlp": "amber",
        "detected_at": detected,
        "observables": [
            {"type": "ipv4-addr", "value": f"198.18.{(i >> 8) & 255}.{i & 255}"},
            {"type": "domain-name", "value": f"c2-{i}.bench.example"},
            {"type": "file:sha256", "value": uuid.uuid5(uuid.NAMESPACE_URL, str(i)).hex * 2},
        ],
    }


def cli(env: dict, *args: str) -> str:
    out = subprocess.run([str(BIN / "cert-share"), *args], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return out.stdout


def cli_line(env: dict, *args: str) -> str:
    """The last line a ``cert-share`` command printed (a slug, a token), or ""."""
    out = cli(env, *args).strip()
    return out.splitlines()[-1] if out else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)  # polling a starting server, not waiting for time to pass in a test
    raise RuntimeError(f"server at {url} did not come up")


def cpu_seconds(master_pid: int) -> float:
    """User+system CPU of gunicorn's workers (Linux /proc): a figure less at the mercy of other
    load on a shared machine than wall-clock throughput."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


class LockSampler(threading.Thread):
    """Samples, every ``interval`` s, what the other backends of the database are doing
    (PostgreSQL): (state, wait event, the statement's first words), and for a backend waiting on
    a lock the statement its blocker is running."""

    QUERY = ("SELECT a.state, coalesce(a.wait_event_type || ':' || a.wait_event, 'on CPU'), left(a.query, 60),"
             " (SELECT left(b.query, 60) FROM pg_stat_activity b WHERE b.pid = (pg_blocking_pids(a.pid))[1])"
             " FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
             " AND a.application_name <> 'bench-sampler'"
             " AND a.backend_type = 'client backend'")

    def __init__(self, url: str, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.url, self.interval = url, interval
        self.counts: collections.Counter = collections.Counter()
        self.samples = 0
        self.stop = threading.Event()

    def run(self) -> None:
        from sqlalchemy import create_engine, text

        from cert_share import _normalize_db_url

        engine = create_engine(_normalize_db_url(self.url), isolation_level="AUTOCOMMIT",
                               connect_args={"application_name": "bench-sampler"})
        with engine.connect() as conn:
            while not self.stop.is_set():
                self.samples += 1
                for state, wait, query, blocker in conn.execute(text(self.QUERY)):
                    if state == "active" or state == "idle in transaction":
                        self.counts[(state, wait, " ".join(query.split()), " ".join((blocker or "").split()))] += 1
                time.sleep(self.interval)  # a sampling period, not a wait for something to happen
        engine.dispose()

    def report(self) -> str:
        lines = [f"{self.samples} samples of pg_stat_activity; backend-samples by state and wait:",
                 "| backends (mean) | state | waiting on | statement | blocked by |", "|---:|---|---|---|---|"]
        for (state, wait, query, blocker), n in self.counts.most_common(12):
            lines.append(f"| {n / max(self.samples, 1):.2f} | {state} | {wait} | `{query}` | "
                         f"{'`' + blocker + '`' if blocker else ''} |")
        busy = sum(self.counts.values())
        waits = {key: n for key, n in self.counts.items() if key[1].startswith("Lock:")}
        lines.append(f"lock waits: {sum(waits.values())} of {busy} in-transaction backend-samples "
                     f"({100 * sum(waits.values()) / max(busy, 1):.1f} %); mean backends waiting on a lock "
                     f"{sum(waits.values()) / max(self.samples, 1):.3f}")
        for (_, wait, query, blocker), n in sorted(waits.items(), key=lambda item: -item[1])[:5]:
            lines.append(f"  {n} × {wait}: `{query}` blocked by `{blocker}`")
        return "\n".join(lines)


def backend_cpu_seconds(url: str) -> float:
    """User+system CPU of the PostgreSQL backends serving this database (a server on this
    machine, read from /proc), the sampler's own excepted; 0 on SQLite."""
    if url.startswith("sqlite"):
        return 0.0
    from sqlalchemy import create_engine, text

    from cert_share import _normalize_db_url

    engine = create_engine(_normalize_db_url(url), connect_args={"application_name": "bench-sampler"})
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND application_name <> 'bench-sampler'")).scalars().all()
    engine.dispose()
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a backend that ended meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def bench_api(env: dict, token: str, reports: int, clients: int, workers: int,
              sampler: LockSampler | None = None) -> dict:
    import requests

    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(workers), *os.environ.get("BENCH_GUNICORN_ARGS", "").split(),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/api/v1/openapi.json")
        headers = {"Authorization": f"Bearer {token}"}
        sessions: dict[int, requests.Session] = {}

        def post(i: int) -> int:
            import threading

            session = sessions.setdefault(threading.get_ident(), requests.Session())
            return session.post(f"{base}/api/v1/incidents", json=report_body(i), headers=headers,
                                 timeout=60).status_code

        # Warm-up: imports and first connections are not what we measure.
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, range(reports, reports + clients * 2)))
        cpu_before = cpu_seconds(server.pid)
        db_before = backend_cpu_seconds(env["DATABASE_URL"])
        client_before = time.process_time()
        if sampler:
            sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            statuses = list(pool.map(post, range(reports)))
        elapsed = time.perf_counter() - started
        if sampler:
            sampler.stop.set()
            sampler.join()
        cpu = cpu_seconds(server.pid) - cpu_before
        db_cpu = backend_cpu_seconds(env["DATABASE_URL"]) - db_before
        client_cpu = time.process_time() - client_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    failed = sum(1 for s in statuses if s != 201)
    return {"reports": reports, "clients": clients, "seconds": elapsed, "per_second": reports / elapsed,
            "failed": failed, "cpu_ms_per_report": cpu / reports * 1000,
            "db_cpu_ms_per_report": db_cpu / reports * 1000,
            "client_cpu_ms_per_report": client_cpu / reports * 1000}


def bench_import(env: dict, tmp: Path, indicators: int) -> dict:
    path = tmp / f"bench-{indicators}-indicators.json"
    path.write_text(json.dumps(indicator_bundle(indicators)))
    second = tmp / f"bench-{indicators}-indicators-2.json"
    second.write_text(json.dumps(indicator_bundle(indicators, seed=1)))
    cli(env, "org", "add", "--name", "Import Bench", "--sector", "energy")
    started = time.perf_counter()
    out = cli(env, "import", str(path), "--org", "import-bench")
    wall = time.perf_counter() - started
    # In-process service time: a second file of other values, so that it is the same workload
    # (the same values from a second organization would raise 10,000 early warnings).
    code = (
        "import sys, time\n"
        "from cert_share import create_app\n"
        "from cert_share.extensions import db\n"
        "from cert_share.services.importer import import_file\n"
        "from cert_share.services.organizations import get_by_slug\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    org = get_by_slug(db.session, 'import-bench-2')\n"
        "    t, c = time.perf_counter(), time.process_time()\n"
        "    r = import_file(db.session, sys.argv[1], org=org)\n"
        "    print(time.perf_counter() - t, time.process_time() - c)\n"
    )
    cli(env, "org", "add", "--name", "Import Bench 2", "--sector", "energy")
    timed = subprocess.run([sys.executable, "-c", code, str(second)], env=env, cwd=ROOT, check=True,
                           capture_output=True, text=True)
    service, service_cpu = map(float, timed.stdout.strip().splitlines()[-1].split())
    return {"indicators": indicators, "cli_seconds": wall, "service_seconds": service, "service_cpu": service_cpu,
            "summary": out.strip().splitlines()[-1], "file_mb": path.stat().st_size / 1e6}


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")).split()[1])
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        ram = "unknown RAM"
    return f"{os.cpu_count()} CPUs ({model}), {ram}, Python {platform.python_version()}, {platform.system()}"


def calibration_us(timer=time.perf_counter) -> float:
    """A fixed CPU-bound micro-benchmark, to tell a slow run on a busy machine from a slow code
    path: wall-clock µs per call (slowed by other processes) vs CPU µs per call (much less)."""
    import timeit

    times = timeit.repeat("uuid.uuid5(uuid.NAMESPACE_URL, 'abc')", "import uuid", timer=timer, number=20_000, repeat=5)
    return min(times) / 20_000 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=2000, help="reports to POST (default 2000)")
    parser.add_argument("--clients", type=int, default=12, help="concurrent API clients (default 12)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--indicators", type=int, default=10_000, help="indicators in the bundle (default 10000)")
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--sample-locks", action="store_true", help="PostgreSQL: sample what backends wait on")
    add_argument(parser)
    args = parser.parse_args()

    # As deployed: bytecode compiled at install time (pip does it for a regular install; `make
    # install` does it for the editable one), not recompiled by every CLI process.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "cert_share")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="cert-share-bench-"))
    try:
        with scratch_database(args.database_url, tmp) as url:
            run(args, tmp, url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path, url: str) -> None:
    env = dict(os.environ, DATABASE_URL=url, CERT_SHARE_ENV="production", BASE_URL="https://share.cert.example",
               SECRET_KEY=uuid.uuid4().hex, SCHEDULER_ENABLED="0",
               API_RATE_LIMIT="1000000 per minute",  # measures capacity, not the per-token limit
               PYTHONPATH=str(ROOT))
    cli(env, "db", "upgrade")
    slug = cli(env, "org", "add", "--name", "Bench Bank", "--sector", "financial-services").strip().splitlines()[-1]
    token = cli(env, "token", "add", "--org", slug).strip().splitlines()[-1]
    print(f"machine: {machine()}")
    print(f"date:    {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, database: {label(url)}")
    print(f"load:    {os.getloadavg()[0]:.1f} (1-min load average at start); "
          f"calibration: uuid5 {calibration_us():.1f} µs wall, {calibration_us(time.process_time):.1f} µs CPU "
          "per call (typically 1-3 µs on an idle modern core)")
    rows = []
    sampler = None
    if not args.skip_api:
        sampler = LockSampler(url) if args.sample_locks and not url.startswith("sqlite") else None
        api = bench_api(env, token, args.reports, args.clients, args.workers, sampler)
        rows.append((f"POST /api/v1/incidents, gunicorn {args.workers} workers, {api['clients']} clients, "
                     f"3 observables each", f"{api['reports']} reports in {api['seconds']:.2f} s",
                     f"{api['per_second']:.1f} reports/s",
                     f"{api['failed']} failed; worker CPU {api['cpu_ms_per_report']:.1f} ms/report, "
                     + ("" if url.startswith("sqlite") else
                        f"PostgreSQL backends' CPU {api['db_cpu_ms_per_report']:.1f} ms/report, ")
                     + f"client CPU {api['client_cpu_ms_per_report']:.1f} ms/report", "≥ 150 reports/s"))
    if not args.skip_import:
        imp = bench_import(env, tmp, args.indicators)
        rows.append((f"cert-share import of a STIX bundle ({imp['file_mb']:.1f} MB)",
                     f"{imp['indicators']} indicators → 1 report", f"CLI wall clock {imp['cli_seconds']:.2f} s",
                     f"in-process service {imp['service_seconds']:.2f} s wall, {imp['service_cpu']:.2f} s CPU",
                     "< 5 s"))
    print()
    print("| measurement | volume | throughput / time | notes | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if sampler:
        print()
        print(sampler.report())
    print(f"load at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
