#!/usr/bin/env python
"""CERT workspace benchmark: dashboard and triage queue render time with many reports.

Builds a migrated database (SQLite; with --database-url a scratch PostgreSQL database) with --n
reports (default 100,000) bulk-inserted over two years across --orgs member organizations (NIS2
and DORA regimes): most older reports closed with their notification and final report filed, the
last weeks' reports open, a share of them overdue. Then a CERT analyst (signed in through /login
and the TOTP step) requests each page --requests times with the Flask test client (full stack:
routing, session, SQL, templates) and the p50/p95 render times are printed. Target: < 200 ms
for the dashboard and the queue.

    .venv/bin/python bench/workspace.py                  # 100,000 reports
    .venv/bin/python bench/workspace.py --n 10000 --requests 20
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.scratch_db import add_argument, scratch_database  # noqa: E402
from bench.scratch_db import label as database_label  # noqa: E402

SECTORS = ["financial-services", "telecommunications", "energy", "healthcare", "transportation",
           "government-local", "infrastructure-water", "technology"]
CLASSES = ["fraud/phishing", "malicious-code/infected-system", "availability/ddos", "intrusions/system-compromise",
           "information-gathering/scanner", "intrusion-attempts/brute-force", "vulnerable/vulnerable-system"]
SEVERITIES = ["low", "medium", "medium", "high", "high", "critical"]
TLPS = ["clear", "green", "green", "amber", "amber+strict", "red"]
PASSWORD = "bench password 1234"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def build(app, n: int, orgs: int, seed: int) -> dict:
    """Organizations, one CERT analyst with TOTP, and n reports bulk-inserted (with phases)."""
    import pyotp
    from sqlalchemy import insert

    from cert_share.extensions import db
    from cert_share.models import Incident, PhaseUpdate, User
    from cert_share.services.organizations import create_organization
    from cert_share.services.users import create_user

    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    with app.app_context():
        cert = create_organization(db.session, name="National CERT", sector="government-national", kind="cert")
        members = [create_organization(db.session, name=f"Member {i:03d}", sector=SECTORS[i % len(SECTORS)])
                   for i in range(orgs)]
        create_user(db.session, email="duty@cert.example", org=cert, role="cert-analyst", password=PASSWORD)
        secret = pyotp.random_base32()
        user = db.session.query(User).filter_by(email="duty@cert.example").one()
        user.totp_secret, user.totp_enabled = secret, True
        db.session.commit()
        member_ids = [m.id for m in members]
        dora = {m.id for m in members if m.sector == "financial-services"}  # DORA-like regime by default

        t0 = time.perf_counter()
        span = timedelta(days=730)
        incident_rows, phase_rows = [], []
        open_from = now - timedelta(days=21)
        for i in range(1, n + 1):
            created = now - span + span * (i / n)  # ids ascend with time, like real intake
            detected = created - timedelta(minutes=rng.randint(5, 600))
            is_open = created >= open_from
            status = rng.choice(["new", "acknowledged", "investigating"]) if is_open else \
                rng.choice(["closed"] * 9 + ["false-positive"])
            ack = None if status == "new" else created + timedelta(minutes=rng.randint(2, 240))
            incident_rows.append({
                "id": i, "org_id": rng.choice(member_ids), "source": "api", "stix_id": f"incident--bench-{i:010d}",
                "stix_modified": created, "title": f"{rng.choice(CLASSES)} report {i}",
                "description": "", "classification": rng.choice(CLASSES), "severity": rng.choice(SEVERITIES),
                "tlp": rng.choice(TLPS), "status": status, "detected_at": detected,
                "affected_services": "", "impact": "", "cross_border": [], "personal_data": False,
                "share_reporter": False, "created_at": created,
                "updated_at": created,
                "acknowledged_at": ack if ack else None,
                "closed_at": (ack + timedelta(days=3)) if status in ("closed", "false-positive")
                else None,
            })
            # Closed reports filed their phases; a third of the open ones filed the notification.
            org_id = incident_rows[-1]["org_id"]
            second = "intermediate" if org_id in dora else "notification"  # regime's 72 h phase
            if not is_open or rng.random() < 0.33:
                phase_rows.append({"incident_id": i, "phase": second, "summary": "bench", "details": {},
                                   "submitted_at": (detected + timedelta(hours=48))})
            if not is_open:
                phase_rows.append({"incident_id": i, "phase": "final-report", "summary": "bench", "details": {},
                                   "submitted_at": (detected + timedelta(days=20))})
            if len(incident_rows) >= 10_000:
                db.session.execute(insert(Incident.__table__), incident_rows)
                db.session.execute(insert(PhaseUpdate.__table__), phase_rows)
                incident_rows, phase_rows = [], []
        if incident_rows:
            db.session.execute(insert(Incident.__table__), incident_rows)
            db.session.execute(insert(PhaseUpdate.__table__), phase_rows)
        db.session.commit()
        # The rows intake and triage keep per report, computed by the same service in batches.
        from cert_share.services.deadline_tracking import track_many

        track_many(db.session, range(1, n + 1))
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        load_s = time.perf_counter() - t0
        open_count = db.session.query(Incident).filter(Incident.status.in_(("new", "acknowledged",
                                                                             "investigating"))).count()
    return {"secret": secret, "load_seconds": round(load_s, 1), "open": open_count}


def sign_in(app, secret: str):
    import re

    import pyotp

    client = app.test_client()

    def token(path):
        html = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    resp = client.post("/login", data={"csrf_token": token("/login"), "email": "duty@cert.example",
                                       "password": PASSWORD})
    assert resp.status_code == 302, resp.status_code
    resp = client.post("/login/totp", data={"csrf_token": token("/login/totp"), "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 302 and client.get("/").status_code == 200, "sign-in failed"
    return client


def measure(client, path: str, requests: int) -> dict:
    client.get(path)  # warm the caches (templates, statement cache)
    times, cpu = [], []
    for _ in range(requests):
        t0, c0 = time.perf_counter(), time.process_time()
        resp = client.get(path)
        body = resp.get_data()
        times.append((time.perf_counter() - t0) * 1000)
        # CPU time of this process (Python + SQLite, which runs in-process): what the request
        # costs regardless of other load on the machine.
        cpu.append((time.process_time() - c0) * 1000)
        assert resp.status_code == 200, (path, resp.status_code)
    return {"path": path, "p50_ms": round(statistics.median(times), 1), "p95_ms": round(pct(times, 95), 1),
            "max_ms": round(max(times), 1), "cpu_p50_ms": round(statistics.median(cpu), 1),
            "cpu_p95_ms": round(pct(cpu, 95), 1), "bytes": len(body)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="reports to load")
    parser.add_argument("--orgs", type=int, default=40, help="member organizations")
    parser.add_argument("--requests", type=int, default=50, help="requests per page")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--db", help="SQLite file to build (kept), or to reuse when it exists")
    add_argument(parser)
    args = parser.parse_args()
    if args.db:
        run(args, f"sqlite:///{os.path.abspath(args.db)}", reuse=os.path.exists(args.db))
        return
    with scratch_database(args.database_url, Path(tempfile.mkdtemp(prefix="cs-bench-ws-"))) as url:
        run(args, url, reuse=False)


def run(args, url: str, *, reuse: bool) -> None:
    from cert_share import create_app
    from cert_share.schema_upgrade import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": True,
                      "SCHEDULER_ENABLED": False, "RATELIMIT_ENABLED": False, "LOGIN_RATE_LIMIT": "1000 per minute"})
    if reuse:  # measure again on a database built by an earlier run (same --n)
        from cert_share.extensions import db
        from cert_share.models import Incident, User

        with app.app_context():
            upgrade(app)
            secret = db.session.query(User).filter_by(email="duty@cert.example").one().totp_secret
            open_count = db.session.query(Incident).filter(
                Incident.status.in_(("new", "acknowledged", "investigating"))).count()
            args.n = db.session.query(Incident).count()
        info = {"secret": secret, "load_seconds": "n/a (reused database)", "open": open_count}
    else:
        with app.app_context():
            upgrade(app)
        info = build(app, args.n, args.orgs, args.seed)
    client = sign_in(app, info["secret"])
    pages = ["/", "/incidents", "/incidents?page=20", "/incidents?severity=critical&sector=energy",
             "/incidents?q=phishing", "/incidents?overdue=1", "/incidents?status=all",
             f"/incidents/{args.n // 2}"]
    results = [measure(client, p, args.requests) for p in pages]
    head = (f"workspace bench: {args.n:,} reports ({info['open']:,} open), {args.orgs} orgs, {database_label(url)}, "
            f"Flask test client, {args.requests} requests/page; build {info['load_seconds']} s; "
            f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
    print(head)
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p50':>8} {'cpu p95':>8} {'KiB':>5}")
    for r in results:
        print(f"{r['path']:44} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8} {r['cpu_p50_ms']:>8} "
              f"{r['cpu_p95_ms']:>8} {r['bytes'] // 1024:>5}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"summary": head, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
