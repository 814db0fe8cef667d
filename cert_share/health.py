"""Health probes for a load balancer or Kubernetes, and the gate that keeps a server whose
database schema is behind from answering with half-working pages.

    /healthz  the process is up and answers: 200 {"status": "ok"}. Reads nothing.
    /readyz   the database answers, its schema is the one the code expects, Redis answers
              when REDIS_URL is set: 200, or 503 with each check's result and the reason.

Neither needs a sign-in, counts against a rate limit or sets a cookie, and neither ever shows a
stack trace. The gate (a before-request hook, first of all) reads the schema's revision once
and keeps it (schema_revision.py); while the schema is behind, every other route answers 503 in
its own dialect (the page, the API's JSON error, the TAXII error resource), and the revision is
read again at most every RECHECK_SECONDS, so `cert-share db upgrade` takes effect without a
restart. A server process calls check_at_start() so the log says at once what to run.
"""
from __future__ import annotations

import logging
import threading
from time import monotonic

from flask import Blueprint, Flask, current_app, g, jsonify
from flask import request as flask_request
from limits.storage import Storage, storage_from_string
from werkzeug.exceptions import ServiceUnavailable

from .extensions import db, limiter, login_manager
from .schema_revision import BEHIND, CURRENT, NEWER, UNKNOWN, SchemaStatus, read_status

bp = Blueprint("health", __name__)

# While the schema is behind (or unreadable), the revision is read again at most this often.
RECHECK_SECONDS = 5
# A probe waits at most this long for Redis to connect and to answer.
REDIS_TIMEOUT_SECONDS = 1

# The scrape endpoint too: monitoring must see an instance whose schema is behind (database_up 0).
OPEN_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "monitoring.metrics", "static", "web.static"})
_GATE = "cert_share.schema_gate"
_REDIS_PROBE = "cert_share.redis_probe"


class SchemaGate:
    """One app's schema status: read once and kept while it serves, read again at most every
    RECHECK_SECONDS while it does not. Logs each change of state, not each reading."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._status: SchemaStatus | None = None
        self._read_at = 0.0

    def status(self) -> SchemaStatus:
        status = self._status
        if status is not None and (status.state in (CURRENT, NEWER)
                                   or monotonic() - self._read_at < RECHECK_SECONDS):
            return status
        # One request reads it; the others meanwhile keep the last answer rather than queue
        # behind a database that may take long to refuse the connection.
        if not self._lock.acquire(blocking=status is None):
            assert status is not None
            return status
        try:
            if self._status is not status:  # another request read it while this one waited
                assert self._status is not None
                return self._status
            return self.refresh()
        finally:
            self._lock.release()

    def refresh(self) -> SchemaStatus:
        """Read the revision now (inside an app context)."""
        status = read_status(db.engine)
        previous, self._status, self._read_at = self._status, status, monotonic()
        if previous is None or previous.state != status.state:
            level = {CURRENT: logging.INFO, BEHIND: logging.ERROR}.get(status.state, logging.WARNING)
            self._logger.log(level, "%s", status.message())
        return status


def gate(app: Flask) -> SchemaGate:
    return app.extensions[_GATE]


def check_at_start(app: Flask) -> SchemaStatus:
    """Read the schema's revision as a server process starts: a pending migration is logged as
    an error naming both revisions and the command to run."""
    with app.app_context():
        return gate(app).refresh()


def register(app: Flask) -> None:
    app.extensions[_GATE] = SchemaGate(app.logger)
    app.register_blueprint(bp)
    # First of the before-request hooks: the others may read the database (the session's user,
    # a token), whose tables may not be there yet.
    app.before_request_funcs.setdefault(None, []).insert(0, _schema_gate)


def _schema_gate():
    if flask_request.endpoint in OPEN_ENDPOINTS:
        return None
    status = gate(current_app).status()
    if status.serves:
        return None
    # Loading the signed-in user reads the database: the error page is drawn for a visitor.
    g._login_user = login_manager.anonymous_user()
    raise ServiceUnavailable(
        "cert-share is waiting for its database to be upgraded: the schema is behind this version of "
        f"the code ({status.message()}). Nothing was read or stored; try again in a few minutes.",
        retry_after=RECHECK_SECONDS)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Liveness: the process answers requests. Reads nothing, so a database outage never gets
    a healthy process restarted."""
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Readiness: whether this node should get traffic; 503 names each check that failed."""
    try:
        checks = {**_database_checks(), "redis": _redis_check()}
    except Exception:  # a probe answers, whatever went wrong: the details go to the log
        current_app.logger.exception("readiness check failed")
        checks = {"readiness": {"ok": False, "reason": "the check itself failed: see the server log"}}
    failing = [f"{name}: {check['reason']}" for name, check in checks.items() if not check["ok"]]
    body = {"status": "unavailable" if failing else "ok", "checks": checks}
    if failing:
        body["reason"] = "; ".join(failing)
    response = jsonify(body)
    if failing:
        response.status_code = 503
        response.headers["Retry-After"] = str(RECHECK_SECONDS)
    return response


def _database_checks() -> dict[str, dict]:
    """The database answers, and its schema is at the code's head (a newer schema passes: see
    schema_revision.py). Reading the revision is the database's check too."""
    status = gate(current_app).refresh()
    if status.state == UNKNOWN:
        return {"database": {"ok": False, "reason": f"not reachable ({status.error})"},
                "schema": {"ok": False, "reason": "not checked: the database is not reachable"}}
    schema = {"ok": status.state != BEHIND, "state": status.state,
              "database": list(status.database), "expected": list(status.code)}
    if status.state != CURRENT:
        schema["reason"] = status.message()
    return {"database": {"ok": True}, "schema": schema}


def _redis_check() -> dict:
    # REDIS_URL is where the rate limiter keeps its counts (config.py); without it, its memory.
    url = current_app.config["RATELIMIT_STORAGE_URI"]
    if url.startswith("memory://"):
        return {"ok": True, "configured": False}
    probe = current_app.extensions.get(_REDIS_PROBE)
    if probe is None:
        probe = current_app.extensions[_REDIS_PROBE] = _redis_probe(url)
    if probe.check():
        return {"ok": True}
    # Never the URL: it may carry a password, and this answer needs no sign-in.
    current_app.logger.warning("readiness: Redis (REDIS_URL) did not answer")
    return {"ok": False, "reason": "not reachable (REDIS_URL)"}


def _redis_probe(url: str) -> Storage:
    """The rate limiter's kind of connection to REDIS_URL (any scheme it takes), with short timeouts."""
    storage = storage_from_string(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                                  socket_timeout=REDIS_TIMEOUT_SECONDS)
    assert isinstance(storage, Storage)  # the limiter's schemes are synchronous (an async+ one is refused there)
    return storage
