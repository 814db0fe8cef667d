"""The platform's state as Prometheus series, made from the figures read at scrape time.

Every series is a gauge (a figure now): the database holds the truth, and a restart or another
worker must not make a counter start again. Timestamps are Unix seconds, 0 when there is none.
A job's label is ``job_name``: Prometheus gives every scraped series its own ``job`` label (the
scrape job), which would rename ours to ``exported_job``.
"""
from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..services.operations_figures import Figures


def _seconds(at: datetime | None) -> float:
    return at.timestamp() if at is not None else 0.0


def holder_host(holder: str) -> str:
    """The host part of a scheduler holder id ("host:pid:nonce", jobs/lock.py)."""
    return holder.rsplit(":", 2)[0]


class FiguresCollector(Collector):
    """Yields the series of one scrape; ``figures`` None: the database could not be read."""

    def __init__(self, figures: Figures | None, *, host: str | None = None) -> None:
        self.figures = figures
        self.host = host or socket.gethostname()[:60]

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("cert_share_database_up", "1 when this scrape could read the database, else 0")
        up.add_metric([], 0.0 if self.figures is None else 1.0)
        yield up
        if self.figures is not None:
            yield from self._outbox(self.figures)
            yield from self._jobs(self.figures)
            yield from self._feeds(self.figures)
            yield from self._scheduler(self.figures)
            yield from self._polls(self.figures)

    def _outbox(self, f: Figures) -> Iterator[Metric]:
        outbox = GaugeMetricFamily("cert_share_outbox_messages",
                                   "Outbox messages waiting (pending, sending, digest) and dead letters, by state",
                                   labels=["state"])
        for state, count in f.outbox.items():
            outbox.add_metric([state], count)
        yield outbox
        yield GaugeMetricFamily("cert_share_outbox_oldest_due_seconds",
                                "How long the longest-waiting pending message is past its due time (0: none due)",
                                value=f.outbox_oldest_due_seconds)
        deliveries = GaugeMetricFamily("cert_share_partner_deliveries",
                                       "Cooperation deliveries to partner CERTs by state (pending, sending, dead)",
                                       labels=["state"])
        for state, count in f.deliveries.items():
            deliveries.add_metric([state], count)
        yield deliveries

    def _jobs(self, f: Figures) -> Iterator[Metric]:
        runs = GaugeMetricFamily("cert_share_job_runs_last_day", "Job runs started in the last 24 hours, by outcome",
                                 labels=["job_name", "status"])
        failures = GaugeMetricFamily("cert_share_job_failures_since_success",
                                     "Failed runs of a job since its last successful one", labels=["job_name"])
        last_ok = GaugeMetricFamily("cert_share_job_last_success_timestamp_seconds",
                                    "When a job's last successful run started (0: none in the 30 days kept)",
                                    labels=["job_name"])
        for name, job in sorted(f.jobs.items()):
            for status, count in job.runs_last_day.items():
                runs.add_metric([name, status], count)
            failures.add_metric([name], job.failures_since_success)
            last_ok.add_metric([name], _seconds(job.last_success))
        yield from (runs, failures, last_ok)

    def _feeds(self, f: Figures) -> Iterator[Metric]:
        failing = GaugeMetricFamily("cert_share_feed_pull_failing", "1 when a partner feed's last pull failed, else 0",
                                    labels=["feed"])
        last_ok = GaugeMetricFamily("cert_share_feed_last_success_timestamp_seconds",
                                    "When a partner feed was last pulled successfully (0: never)", labels=["feed"])
        for name, feed in sorted(f.feeds.items()):
            failing.add_metric([name], 1.0 if feed.failing else 0.0)
            last_ok.add_metric([name], _seconds(feed.last_success))
        yield from (failing, last_ok)

    def _scheduler(self, f: Figures) -> Iterator[Metric]:
        holder = f.scheduler_holder
        yield GaugeMetricFamily("cert_share_scheduler_active",
                                "1 when some scheduler instance holds a live lease, else 0 (no jobs run)",
                                value=0.0 if holder is None else 1.0)
        # The scheduler runs beside the app on each node: the node whose scrape says 1 runs the jobs.
        yield GaugeMetricFamily("cert_share_scheduler_leader_on_this_host",
                                "1 when the active scheduler runs on the host that answered this scrape, else 0",
                                value=1.0 if holder is not None and holder_host(holder) == self.host else 0.0)

    def _polls(self, f: Figures) -> Iterator[Metric]:
        polls = GaugeMetricFamily("cert_share_taxii_polls_last_day",
                                  "TAXII read requests served in the last 24 hours, by collection alias",
                                  labels=["collection"])
        for alias, count in sorted(f.polls_last_day.items()):
            polls.add_metric([alias], count)
        yield polls
