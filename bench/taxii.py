#!/usr/bin/env python
"""TAXII 2.1 benchmark: cert-share under gunicorn (2 workers; SQLite, or PostgreSQL with
--database-url) vs medallion.

For each N (default 10,000 100,000 1,000,000):

  (c) POST throughput: the CERT posts N indicators to ``all-members`` with taxii2-client in
      envelopes of --chunk objects from --posters threads (envelopes serialized before timing).
      Above --post-max the objects are bulk-loaded through services.stix_store.add_objects
      instead (said so in the output), because HTTP-loading a million objects takes too long here.
  (a) full paginated read by a member with taxii2-client ``as_pages(get_objects, per_request=1000)``,
      in objects/s (skipped above --read-max).
  (b) incremental poll: ``added_after`` = the date_added of the 50th object from the end,
      ``limit=100``, --polls requests with taxii2-client; p50/p99 latency in ms.

The same three measurements run against medallion (memory backend, one gunicorn process since
its memory store is per-process) at --medallion-n objects, printed side by side with cert-share at
the same N, with the ratio.

    .venv/bin/python bench/taxii.py --n 10000            # quick
    .venv/bin/python bench/taxii.py --n 10000 100000 1000000
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from taxii2client.v21 import Collection, as_pages

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.scratch_db import add_argument, date_added_near_end, scratch_database  # noqa: E402
from bench.scratch_db import label as database_label  # noqa: E402

GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
ACCEPT = {"Accept": "application/taxii+json;version=2.1"}


def indicators(n: int, start: int = 0) -> list[dict]:
    out = []
    for i in range(start, start + n):
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        out.append({"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                    "created": "2026-01-05T10:00:00.000Z", "modified": "2026-01-05T10:00:00.000Z",
                    "name": f"scanner {ip}", "indicator_types": ["malicious-activity"],
                    "pattern": f"[ipv4-addr:value = '{ip}']", "pattern_type": "stix",
                    "valid_from": "2026-01-05T10:00:00Z", "object_marking_refs": [GREEN]})
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, auth) -> None:
    for _ in range(300):
        try:
            if requests.get(url, auth=auth, headers=ACCEPT, timeout=30).status_code < 500:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.1)  # waiting for a server process to bind, not for time to pass
    raise RuntimeError(f"server at {url} did not start")


def say(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def server_cpu(master) -> float:
    """CPU seconds used so far by a gunicorn master's workers (Linux /proc): the work done,
    independent of how long the worker waited for a CPU on a shared machine."""
    total = 0.0
    try:
        with open(f"/proc/{master.pid}/task/{master.pid}/children") as fh:
            pids = fh.read().split()
    except OSError:
        return float("nan")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- cert-share ---------------------------------------------------------------------------

def cert_share_env(db_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": uuid.uuid4().hex * 2,
            "CERT_SHARE_ENV": "production", "BASE_URL": "https://share.cert.example",
            "SCHEDULER_ENABLED": "0", "TAXII_PAGE_SIZE": "1000",
            "TAXII_MAX_CONTENT_LENGTH": str(50 * 1024 * 1024),
            "TAXII_RATE_LIMIT": "1000000 per minute"}  # measures capacity, not the per-token limit


def _overrides(db_url: str) -> dict:
    # Config reads the environment once, at import: name the database explicitly per N.
    env = cert_share_env(db_url)
    return {"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "SECRET_KEY": env["SECRET_KEY"],
            "BASE_URL": env["BASE_URL"]}


def prepare_database(db_url: str) -> dict:
    """Migrate, create the CERT and a member with tokens; return slugs, tokens and collection ids."""
    from cert_share import create_app
    from cert_share.extensions import db
    from cert_share.schema_upgrade import upgrade
    from cert_share.services.organizations import create_organization
    from cert_share.services.tokens import issue_token
    from cert_share.store.collections import by_alias

    app = create_app(_overrides(db_url))
    with app.app_context():
        upgrade(app)
        cert = create_organization(db.session, name="National CERT", sector="government-national", kind="cert")
        bank = create_organization(db.session, name="Bench Bank", sector="financial-services")
        _, cert_token = issue_token(db.session, cert, "bench")
        _, bank_token = issue_token(db.session, bank, "bench")
        info = {"cert": (cert.slug, cert_token), "bank": (bank.slug, bank_token),
                "all_members": by_alias(db.session, "all-members").id}
        db.engine.dispose()
    return info


def bulk_load(db_url: str, collection_id: str, n: int, chunk: int = 20_000) -> float:
    """Generate and store n indicators chunk by chunk (a million dicts at once would need GBs)."""
    from cert_share import create_app
    from cert_share.extensions import db
    from cert_share.models import Collection, Organization
    from cert_share.store.stix_objects import add_objects

    app = create_app(_overrides(db_url))
    started = time.perf_counter()
    with app.app_context():
        coll = db.session.get(Collection, collection_id)
        cert_id = db.session.query(Organization).filter_by(kind="cert").one().id
        for i in range(0, n, chunk):
            add_objects(db.session, coll, indicators(min(chunk, n - i), start=i), owner_org_id=cert_id)
            db.session.commit()
            db.session.expunge_all()
            coll = db.session.get(Collection, collection_id)
        db.engine.dispose()
    return time.perf_counter() - started


def storage_sizes(db_url: str, n: int) -> list[str]:
    """PostgreSQL: bytes per stored object of stix_objects' heap (with TOAST) and of each of its
    indexes, after loading n objects (the input of docs/scaling.md's arithmetic)."""
    if not db_url.startswith("postgres"):
        return []
    from sqlalchemy import create_engine, text

    from cert_share import _normalize_db_url

    engine = create_engine(_normalize_db_url(db_url))
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.relname, pg_total_relation_size(c.oid) - coalesce((SELECT sum(pg_relation_size(i.indexrelid))"
            " FROM pg_index i WHERE i.indrelid = c.oid), 0) AS heap, c.relkind FROM pg_class c"
            " WHERE c.relname = 'stix_objects'"
            " UNION ALL SELECT ci.relname, pg_relation_size(ci.oid), ci.relkind FROM pg_index i"
            " JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE t.relname = 'stix_objects'")).all()
        total = conn.execute(text("SELECT count(*) FROM stix_objects")).scalar_one()
    engine.dispose()
    return [f"{name}: {float(size) / 1e6:.1f} MB, {float(size) / max(total, 1):.0f} bytes per row ({total:,} rows)"
            for name, size, _ in rows]


def start_gunicorn(app_spec: str, port: int, env: dict, workers: int, threads: int = 1, cwd: str = ROOT):
    cmd = [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", str(workers), "--threads", str(threads),
           "-b", f"127.0.0.1:{port}", "--timeout", "600", "--log-level", "warning", app_spec]
    return subprocess.Popen(cmd, env=env, cwd=cwd)


def post_all(url: str, auth, objects: list[dict], chunk: int, posters: int) -> float:
    bodies = [json.dumps({"objects": objects[i:i + chunk]}) for i in range(0, len(objects), chunk)]
    errors: list = []

    def worker(mine):
        coll = Collection(url, user=auth[0], password=auth[1])
        for body in mine:
            status = coll.add_objects(body)
            if status.failure_count or status.success_count != len(json.loads(body)["objects"]):
                errors.append(status.failures[:3] if status.failures else status.success_count)

    threads = [threading.Thread(target=worker, args=(bodies[i::posters],)) for i in range(posters)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"POST failures: {errors[:3]}")
    return elapsed


def full_read(url: str, auth, expected: int) -> tuple[int, float]:
    coll = Collection(url, user=auth[0], password=auth[1])
    started = time.perf_counter()
    count = 0
    for page in as_pages(coll.get_objects, per_request=1000):
        count += len(page.get("objects", []))
    elapsed = time.perf_counter() - started
    if count != expected:
        raise RuntimeError(f"full read returned {count} objects, expected {expected}")
    return count, elapsed


def incremental(url: str, auth, added_after: str, polls: int) -> list[float]:
    coll = Collection(url, user=auth[0], password=auth[1])
    coll.get_objects(added_after=added_after, limit=100)  # warm the connection
    latencies = []
    for _ in range(polls):
        started = time.perf_counter()
        envelope = coll.get_objects(added_after=added_after, limit=100)
        latencies.append((time.perf_counter() - started) * 1000)
        if not envelope.get("objects"):
            raise RuntimeError("incremental poll returned nothing")
    return latencies


def bench_cert_share(n: int, args, workdir: str) -> dict:
    with scratch_database(args.database_url, Path(workdir), name=f"cert-share-{n}.db") as db_url:
        return _bench_cert_share(n, args, db_url)


def _bench_cert_share(n: int, args, db_path: str) -> dict:
    info = prepare_database(db_path)
    port = free_port()
    server = start_gunicorn("wsgi:app", port, cert_share_env(db_path), workers=args.workers)
    base = f"http://127.0.0.1:{port}/taxii2/"
    result = {"n": n}
    try:
        wait_up(base, info["bank"])
        url = f"http://127.0.0.1:{port}/taxii2/api/collections/{info['all_members']}/"
        say(f"cert-share N={n:,}: loading")
        if n <= args.post_max:
            objects = indicators(n)
            cpu = server_cpu(server)
            seconds = post_all(url, info["cert"], objects, args.chunk, args.posters)
            result["post"] = n / seconds
            result["post_cpu"] = n / (server_cpu(server) - cpu)
            result["load"] = "HTTP POST"
            del objects
        else:
            seconds = bulk_load(db_path, info["all_members"], n)
            result["post"] = None
            result["load"] = f"bulk via add_objects ({n / seconds:,.0f} objects/s)"
        say(f"cert-share N={n:,}: loaded in {seconds:.1f} s ({n / seconds:,.0f} objects/s, {result['load']})")
        for line in storage_sizes(db_path, n):
            say(f"cert-share N={n:,}: {line}")
        if n <= args.read_max:
            say(f"cert-share N={n:,}: full read")
            cpu = server_cpu(server)
            count, seconds = full_read(url, info["bank"], n)
            result["read"] = count / seconds
            result["read_cpu"] = count / (server_cpu(server) - cpu)
            say(f"cert-share N={n:,}: full read {result['read']:,.0f} objects/s")
        say(f"cert-share N={n:,}: incremental polls")
        added_after = date_added_near_end(db_path)
        cpu = server_cpu(server)
        lat = incremental(url, info["bank"], added_after, args.polls)
        result["poll_cpu"] = (server_cpu(server) - cpu) / (args.polls + 1) * 1000
        result["p50"], result["p99"] = statistics.median(lat), pct(lat, 99)
        say(f"cert-share N={n:,}: poll p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return result


# --- medallion ----------------------------------------------------------------------------

def bench_medallion(n: int, args, workdir: str) -> dict:
    coll_id = str(uuid.uuid4())
    data = {
        "/discovery": {"title": "medallion", "default": "http://127.0.0.1/api1/", "api_roots": []},
        "api1": {"information": {"title": "bench", "versions": ["application/taxii+json;version=2.1"],
                                 "max_content_length": 50 * 1024 * 1024},
                 "status": [],
                 "collections": [{"id": coll_id, "title": "bench", "can_read": True, "can_write": True,
                                  "media_types": ["application/stix+json;version=2.1"], "objects": [],
                                  "manifest": []}]},
    }
    data_path = os.path.join(workdir, "medallion-data.json")
    config_path = os.path.join(workdir, "medallion.json")
    with open(data_path, "w") as fh:
        json.dump(data, fh)
    with open(config_path, "w") as fh:
        json.dump({"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                               "filename": data_path},
                   "users": {"bench": "bench"}, "taxii": {"max_page_size": 1000}}, fh)
    port = free_port()
    server = start_gunicorn(f"medallion:load_app('{config_path}')", port, dict(os.environ), workers=1,
                            threads=args.workers, cwd=workdir)
    auth = ("bench", "bench")
    result = {"n": n}
    try:
        wait_up(f"http://127.0.0.1:{port}/taxii2/", auth)
        url = f"http://127.0.0.1:{port}/api1/collections/{coll_id}/"
        objects = indicators(n)
        say(f"medallion N={n:,}: loading")
        # Small envelopes, so that there are many distinct date_added values to poll after.
        seconds = post_all(url, auth, objects, 50, args.posters)
        result["post"] = n / seconds
        say(f"medallion N={n:,}: POST {result['post']:,.0f} objects/s; full read")
        count, seconds = full_read(url, auth, n)
        result["read"] = count / seconds
        say(f"medallion N={n:,}: full read {result['read']:,.0f} objects/s")
        say(f"medallion N={n:,}: incremental polls")
        coll = Collection(url, user=auth[0], password=auth[1])
        dates = sorted(r["date_added"] for page in as_pages(coll.get_manifest, per_request=1000)
                       for r in page.get("objects", []))
        lat = incremental(url, auth, dates[-51], args.medallion_polls)
        result["p50"], result["p99"] = statistics.median(lat), pct(lat, 99)
        say(f"medallion N={n:,}: poll p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return result


def fmt(value, unit="") -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}{unit}" if value >= 100 else f"{value:.1f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--post-max", type=int, default=100_000, help="load larger N in bulk, not over HTTP")
    parser.add_argument("--read-max", type=int, default=100_000, help="skip the full read for larger N")
    parser.add_argument("--chunk", type=int, default=5_000, help="objects per POST envelope")
    parser.add_argument("--posters", type=int, default=2, help="concurrent POSTing threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for cert-share")
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--medallion-n", type=int, default=1_000)
    parser.add_argument("--medallion-polls", type=int, default=200)
    parser.add_argument("--no-medallion", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    add_argument(parser)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="taxii-bench-")
    print(f"# cert-share TAXII benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{database_label(args.database_url or 'sqlite://')}, gunicorn -w {args.workers}; load: {os.getloadavg()}")
    try:
        results = [bench_cert_share(n, args, workdir) for n in sorted(set(args.n) | {args.medallion_n})]
        med = {} if args.no_medallion else bench_medallion(args.medallion_n, args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print("| N | load | POST objects/s | full read objects/s | poll p50 ms | poll p99 ms |"
          " server CPU: POST objects/CPU-s | read objects/CPU-s | ms per poll |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['n']:,} | {r['load']} | {fmt(r.get('post'))} | {fmt(r.get('read'))} | "
              f"{r['p50']:.1f} | {r['p99']:.1f} | {fmt(r.get('post_cpu'))} | {fmt(r.get('read_cpu'))} | "
              f"{r['poll_cpu']:.1f} |")
    ours = next(r for r in results if r["n"] == args.medallion_n)
    if not med:
        return
    print()
    print(f"Side by side at N = {args.medallion_n:,} (medallion: memory backend, one process):")
    print()
    print("| measure | cert-share | medallion | cert-share better by |")
    print("|---|---|---|---|")
    for key, label, better_high in (("post", "POST objects/s", True), ("read", "full read objects/s", True),
                                    ("p50", "poll p50 ms", False), ("p99", "poll p99 ms", False)):
        a, b = ours.get(key), med.get(key)
        ratio = "—" if not (a and b) else f"{(a / b) if better_high else (b / a):,.1f}×"
        print(f"| {label} | {fmt(a)} | {fmt(b)} | {ratio} |")


if __name__ == "__main__":
    main()
