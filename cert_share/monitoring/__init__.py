"""What an operator's Prometheus scrapes: GET /internal/metrics (views.py).

Two kinds of series, each read where it lives:

- per request (request_metrics.py): requests by route rule, method and status, and their
  latency; counted in the worker that served them, and with PROMETHEUS_MULTIPROC_DIR set,
  summed over every gunicorn worker of the instance (prometheus_client's multiprocess mode);
- the platform's state (collector.py, from services/operations_figures.py): outbox backlog and
  dead letters, job runs and failures, feed pulls, the scheduler's leadership, TAXII polls per
  collection, cooperation deliveries: read from the database at scrape time, so any worker of
  any node answers with the same figures.

The series, their labels and the alerts they feed are in docs/production/monitoring.md.
"""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Count every request, and serve the scrape endpoint (answering 404 until configured)."""
    from . import request_metrics
    from .views import bp

    request_metrics.register(app)
    app.register_blueprint(bp)
