"""Requests by route and status, and their latency, counted as each response leaves.

The route label is the URL rule (``/api/v1/incidents/<int:incident_id>``), never the path a
client typed, and the method is one of the known ones: no client can make up new series. Cost
per request: one counter and one histogram update (a few microseconds; docs/performance.md).

Each app keeps its own registry (tests and scripts make many apps in one process). With
PROMETHEUS_MULTIPROC_DIR set (before prometheus_client is first imported: the gunicorn
process's environment), the same objects write to files in that folder, and the scrape sums
every worker's (views.py).
"""
from __future__ import annotations

import time
from typing import Any

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

_EXTENSION = "cert_share.request_metrics"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no route: a 404 for an unknown path, or a 405

# The *_created series (when each label set first appeared) would double the scrape; no rule or
# dashboard of ours reads them.
disable_created_metrics()


class RequestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("cert_share_http_requests", "HTTP requests answered, by route rule, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.duration = Histogram("cert_share_http_request_duration_seconds",
                                  "Time from the request reaching the app to its response, by route rule and method",
                                  ["route", "method"], registry=self.registry)
        # labels() takes a lock and builds a key each time: the children are kept here instead.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float | None) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(route, method, str(status)),
                                              self.duration.labels(route, method))
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)


def of(app: Flask) -> RequestMetrics:
    return app.extensions[_EXTENSION]


def register(app: Flask) -> None:
    metrics = app.extensions[_EXTENSION] = RequestMetrics()

    @app.before_request
    def _start_clock():
        g._request_started = time.perf_counter()

    @app.after_request
    def _count(response):
        started = g.get("_request_started")
        rule = request.url_rule
        method = request.method if request.method in METHODS else "OTHER"
        metrics.observe(rule.rule if rule is not None else UNMATCHED, method, response.status_code,
                        time.perf_counter() - started if started is not None else None)
        return response
