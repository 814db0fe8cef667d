"""Crash and outage runs: what is acknowledged is stored, once and whole, and mail goes out once.

Three scenarios, each against a fresh database set up through the real CLI:

* ``kill``: reports POSTed to gunicorn (``--workers``) by ``--clients`` threads while one worker
  is killed with SIGKILL every ``--interval`` seconds (the master starts a new one).
* ``cut`` (PostgreSQL only): the same load while every server process of the application's
  connections is ended with ``pg_terminate_backend`` every ``--interval`` seconds.
* ``mail``: ``--messages`` queued alerts delivered by two ``cert-share jobs run send-mail``
  loops, through a slow SMTP relay (aiosmtpd, 30 ms a message) with a 2 s lease: the second
  sender starts once the first run has outlived its first lease (a quarter of the mail
  delivered), and the relay goes down for a few seconds when half of it is delivered.

Every report carries an ``external_id``; a client retries the same body after a dropped
connection or a 5xx until it gets 200/201, as a member's tooling would. The counts printed:
sent (reports or messages), acknowledged, stored (or delivered), lost (acknowledged but not
stored; queued but never delivered), duplicated, half-written (a report without its observables
or its STIX object) and the error answers seen on the way. Usage::

    .venv/bin/python bench/outages.py kill [--database-url postgresql://…/db] [--reports 600]
    .venv/bin/python bench/outages.py cut --database-url postgresql://postgres@127.0.0.1:5432/outages
    .venv/bin/python bench/outages.py mail [--messages 300]

A PostgreSQL database named in ``--database-url`` is dropped and created again.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import BIN, cli, free_port, report_body, wait_for  # noqa: E402
from bench.scratch_db import add_argument, scratch_database  # noqa: E402

PREFIX = "outage-"


def environment(database_url: str, **extra) -> dict:
    return dict(os.environ, DATABASE_URL=database_url, CERT_SHARE_ENV="production", SECRET_KEY=uuid.uuid4().hex,
                SCHEDULER_ENABLED="0", PYTHONPATH=str(ROOT),
                API_RATE_LIMIT="1000000 per minute",  # floods one token on purpose: not the limit's test
                **extra)


def engine_for(database_url: str):
    from sqlalchemy import create_engine

    from cert_share import _normalize_db_url

    return create_engine(_normalize_db_url(database_url))


def post_until_acknowledged(base: str, token: str, i: int, errors: Counter, stop: threading.Event) -> int | None:
    """POST report ``i`` until the server acknowledges it; returns its id (None if stopped)."""
    import requests

    body = report_body(i) | {"external_id": f"{PREFIX}{i}", "title": f"Outage report {i}"}
    session = requests.Session()
    while not stop.is_set():
        try:
            response = session.post(f"{base}/api/v1/incidents", json=body,
                                    headers={"Authorization": f"Bearer {token}"}, timeout=60)
        except requests.RequestException as exc:
            errors[f"connection: {type(exc).__name__}"] += 1
            session = requests.Session()
            continue
        if response.status_code in (200, 201):
            return response.json()["id"]
        errors[f"HTTP {response.status_code}"] += 1
        if response.status_code < 500:
            raise RuntimeError(f"report {i} refused: {response.status_code} {response.text[:200]}")
        time.sleep(float(response.headers.get("Retry-After", "0.2")) / 10)  # a client backing off
    return None


def check_reports(database_url: str, acknowledged: dict[int, int], sent: int) -> dict:
    from sqlalchemy import text

    engine = engine_for(database_url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT i.id, i.external_id, i.title, "
            "(SELECT count(*) FROM observables o WHERE o.incident_id = i.id), "
            "(SELECT count(*) FROM stix_objects s WHERE s.stix_id = i.stix_id) "
            "FROM incidents i WHERE i.external_id LIKE :p"), {"p": PREFIX + "%"}).all()
    engine.dispose()
    stored = {int(external_id[len(PREFIX):]): ident for ident, external_id, *_ in rows}
    titles = Counter(title for _i, _e, title, *_ in rows)
    return {
        "sent": sent, "acknowledged": len(acknowledged), "stored": len(rows),
        "lost": sum(1 for i, ident in acknowledged.items() if stored.get(i) != ident),
        "duplicated": sum(n - 1 for n in titles.values() if n > 1),
        "half-written": sum(1 for _i, _e, _t, observables, stix in rows if observables != 3 or stix < 1),
    }


def run_intake(database_url: str, *, disrupt: str, reports: int, clients: int, workers: int,
               interval: float) -> None:
    env = environment(database_url)
    cli(env, "db", "upgrade")
    slug = cli(env, "org", "add", "--name", "Outage Bank", "--sector", "financial-services").strip().splitlines()[-1]
    token = cli(env, "token", "add", "--org", slug).strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen([str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                               "--log-level", "critical", "wsgi:app"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    stop, done = threading.Event(), threading.Event()
    errors: Counter = Counter()
    disruptions = 0

    def disrupter() -> None:
        nonlocal disruptions
        engine = engine_for(database_url) if disrupt == "cut" else None
        while not done.wait(interval):
            if disrupt == "kill":
                children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
                if children:
                    os.kill(int(random.choice(children)), signal.SIGKILL)
                    disruptions += 1
            else:
                from sqlalchemy import text

                with engine.connect() as conn:
                    ended = conn.execute(text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND backend_type = 'client backend'")).scalar()
                    conn.commit()
                disruptions += ended
        if engine is not None:
            engine.dispose()

    try:
        wait_for(f"{base}/api/v1/openapi.json")
        thread = threading.Thread(target=disrupter)
        started = time.perf_counter()
        thread.start()
        acknowledged: dict[int, int] = {}
        with ThreadPoolExecutor(clients) as pool:
            futures = {i: pool.submit(post_until_acknowledged, base, token, i, errors, stop) for i in range(reports)}
            for i, future in futures.items():
                ident = future.result(timeout=600)
                if ident is not None:
                    acknowledged[i] = ident
        done.set()
        thread.join()
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        done.set()
        server.terminate()
        server.wait(timeout=30)
    counts = check_reports(database_url, acknowledged, reports)
    what = "workers killed with kill -9" if disrupt == "kill" else "server processes terminated"
    print(f"{disrupt}: {reports} reports, {clients} clients, gunicorn {workers} workers, "
          f"{database_url.split(':', 1)[0]}, {elapsed:.1f} s; {disruptions} {what}")
    print("  " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print("  answers retried: " + (", ".join(f"{k} ×{v}" for k, v in sorted(errors.items())) or "none"))


def run_mail(database_url: str, *, messages: int, outage_seconds: float) -> None:
    from tests.integration.mail_helpers import SmtpServer

    smtp = SmtpServer()
    smtp.handler.seconds_per_message = 0.03
    smtp.start()
    env = environment(database_url, SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port), SMTP_TIMEOUT="5",
                      MAIL_FROM="cert@cert.example", MAIL_LEASE_SECONDS="2", MAIL_BATCH_SIZE="5",
                      MAIL_BACKOFF_BASE_SECONDS="1", MAIL_BACKOFF_MAX_SECONDS="2", MAIL_MAX_ATTEMPTS="1000",
                      MAIL_HOURLY_CAP="100000")
    cli(env, "db", "upgrade")
    queue = (
        "import sys\n"
        "from cert_share import create_app\n"
        "from cert_share.extensions import db\n"
        "from cert_share.mail.outbox import enqueue\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    for i in range(int(sys.argv[1])):\n"
        "        enqueue(db.session, to=f'soc{i}@bank.example', subject=f'alert {i}', text='t', tlp='amber',"
        " kind='alert', hourly_cap=10**6)\n"
        "    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", queue, str(messages)], env=env, cwd=ROOT, check=True)
    from sqlalchemy import text

    engine = engine_for(database_url)

    def outstanding() -> int:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')")).scalar()

    finished = threading.Event()
    runs = Counter()

    def sender(name: str) -> None:
        while not finished.is_set():
            subprocess.run([str(BIN / "cert-share"), "jobs", "run", "send-mail"], env=env, cwd=ROOT,
                           check=True, capture_output=True)
            runs[name] += 1

    def delivered(count: int) -> None:
        while len(smtp.handler.messages) < count:
            time.sleep(0.05)

    started = time.perf_counter()
    senders = [threading.Thread(target=sender, args=(f"s{n}",)) for n in range(2)]
    senders[0].start()
    delivered(messages // 4)  # 2.25 s of relay time for 300 messages: past the 2 s lease
    senders[1].start()
    delivered(messages // 2)
    smtp.stop()  # the relay goes away with half of the mail still queued
    during = len(smtp.handler.messages)
    time.sleep(outage_seconds)
    smtp.start()
    while outstanding():
        time.sleep(0.2)
    finished.set()
    for thread in senders:
        thread.join()
    elapsed = time.perf_counter() - started
    smtp.stop()
    with engine.connect() as conn:
        queued = set(conn.execute(text("SELECT message_id FROM outbox")).scalars())
        states = Counter(conn.execute(text("SELECT state FROM outbox")).scalars())
    engine.dispose()
    received = Counter(smtp.handler.message_ids)
    print(f"mail: {messages} messages, two senders (processes), relay 30 ms/message, 2 s lease, relay down "
          f"{outage_seconds:.0f} s after {during} deliveries; {sum(runs.values())} send-mail runs, {elapsed:.1f} s, "
          f"{database_url.split(':', 1)[0]}")
    print(f"  sent {len(queued)}, delivered {len(received)}, lost {len(queued - set(received))}, "
          f"duplicated {sum(n - 1 for n in received.values() if n > 1)}, outbox states {dict(states)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["kill", "cut", "mail"])
    parser.add_argument("--reports", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between kills or cuts")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--outage-seconds", type=float, default=3.0)
    add_argument(parser)
    args = parser.parse_args()
    if args.scenario == "cut" and not args.database_url:
        parser.error("cut needs --database-url of a PostgreSQL server")
    tmp = Path(tempfile.mkdtemp(prefix="cert-share-outages-"))
    try:
        with scratch_database(args.database_url, tmp, name="outages.db") as url:
            if args.scenario == "mail":
                run_mail(url, messages=args.messages, outage_seconds=args.outage_seconds)
            else:
                run_intake(url, disrupt=args.scenario, reports=args.reports, clients=args.clients,
                           workers=args.workers, interval=args.interval)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
