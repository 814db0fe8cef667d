"""GET /internal/metrics: the Prometheus text exposition, for the operator's scraper only.

Who may scrape (config.py; docs/production/monitoring.md):

    neither METRICS_TOKEN nor METRICS_ALLOWED_NETWORKS set   404: there is no such page
    METRICS_TOKEN                "Authorization: Bearer <token>": none 401, another 403
    METRICS_ALLOWED_NETWORKS     the client address must be in one of them, and the request must
                                 have come through no proxy (no X-Forwarded-For / Forwarded): the
                                 public proxy's own internal address never opens it; else 403
    both                         both conditions

(/metrics is the CERT staff's figures page.) The page sets no cookie, reads no session and is not
rate limited: the scraper comes every few seconds from one address.
"""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.exc import SQLAlchemyError

from ..clock import utcnow
from ..config import networks
from ..extensions import csrf, db, limiter
from ..jobs.registry import load_jobs
from ..services.operations_figures import Figures, read_figures
from . import request_metrics
from .collector import FiguresCollector

bp = Blueprint("monitoring", __name__)
csrf.exempt(bp)


def _refusal(status: int, message: str) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="cert-share metrics"'
    return response


def _check_access() -> Response | None:
    """None when this request may scrape; otherwise the answer to give it."""
    config = current_app.config
    token = config["METRICS_TOKEN"]
    allowed = networks("METRICS_ALLOWED_NETWORKS", config["METRICS_ALLOWED_NETWORKS"])
    if not token and not allowed:
        abort(404)
    if allowed:
        if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
            return _refusal(403, "metrics are served only to a scraper on an allowed network, not through a proxy")
        try:
            client = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            client = None
        if client is None or not any(client in network for network in allowed):
            return _refusal(403, f"metrics are not served to {request.remote_addr}: "
                                 "it is not in METRICS_ALLOWED_NETWORKS")
    if token:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return _refusal(401, "metrics need 'Authorization: Bearer <METRICS_TOKEN>'")
        if not hmac.compare_digest(value.strip().encode(), token.encode()):
            return _refusal(403, "the bearer token is not METRICS_TOKEN")
    return None


def _figures() -> Figures | None:
    try:
        return read_figures(db.session, now=utcnow(), job_names=list(load_jobs()))
    except SQLAlchemyError as exc:
        db.session.rollback()
        # One line each scrape, not a traceback: the series says it, the line says why.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        current_app.logger.error("metrics: the database could not be read (%s); cert_share_database_up is 0", reason)
        return None
    finally:
        db.session.close()


@bp.get("/internal/metrics")
@limiter.exempt
def metrics():
    refused = _check_access()
    if refused is not None:
        return refused
    registry = CollectorRegistry(auto_describe=False)
    folder = current_app.config["PROMETHEUS_MULTIPROC_DIR"]
    if folder:
        MultiProcessCollector(registry, path=folder)  # every worker's request counters, summed
    else:
        registry.register(request_metrics.of(current_app).registry)
    registry.register(FiguresCollector(_figures()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
