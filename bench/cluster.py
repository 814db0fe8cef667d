"""Two app nodes and two schedulers on one PostgreSQL database: do the cluster guarantees hold?

The set-up the README's "Production" section describes, on one machine: two gunicorn nodes
(``-c python:cert_share.gunicorn_conf``, two workers each, on two ports), two ``cert-share
scheduler run`` processes, Redis for the rate limits when one answers (``--redis-url``), an
aiosmtpd relay counting what it receives (``SMTP_HOST``/``SMTP_PORT``). A fresh database is
created on the server of ``--database-url`` and dropped at the end. Reports are posted over the
API to both nodes for the whole run (each with an ``external_id``; a client whose node is down
or answers 5xx sends the same body to the other node, as a member's tooling would). Checked:

* one active scheduler: the lease holder and PostgreSQL's granted advisory locks are sampled
  throughout (never two), only the holder runs scheduled jobs; the active one is killed with
  SIGKILL and the standby takes over (the time is printed);
* a session signed in on node 1 is signed in on node 2;
* a TAXII ``next`` cursor from node 1 gives the next page on node 2;
* mail goes out exactly once: messages queued while two schedulers and a manual
  ``cert-share jobs run send-mail`` loop deliver, each received by the relay once;
* a rolling restart under load: SIGHUP to each node in turn (gunicorn replaces its workers),
  then each node stopped (SIGTERM, draining) and started again: no acknowledged report lost,
  none stored twice (counted by ``external_id``).

It prints its counts and exits 1 when a guarantee broke. Usage::

    .venv/bin/python bench/cluster.py [--database-url postgresql://postgres@127.0.0.1:5432/x]
        [--redis-url redis://127.0.0.1:6379/0 | --no-redis] [--seconds 120] [--clients 4]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import BIN, cli, free_port, report_body  # noqa: E402

PREFIX = "cluster-"
PASSWORD = "cluster-password-1"
TAXII = "application/taxii+json;version=2.1"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def wait(condition, timeout: float, what: str, step: float = 0.1):
    """Poll ``condition`` until it returns something true (a server or a process to get there)."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(step)


# ---- PostgreSQL and Redis -------------------------------------------------------------------------

def database_urls(url: str) -> tuple[str, str]:
    """(the cluster's fresh database, the server's maintenance database)."""
    from sqlalchemy.engine import make_url

    from cert_share import _normalize_db_url

    target = make_url(_normalize_db_url(url)).set(database=f"cert_share_cluster_{uuid.uuid4().hex[:8]}")
    return (target.render_as_string(hide_password=False),
            target.set(database="postgres").render_as_string(hide_password=False))


def admin_sql(maintenance_url: str, statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(maintenance_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False


# ---- processes ------------------------------------------------------------------------------------

class Node:
    """One app node: a gunicorn master with its workers on its own port."""

    def __init__(self, name: str, env: dict, logs: Path):
        self.name, self.env, self.port = name, env, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = logs / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "python:cert_share.gunicorn_conf", "--workers", "2",
                 "--graceful-timeout", "30", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        wait(self.ready, 60, f"{self.name} to serve")

    def ready(self) -> bool:
        import requests

        assert self.proc is not None and self.proc.poll() is None, f"{self.name} exited: see {self.log}"
        try:
            return requests.get(f"{self.base}/api/v1/openapi.json", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def start_scheduler(env: dict, logs: Path, n: int) -> subprocess.Popen:
    with (logs / f"scheduler-{n}.log").open("a") as log:
        return subprocess.Popen([str(BIN / "cert-share"), "scheduler", "run", "--poll-seconds", "0.5"],
                                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


# ---- load: reports over the API to both nodes -----------------------------------------------------

class Load:
    def __init__(self, nodes: list[Node], token: str, clients: int):
        self.nodes, self.token, self.clients = nodes, token, clients
        self.stop = threading.Event()
        self.acknowledged: set[str] = set()
        self.sent = 0
        self.retried: Counter = Counter()
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, args=(c,), daemon=True) for c in range(clients)]

    def client(self, c: int) -> None:
        import requests

        session = requests.Session()
        i = 0
        while not self.stop.is_set():
            external_id = f"{PREFIX}{c}-{i}"
            body = report_body(c * 100_000 + i) | {"external_id": external_id, "title": f"Cluster report {c}-{i}"}
            with self.lock:
                self.sent += 1
            node = (c + i) % len(self.nodes)
            # A sent report is sent until acknowledged, even after stop: a lost one must be a server's fault.
            while True:
                base = self.nodes[node].base
                try:
                    response = session.post(f"{base}/api/v1/incidents", json=body, timeout=60,
                                            headers={"Authorization": f"Bearer {self.token}"})
                except requests.RequestException as exc:
                    self.count(f"connection: {type(exc).__name__}")
                    session, node = requests.Session(), (node + 1) % len(self.nodes)
                    time.sleep(0.05)
                    continue
                if response.status_code in (200, 201):
                    with self.lock:
                        self.acknowledged.add(external_id)
                    break
                self.count(f"HTTP {response.status_code}")
                if response.status_code == 429:
                    time.sleep(min(float(response.headers.get("Retry-After", "1")), 5))
                elif response.status_code >= 500:
                    node = (node + 1) % len(self.nodes)
                    time.sleep(0.05)
                else:
                    self.refused.append(f"{external_id}: {response.status_code} {response.text[:200]}")
                    break
            i += 1

    def count(self, what: str) -> None:
        with self.lock:
            self.retried[what] += 1

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)


# ---- the checks -----------------------------------------------------------------------------------

class Watch:
    """Samples, every 0.2 s, who holds the scheduler lease and how many advisory locks are granted."""

    def __init__(self, engine):
        self.engine = engine
        self.samples: list[tuple[float, int | None, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        from sqlalchemy import text

        while not self.stop.wait(0.2):
            with self.engine.connect() as conn:
                holder = conn.execute(text("SELECT holder FROM scheduler_lease WHERE name = 'scheduler'")).scalar()
                locks = conn.execute(text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()")).scalar()
            self.samples.append((time.monotonic(), int(holder.split(":")[1]) if holder else None, locks))

    def holder(self) -> int | None:
        return self.samples[-1][1] if self.samples else None


def scheduled_runs_by(engine, pid: int) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        holders = conn.execute(text("SELECT holder FROM job_runs WHERE trigger = 'schedule'")).scalars().all()
    return sum(1 for h in holders if h and h.split(":")[1] == str(pid))


def check_schedulers(engine, watch: Watch, env: dict, logs: Path, schedulers: list) -> dict:
    pids = {p.pid for p in schedulers}
    active = wait(lambda: watch.holder() in pids and watch.holder(), 60, "a scheduler to become active")
    wait(lambda: scheduled_runs_by(engine, active) >= 2, 60, "the active scheduler to run jobs")
    [standby] = [p for p in schedulers if p.pid != active]
    standby_runs_before = scheduled_runs_by(engine, standby.pid)
    killed_at = time.monotonic()
    os.kill(active, signal.SIGKILL)
    wait(lambda: watch.holder() == standby.pid, 60, "the standby to take over")
    takeover = time.monotonic() - killed_at
    wait(lambda: scheduled_runs_by(engine, standby.pid) >= 1, 60, "a run by the new active scheduler")
    restarted = start_scheduler(env, logs, 3)  # the killed node's scheduler comes back, as systemd would
    return {"active": active, "standby": standby, "restarted": restarted, "takeover_s": takeover,
            "standby_runs_while_standing_by": standby_runs_before}


def check_session(nodes: list[Node], email: str) -> dict:
    import requests

    one, two = nodes
    session = requests.Session()
    page = session.get(f"{one.base}/login", timeout=30)
    match = CSRF.search(page.text)
    assert match, "no csrf_token on /login"
    signed_in = session.post(f"{one.base}/login", timeout=30, allow_redirects=False,
                             data={"csrf_token": match.group(1) or match.group(2), "email": email,
                                   "password": PASSWORD})
    on_two = session.get(f"{two.base}/", timeout=30, allow_redirects=False)
    stranger = requests.get(f"{two.base}/", timeout=30, allow_redirects=False)
    return {"sign_in_on_1": signed_in.status_code, "home_on_2": on_two.status_code,
            "home_on_2_signed_out": stranger.status_code,
            "ok": signed_in.status_code == 302 and on_two.status_code == 200 and stranger.status_code == 302}


def check_cursor(nodes: list[Node], token: str) -> dict:
    import requests

    one, two = nodes
    headers = {"Authorization": f"Bearer {token}", "Accept": TAXII}
    collections = requests.get(f"{one.base}/taxii2/api/collections/", headers=headers, timeout=30).json()
    [intake] = [c for c in collections["collections"] if c.get("alias") == "intake"]
    objects = f"/taxii2/api/collections/{intake['id']}/objects/"
    first = requests.get(f"{one.base}{objects}?limit=2", headers=headers, timeout=30).json()
    second = requests.get(f"{two.base}{objects}", params={"limit": 2, "next": first["next"]}, headers=headers,
                          timeout=30)
    ids_one = {o["id"] for o in first.get("objects", [])}
    ids_two = {o["id"] for o in second.json().get("objects", [])} if second.status_code == 200 else set()
    return {"page_1_on_1": len(ids_one), "next_on_2": second.status_code, "page_2_on_2": len(ids_two),
            "ok": bool(first.get("more")) and second.status_code == 200 and bool(ids_two)
            and not ids_one & ids_two}


QUEUE = (
    "import sys\n"
    "from cert_share import create_app\n"
    "from cert_share.extensions import db\n"
    "from cert_share.mail.outbox import enqueue\n"
    "app = create_app(serving=False)\n"
    "with app.app_context():\n"
    "    for i in range(int(sys.argv[1])):\n"
    "        enqueue(db.session, to=f'soc{i}@bank.example', subject=f'cluster {i}', text='t', tlp='clear',"
    " kind='alert', hourly_cap=10**6)\n"
    "    db.session.commit()\n"
)


def check_mail(engine, env: dict, smtp, messages: int, timeout: float) -> dict:
    from sqlalchemy import text

    subprocess.run([sys.executable, "-c", QUEUE, str(messages)], env=env, cwd=ROOT, check=True)
    manual_stop, manual_runs = threading.Event(), Counter()

    def manual_sender() -> None:
        while not manual_stop.is_set():
            subprocess.run([str(BIN / "cert-share"), "jobs", "run", "send-mail"], env=env, cwd=ROOT,
                           capture_output=True)
            manual_runs["runs"] += 1

    sender = threading.Thread(target=manual_sender, daemon=True)
    sender.start()

    def outstanding() -> int:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM outbox WHERE subject LIKE '%cluster %' "
                                     "AND state IN ('pending', 'sending')")).scalar()

    try:
        wait(lambda: outstanding() == 0, timeout, "the schedulers to deliver the queued mail", step=0.2)
    finally:
        manual_stop.set()
        sender.join(timeout=60)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT message_id, state FROM outbox WHERE subject LIKE '%cluster %'")).all()
    queued = {message_id for message_id, _state in rows}
    received = Counter(i for i in smtp.handler.message_ids if i in queued)
    return {"queued": len(queued), "delivered": len(received), "states": dict(Counter(s for _m, s in rows)),
            "delivered_twice": sum(1 for n in received.values() if n > 1), "manual_runs": manual_runs["runs"],
            "ok": len(queued) == messages and len(received) == messages and all(n == 1 for n in received.values())}


def rolling_restart(nodes: list[Node], pause: float) -> list[str]:
    steps = []
    for node in nodes:
        assert node.proc is not None
        node.proc.send_signal(signal.SIGHUP)  # new workers, the old ones finish their requests
        time.sleep(pause)
        wait(node.ready, 60, f"{node.name} after SIGHUP")
        steps.append(f"{node.name} SIGHUP")
    for node in nodes:
        status = node.stop()  # SIGTERM: stops accepting, finishes what it has
        node.start()
        time.sleep(pause)
        steps.append(f"{node.name} stop (exit {status}) and start")
    return steps


def stored_reports(engine) -> Counter:
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id FROM incidents WHERE external_id LIKE :p"),
                            {"p": PREFIX + "%"}).scalars().all()
    return Counter(rows)


# ---- the run --------------------------------------------------------------------------------------

def run(args) -> bool:
    from sqlalchemy import create_engine

    from cert_share import _normalize_db_url
    from tests.integration.mail_helpers import SmtpServer

    database_url, maintenance = database_urls(args.database_url)
    name = database_url.rsplit("/", 1)[1]
    admin_sql(maintenance, f'CREATE DATABASE "{name}"')
    logs = Path(tempfile.mkdtemp(prefix="cert-share-cluster-"))
    smtp = SmtpServer()
    smtp.handler.seconds_per_message = 0.02  # a relay slow enough that the senders overlap
    smtp.start()
    redis = None if args.no_redis else args.redis_url
    if redis and not redis_answers(redis):
        print(f"Redis at {redis} does not answer: rate limits per process")
        redis = None
    env = dict(os.environ, CERT_SHARE_ENV="production", DATABASE_URL=database_url, PYTHONPATH=str(ROOT),
               SECRET_KEY=uuid.uuid4().hex + uuid.uuid4().hex, SESSION_COOKIE_SECURE="0",
               SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port), SMTP_TIMEOUT="5",
               MAIL_FROM="cert@cert.example", MAIL_HOURLY_CAP="100000", JOB_SEND_MAIL_MINUTES="0.02",
               SCHEDULER_POLL_SECONDS="1", MAIL_LEASE_SECONDS="5", MAIL_BATCH_SIZE="5",
               API_RATE_LIMIT="100000 per minute", TAXII_RATE_LIMIT="100000 per minute",
               CERT_SHARE_DATA_DIR=str(logs))
    env.pop("REDIS_URL", None)
    if redis:
        env["REDIS_URL"] = redis
    nodes = [Node("node-1", env, logs), Node("node-2", env, logs)]
    env["BASE_URL"] = nodes[0].base
    engine = create_engine(_normalize_db_url(database_url))
    processes: list[subprocess.Popen] = []
    load = watch = None
    results: dict = {"failover_limit": args.failover_seconds}
    try:
        cli(env, "db", "upgrade")
        slug = cli(env, "org", "add", "--name", "Cluster Bank", "--sector", "financial-services").split()[-1]
        token = cli(env, "token", "add", "--org", slug).split()[-1]
        email = "soc@cluster-bank.example"
        cli(dict(env, CERT_SHARE_PASSWORD=PASSWORD), "user", "add", "--email", email, "--org", slug,
            "--role", "analyst")
        for node in nodes:
            node.start()
        schedulers = [start_scheduler(env, logs, 1), start_scheduler(env, logs, 2)]
        processes += schedulers
        watch = Watch(engine)
        watch.thread.start()
        load = Load(nodes, token, args.clients)
        load.start()
        started = time.monotonic()
        deadline = Deadline(args.seconds)

        results["schedulers"] = check_schedulers(engine, watch, env, logs, schedulers)
        processes.append(results["schedulers"]["restarted"])
        results["session"] = check_session(nodes, email)
        wait(lambda: len(load.acknowledged) >= 4, 60, "a few reports to be stored")
        results["cursor"] = check_cursor(nodes, token)
        results["mail"] = check_mail(engine, env, smtp, args.messages, timeout=max(30.0, deadline.left()))
        results["restart"] = rolling_restart(nodes, pause=max(1.0, min(5.0, deadline.left() / 8)))
        time.sleep(max(2.0, deadline.left()))  # the rest of the run under load
        load.finish()
        results["load_s"] = time.monotonic() - started
        watch.stop.set()
        watch.thread.join()
    finally:
        if load is not None:
            load.stop.set()
        if watch is not None:
            watch.stop.set()
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.stop()
        for proc in processes:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
        smtp.stop()
        stored = stored_reports(engine) if load is not None else Counter()
        engine.dispose()
        admin_sql(maintenance, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    held = report(results, load, watch, stored, redis, logs)
    if held:
        shutil.rmtree(logs, ignore_errors=True)  # the processes' logs are kept only when a guarantee broke
    return held


def report(results: dict, load: Load, watch: Watch, stored: Counter, redis: str | None, logs: Path) -> bool:
    s = results["schedulers"]
    pids = {s["active"], s["standby"].pid, s["restarted"].pid}
    most_locks = max(locks for _t, _h, locks in watch.samples)
    strangers = {h for _t, h, _l in watch.samples if h is not None and h not in pids}
    lost = sorted(load.acknowledged - set(stored))
    doubled = {k: n for k, n in stored.items() if n > 1}
    checks = {
        "one active scheduler": most_locks <= 1 and not strangers and s["standby_runs_while_standing_by"] == 0,
        f"failover within {results['failover_limit']:g} s": s["takeover_s"] < results["failover_limit"],
        "session across nodes": results["session"]["ok"],
        "TAXII cursor across nodes": results["cursor"]["ok"],
        "mail once": results["mail"]["ok"],
        "rolling restart: no report lost or doubled": not lost and not doubled and not load.refused,
    }
    print(f"cluster: 2 gunicorn nodes × 2 workers, 2 schedulers, PostgreSQL, "
          f"{'Redis ' + redis if redis else 'no Redis'}, {load.clients} clients, {results['load_s']:.0f} s under load")
    print(f"  schedulers: {len(watch.samples)} samples, at most {most_locks} advisory lock(s) granted at once, "
          f"standby ran {s['standby_runs_while_standing_by']} scheduled jobs while standing by; active killed "
          f"(SIGKILL), standby took over in {s['takeover_s']:.1f} s")
    print(f"  session: sign-in on node 1 {results['session']['sign_in_on_1']}, '/' on node 2 with its cookie "
          f"{results['session']['home_on_2']}, without {results['session']['home_on_2_signed_out']}")
    c = results["cursor"]
    print(f"  TAXII: page 1 on node 1 {c['page_1_on_1']} objects, its next on node 2 {c['next_on_2']} "
          f"with {c['page_2_on_2']} other objects")
    m = results["mail"]
    print(f"  mail: queued {m['queued']}, delivered {m['delivered']}, delivered twice {m['delivered_twice']} "
          f"(two schedulers and {m['manual_runs']} manual send-mail runs), outbox states {m['states']}")
    print(f"  rolling restart: {'; '.join(results['restart'])}")
    print(f"  reports: sent {load.sent}, acknowledged {len(load.acknowledged)}, stored {sum(stored.values())}, "
          f"lost {len(lost)}, doubled {len(doubled)}, refused {len(load.refused)}; answers retried: "
          + (", ".join(f"{k} ×{v}" for k, v in sorted(load.retried.items())) or "none"))
    for refusal in load.refused[:3]:
        print(f"    refused {refusal}")
    broken = [name for name, ok in checks.items() if not ok]
    print("  guarantees: " + ("all held" if not broken else "BROKEN: " + ", ".join(broken) + f" (logs in {logs})"))
    return not broken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL server (its database name is ignored: a fresh one is made and dropped)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--no-redis", action="store_true", help="rate limits per process, as without Redis")
    parser.add_argument("--seconds", type=float, default=120,
                        help="how long the run lasts under load, at least as long as its steps take")
    parser.add_argument("--clients", type=int, default=4, help="threads posting reports")
    parser.add_argument("--failover-seconds", type=float, default=5,
                        help="longest acceptable takeover by the standby scheduler (SCHEDULER_POLL_SECONDS is 1)")
    parser.add_argument("--messages", type=int, default=200, help="mail queued for the exactly-once check")
    args = parser.parse_args()
    sys.exit(0 if run(args) else 1)


if __name__ == "__main__":
    main()
