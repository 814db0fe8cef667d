"""Can an operator follow a request through the logs and watch the platform from Prometheus?

Logs: JSON lines with the request id on every line of a request, the id echoed to the client,
no credential in any line (checked through a real gunicorn, access log included). Metrics: the
scrape endpoint's series after real requests and job runs, and who may scrape it.
"""
from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from flask import request
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from cert_share import create_app, logs
from cert_share.config import SettingError
from cert_share.extensions import csrf, db
from cert_share.jobs.lock import SchedulerLock
from cert_share.mail.outbox import enqueue
from cert_share.models import OutboxMessage
from tests.conftest import PASSWORD, auth
from tests.integration.taxii_world import API, build_world
from tests.integration.waiting import wait_until

TOKEN = "m" * 40
TAXII = "application/taxii+json;version=2.1"
ROOT = Path(__file__).resolve().parents[2]


def scrape(client) -> dict[str, dict[tuple, float]]:
    response = client.get("/internal/metrics", headers=auth(TOKEN))
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return parse(response.get_data(as_text=True))


def parse(text: str) -> dict[str, dict[tuple, float]]:
    """{series name: {sorted label pairs: value}} of one scrape."""
    series: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return series


def value(series, name, **labels) -> float:
    return series[name][tuple(sorted(labels.items()))]


@pytest.fixture
def log_lines(app):
    """Every line the app logs, as the server process writes it (LOG_FORMAT=json)."""
    stream, root = io.StringIO(), logging.getLogger()
    level = root.level
    handler = logs.configure({"LOG_FORMAT": "json", "LOG_LEVEL": "debug"}, stream=stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


# -- logs ---------------------------------------------------------------------------------------

def test_every_line_logged_during_a_request_carries_its_id_which_the_client_gets_back(app, factory, log_lines):
    bank = factory.org("First Bank")
    token = factory.token(bank)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: an error is a 500 and a log line

    @app.get("/_probe/<int:n>")
    def probe(n):
        logging.getLogger("cert_share.probe").info("working on %d", n)
        if n == 2:
            raise RuntimeError("the probe broke")
        return "ok"

    client = app.test_client()
    response = client.get("/_probe/1", headers={"X-Request-ID": "lb-7f3a.42:1"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.42:1"
    assert client.get("/_probe/2", headers=auth(token)).status_code == 500

    lines = log_lines()
    [first] = [line for line in lines if line["message"] == "working on 1"]
    assert first["request_id"] == "lb-7f3a.42:1" and first["logger"] == "cert_share.probe"
    assert first["level"] == "INFO" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert (first["method"], first["path"], first["remote_addr"]) == ("GET", "/_probe/1", "127.0.0.1")
    failing = [line for line in lines if line.get("path") == "/_probe/2"]
    assert len({line["request_id"] for line in failing}) == 1 and len(failing) >= 2
    error = failing[-1]  # the unhandled error, with its traceback
    assert error["level"] == "ERROR" and "RuntimeError: the probe broke" in error["exception"]
    assert re.fullmatch(r"[0-9a-f]{32}", error["request_id"])  # none sent: one was made


def test_text_lines_carry_the_same_fields_for_a_person_to_read(app):
    stream, root = io.StringIO(), logging.getLogger()
    level = root.level
    handler = logs.configure({"LOG_FORMAT": "text", "LOG_LEVEL": "info"}, stream=stream)
    try:
        with app.test_request_context("/reports", headers={"X-Request-ID": "abc-1"},
                                      environ_base={"REMOTE_ADDR": "192.0.2.8"}):
            logging.getLogger("cert_share.probe").info("token=%s", "cs_" + "a" * 43)
            logging.getLogger("cert_share.probe").debug("below LOG_LEVEL")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    [line] = stream.getvalue().splitlines()
    assert line.endswith(" INFO cert_share.probe [abc-1]: token=[redacted] "
                         "(method=GET path=/reports remote_addr=192.0.2.8)"), line


@pytest.mark.parametrize("sent", ["two words", "x" * 129, "id\r\nSet-Cookie: a=b", "<script>", ""])
def test_a_malformed_request_id_is_replaced_not_echoed(client, sent):
    # Given as a raw server hands it over (the test client refuses to send a header with a newline).
    response = client.get("/api/v1/openapi.json", environ_overrides={"HTTP_X_REQUEST_ID": sent})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_a_careless_line_with_credentials_reaches_the_log_without_them(app, factory, log_lines):
    token = factory.token(factory.org("First Bank"))

    @app.post("/_probe")
    @csrf.exempt
    def probe():
        log = logging.getLogger("cert_share.probe")
        log.warning("Authorization: Bearer %s; form %s", token, dict(request.form))
        log.error("login failed", exc_info=ValueError(f"bad password={PASSWORD} for {token}"))
        return "ok"

    assert app.test_client().post("/_probe", data={"password": PASSWORD}).status_code == 200
    lines = [line for line in log_lines() if line["logger"] == "cert_share.probe"]
    assert len(lines) == 2 and "ValueError" in lines[1]["exception"]
    assert token not in json.dumps(lines) and PASSWORD not in json.dumps(lines)


def test_redaction_blanks_every_kind_of_credential(factory):
    token = factory.token(factory.org("First Bank"))
    samples = {
        f"Authorization: Bearer {token}": token,
        "authorization='Basic Zmlyc3QtYmFuazpjc19zZWNyZXQ='": "Zmlyc3QtYmFuazpjc19zZWNyZXQ=",
        f"token {token} refused": token,
        "POST /login email=a@b.example&password=hunter2&csrf_token=IjU5": "hunter2",
        "Cookie: session=eyJfZnJlc2giOmZhbHNlfQ.Z1; remember_token=7|abc": "eyJfZnJlc2giOmZhbHNlfQ",
        "{'SMTP_PASSWORD': 's3cr3t-pw', 'SMTP_HOST': 'mx'}": "s3cr3t-pw",
        "could not connect to postgresql://cert:db-pass@db.internal/cert": "db-pass",
        "OBSERVABLE_HASH_KEYS=k2:bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0x,k1:b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0x":
            "b2xkLWtleS1vbGQta2V5",
        "{'OBSERVABLE_HASH_KEYS': 'k2:bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0x,k1:b2xkLWtleS1vbGQ='}":
            "bmV3LWtleS1uZXcta2V5",
        'export observable_hash_keys="k2:bmV3LWtleS1uZXcta2V5, k1:b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0x"':
            "b2xkLWtleS1vbGQta2V5",
    }
    for text, secret in samples.items():
        assert secret not in logs.redact(text), text
    assert logs.redact("job send-mail (ok): 3 sent") == "job send-mail (ok): 3 sent"


# -- the real server: access log, JSON only, no secret ------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(app, database_url, tmp_path):
    port, out = _free_port(), tmp_path / "server.log"
    env = {**os.environ, "CERT_SHARE_ENV": "test", "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
           "MAILDIR": str(tmp_path / "maildir"), "LOG_FORMAT": "json", "LOG_LEVEL": "debug",
           "METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")}
    with out.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:cert_share.gunicorn_conf",
                                 "--workers", "2", "--bind", f"127.0.0.1:{port}", "cert_share:worker_app()"],
                                env=env, stdout=sink, stderr=subprocess.STDOUT)

        def accepting():
            assert proc.poll() is None, out.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        try:
            wait_until(accepting, timeout=60, what="gunicorn to accept connections")
            yield f"http://127.0.0.1:{port}", out
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.mark.slow
def test_through_gunicorn_every_line_is_json_with_the_access_line_and_no_secret(app, factory, gunicorn):
    url, out = gunicorn
    bank = factory.org("First Bank")
    token = factory.token(bank, name="soc-feed")
    user = factory.user(bank, role="analyst")
    web = requests.Session()
    login_page = web.get(f"{url}/login", timeout=30)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page.text).group(1)
    signed_in = web.post(f"{url}/login", data={"csrf_token": csrf, "email": user.email, "password": PASSWORD},
                         headers={"X-Request-ID": "signin-1"}, timeout=30)
    assert signed_in.status_code == 200 and "session" in web.cookies
    web.post(f"{url}/login", data={"csrf_token": csrf, "email": user.email, "password": "wrong " + PASSWORD},
             timeout=30)
    api = requests.get(f"{url}/api/v1/incidents?token={token}", headers={**auth(token), "X-Request-ID": "api-1"},
                       timeout=30)
    assert api.status_code == 200 and api.headers["X-Request-ID"] == "api-1"
    taxii = requests.get(f"{url}{API}collections/", auth=(bank.slug, token), headers={"Accept": TAXII}, timeout=30)
    assert taxii.status_code == 200
    assert web.get(f"{url}/", headers={"X-Request-ID": "page-1"}, timeout=30).status_code == 200
    # Requests by route: the same rule however many workers served it (multiprocess mode).
    for _ in range(6):
        assert requests.get(f"{url}/api/v1/openapi.json", timeout=30).status_code == 200
    series = parse(requests.get(f"{url}/internal/metrics", headers=auth(TOKEN), timeout=30).text)
    for route, count in (("/api/v1/openapi.json", 6), ("/api/v1/incidents", 1)):
        assert value(series, "cert_share_http_requests_total", route=route, method="GET", status="200") == count

    def access_line(rid):
        return [line for line in map(json.loads, out.read_text().splitlines())
                if line["logger"] == "gunicorn.access" and line.get("request_id") == rid]

    [line] = wait_until(lambda: access_line("api-1"), what="the access line")
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/incidents", 200)
    assert line["actor"] == f"token:{bank.slug}/soc-feed" and line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float) and line["level"] == "INFO"
    assert access_line("signin-1")[0]["status"] == 302
    assert access_line("page-1")[0]["actor"] == f"user:{user.id}"
    text = out.read_text()
    lines = [json.loads(raw) for raw in text.splitlines()]  # every line is one JSON object
    assert {"gunicorn.error", "gunicorn.access"} <= {line["logger"] for line in lines}
    secrets = [token, PASSWORD, web.cookies["session"], TOKEN, bank.slug + ":" + token]
    assert [secret for secret in secrets if secret in text] == []
    assert "Authorization" not in text and "Cookie" not in text


# -- metrics ------------------------------------------------------------------------------------

def test_off_unless_configured(client):
    assert client.get("/internal/metrics").status_code == 404
    assert client.get("/internal/metrics", headers=auth(TOKEN)).status_code == 404


def test_a_token_protects_the_scrape(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    missing = client.get("/internal/metrics")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "METRICS_TOKEN" in missing.get_data(as_text=True)
    assert client.get("/internal/metrics", headers=auth("n" * 40)).status_code == 403
    assert client.get("/internal/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/internal/metrics", headers=auth(TOKEN)).status_code == 200
    assert "cert_share_database_up 1.0" in client.get("/internal/metrics", headers=auth(TOKEN)).get_data(as_text=True)


def test_an_allowed_network_opens_it_only_to_a_direct_scraper_from_there(app, client):
    app.config["METRICS_ALLOWED_NETWORKS"] = "10.0.0.0/8, 127.0.0.1"
    assert client.get("/internal/metrics").status_code == 200  # the test client is 127.0.0.1
    proxied = client.get("/internal/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert proxied.status_code == 403 and "proxy" in proxied.get_data(as_text=True)
    app.config["METRICS_ALLOWED_NETWORKS"] = "10.0.0.0/8"
    outside = client.get("/internal/metrics")
    assert outside.status_code == 403 and "127.0.0.1" in outside.get_data(as_text=True)
    app.config.update(METRICS_ALLOWED_NETWORKS="127.0.0.0/8", METRICS_TOKEN=TOKEN)  # both: both needed
    assert client.get("/internal/metrics").status_code == 401
    assert client.get("/internal/metrics", headers=auth(TOKEN)).status_code == 200


@pytest.mark.parametrize("settings, refusal", [
    ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN is 5 characters long"),
    ({"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8, intranet"}, "METRICS_ALLOWED_NETWORKS must be"),
])
def test_a_weak_token_or_a_malformed_network_is_refused_at_start(tmp_path, settings, refusal):
    with pytest.raises(SettingError, match=refusal):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **settings}, env="development")


def test_the_scrape_counts_requests_by_route_and_reads_the_platform_state(app, factory, runner, client, tmp_path):
    app.config["METRICS_TOKEN"] = TOKEN
    world = build_world(app, factory)
    bank_token = world.tokens["bank"]
    all_members = world.collection("all-members")
    for _ in range(3):
        assert client.get(f"{API}collections/{all_members.id}/objects/",
                          headers={**auth(bank_token), "Accept": TAXII}).status_code == 200
    assert client.get("/api/v1/incidents/999999", headers=auth(bank_token)).status_code == 404
    assert client.get("/no/such/page").status_code == 404
    client.open("/api/v1/openapi.json", method="BREW")

    # Jobs: send-mail fails twice on a misconfiguration, check-deadlines runs fine.
    assert runner.invoke(args=["jobs", "run", "check-deadlines"]).exit_code == 0
    app.config["MAIL_BATCH_SIZE"] = "lots"
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 1
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 1
    # A partner feed that cannot be reached; a dead letter and a waiting message; a scheduler.
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "down.toml").write_text(f'name = "partner-down"\nkind = "taxii21"\n'
                                     f'url = "http://127.0.0.1:{_free_port()}/api/collections/x/"\n'
                                     f'source_org = "{world.orgs["partner"].slug}"\ndefault_tlp = "amber"\n')
    app.config["FEEDS_DIR"] = str(feeds)
    assert runner.invoke(args=["jobs", "run", "pull-feeds"]).exit_code == 0
    with app.app_context():
        for to in ("gone@bank.example", "soc@bank.example"):
            enqueue(db.session, to=to, subject="alert", text="t", kind="alert")
        db.session.commit()
        dead = db.session.execute(select(OutboxMessage).where(OutboxMessage.to == "gone@bank.example")).scalar_one()
        dead.state = "dead"
        db.session.commit()
        lock = SchedulerLock(db.engine, holder=f"{socket.gethostname()[:60]}:4242:abcd1234")
        assert lock.try_acquire()

    series = scrape(client)
    objects_rule = "/taxii2/<api_root>/collections/<collection_id>/objects/"
    assert value(series, "cert_share_http_requests_total", route=objects_rule, method="GET", status="200") == 3
    assert value(series, "cert_share_http_requests_total", route="/api/v1/incidents/<int:incident_id>",
                 method="GET", status="404") == 1
    assert value(series, "cert_share_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert value(series, "cert_share_http_requests_total", route="unmatched", method="OTHER", status="405") == 1
    assert value(series, "cert_share_http_request_duration_seconds_count", route=objects_rule, method="GET") == 3
    assert value(series, "cert_share_taxii_polls_last_day", collection="all-members") == 3
    assert all(count == 0 for labels, count in series["cert_share_taxii_polls_last_day"].items()
               if labels != (("collection", "all-members"),))
    assert value(series, "cert_share_job_runs_last_day", job_name="send-mail", status="failed") == 2
    assert value(series, "cert_share_job_failures_since_success", job_name="send-mail") == 2
    assert value(series, "cert_share_job_failures_since_success", job_name="check-deadlines") == 0
    assert value(series, "cert_share_job_last_success_timestamp_seconds", job_name="check-deadlines") > 1.7e9
    assert value(series, "cert_share_job_last_success_timestamp_seconds", job_name="send-mail") == 0
    assert value(series, "cert_share_job_runs_last_day", job_name="situation-mail", status="ok") == 0  # never ran
    assert value(series, "cert_share_feed_pull_failing", feed="partner-down") == 1
    assert value(series, "cert_share_outbox_messages", state="dead") == 1
    assert value(series, "cert_share_outbox_messages", state="pending") == 1
    assert value(series, "cert_share_outbox_messages", state="digest") == 0
    assert {dict(labels)["state"] for labels in series["cert_share_partner_deliveries"]} == {"pending", "sending",
                                                                                              "dead"}
    assert value(series, "cert_share_scheduler_active") == 1
    assert value(series, "cert_share_scheduler_leader_on_this_host") == 1
    assert value(series, "cert_share_database_up") == 1

    # send-mail works again: its failures stop counting; the scheduler goes: no active scheduler.
    app.config["MAIL_BATCH_SIZE"] = 100
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 0
    lock.release()
    series = scrape(client)
    assert value(series, "cert_share_job_failures_since_success", job_name="send-mail") == 0
    assert value(series, "cert_share_scheduler_active") == 0
    assert value(series, "cert_share_scheduler_leader_on_this_host") == 0


def test_a_database_without_its_schema_is_a_series_not_an_error(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/empty.db",
                      "METRICS_TOKEN": TOKEN})
    client = app.test_client()
    client.get("/api/v1/openapi.json")  # answered, whatever the schema's state: counted
    series = scrape(client)
    assert value(series, "cert_share_database_up") == 0
    assert "cert_share_http_requests_total" in series


# -- the alert rules ----------------------------------------------------------------------------

def test_the_alert_rules_parse_and_watch_only_series_that_exist(app, client):
    yaml = pytest.importorskip("yaml")  # PyYAML comes with the test tools (schemathesis), not the app
    rules = yaml.safe_load((ROOT / "docs/production/alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert all({"alert", "expr", "labels", "annotations"} <= set(rule) for rule in alerts)
    app.config["METRICS_TOKEN"] = TOKEN
    assert client.get("/api/v1/openapi.json").status_code == 200
    text = client.get("/internal/metrics", headers=auth(TOKEN)).get_data(as_text=True)
    suffixes = {"counter": ["", "_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    served = {name + suffix for name, kind in re.findall(r"^# TYPE (\S+) (\w+)$", text, re.M)
              for suffix in suffixes[kind]}
    # probe_success comes from the blackbox exporter probing /readyz; up from Prometheus itself.
    known = served | {"probe_success", "up"}
    used = {name for rule in alerts for name in re.findall(r"\b(?:cert_share_\w+|probe_success|up)\b", rule["expr"])}
    assert used - known == set()
    watched = " ".join(rule["expr"] for rule in alerts)
    for failure in ("outbox_messages", "job_failures_since_success", "feed_pull_failing", "scheduler_active",
                    "outbox_oldest_due_seconds", "partner_deliveries", "probe_success"):
        assert failure in watched, failure
