"""The public transparency report: how well incident response worked over a period.

Built to be published as TLP:CLEAR:

- only aggregates — reports per STIX sector × RSIT class, response-time medians, warnings
  published, cross-border cooperation cases — and never an organization's name or slug;
- every count from 1 to ``min_cell - 1`` is suppressed (shown as ``<min_cell``); zero cells are
  left out of the table;
- secondary suppression: the overall total is published, so a single suppressed cell could be
  recovered as total minus the rest; when exactly one cell is suppressed, the next smallest
  cell is suppressed with it;
- a median over fewer than ``min_cell`` reports is suppressed too (it would be one report's time);
- cooperation requests with partner CERTs, outgoing and incoming (services/metrics.py says which
  fall in the period and when their clock starts), are counted by kind and by world region
  (reports/regions.py), with the same suppression in each table, and with medians to acknowledge
  and to answer; a row whose count is suppressed publishes no median. No partner and no country
  is ever named;
- fraud identifiers (bank accounts, phone numbers, crypto-currency wallets, payment cards): how many
  reports carried each type and how many warnings about each were published, with the same
  suppression; counts only, never a value (a number or an account is personal data, and even a
  hash would let a key holder test it).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable, Mapping, TypeVar

from sqlalchemy import distinct, func, select

from ..clock import iso, utcnow
from ..database import DbSession
from ..models import EarlyWarning, Incident, Observable, Organization
from ..services import metrics
from ..services.metrics import Period, RequestFacts
from ..stix.fraud import FRAUD_TYPES
from ..vocab import COOPERATION_DIRECTIONS, COOPERATION_KIND_LABELS, END_STATUSES, OBSERVABLE_NOUNS, RSIT_LABELS
from .regions import region_of

K = TypeVar("K", str, tuple[str, str])


@dataclass(frozen=True)
class Cell:
    sector: str
    rsit_class: str
    count: int | None  # None: suppressed
    suppressed: bool

    def shown(self, min_cell: int) -> str:
        return f"<{min_cell}" if self.suppressed else str(self.count)


def suppress(value: int, min_cell: int) -> int | None:
    """A count as published: None when it is 1..min_cell-1."""
    return None if 0 < value < min_cell else value


def hidden_keys(counts: Mapping[K, int], min_cell: int) -> set[K]:
    """The cells of one table (whose total is published) to suppress: every count from 1 to
    min_cell - 1, and when that is a single cell, the next smallest cell with it."""
    items = sorted(((k, v) for k, v in counts.items() if v > 0), key=lambda kv: kv[0])
    hidden = {k for k, v in items if v < min_cell}
    if len(hidden) == 1:
        visible = sorted((v, k) for k, v in items if k not in hidden)
        if visible:
            hidden.add(visible[0][1])
    return hidden


def cells(counts: dict[tuple[str, str], int], min_cell: int) -> list[Cell]:
    """The sector × class table with primary and secondary suppression (zero cells left out)."""
    items = sorted(((k, v) for k, v in counts.items() if v > 0), key=lambda kv: kv[0])
    hidden = hidden_keys(counts, min_cell)
    return [Cell(sector, cls, None if (sector, cls) in hidden else v, (sector, cls) in hidden)
            for (sector, cls), v in items]


def _median(values: list[float], min_cell: int) -> float | None:
    return round(statistics.median(values), 1) if len(values) >= min_cell else None


def _medians(requests: list[RequestFacts], min_cell: int) -> dict:
    acknowledge = [m for m in (r.minutes_to_acknowledge for r in requests) if m is not None]
    answer = [m for m in (r.minutes_to_answer for r in requests) if m is not None]
    return {"median_time_to_acknowledge_minutes": _median(acknowledge, min_cell),
            "median_time_to_answer_minutes": _median(answer, min_cell)}


def request_table(requests: list[RequestFacts], key: Callable[[RequestFacts], str], min_cell: int) -> list[dict]:
    """One row per group (``name``) with its count and medians, suppressed as a table."""
    groups: dict[str, list[RequestFacts]] = {}
    for request in requests:
        groups.setdefault(key(request), []).append(request)
    hidden = hidden_keys({name: len(group) for name, group in groups.items()}, min_cell)
    rows = []
    for name, group in sorted(groups.items()):
        secret = name in hidden
        medians = _medians([] if secret else group, min_cell)  # a suppressed row's medians: None
        rows.append({"name": name, "count": None if secret else len(group), "suppressed": secret, **medians})
    return rows


def cooperation(session: DbSession, period: Period, min_cell: int) -> dict:
    """Per direction: the total, its medians, and the tables by kind and by region."""
    requests = metrics.cooperation_requests(session, period)
    out = {}
    for direction in COOPERATION_DIRECTIONS:
        mine = [r for r in requests if r.direction == direction]
        by_kind = request_table(mine, lambda r: r.kind, min_cell)
        for row in by_kind:
            row["label"] = COOPERATION_KIND_LABELS.get(row["name"], row["name"])
        out[direction] = {"total": suppress(len(mine), min_cell), **_medians(mine, min_cell),
                          "by_kind": by_kind,
                          "by_region": request_table(mine, lambda r: region_of(r.country), min_cell)}
    return out


def fraud_identifiers(session: DbSession, period: Period, min_cell: int) -> dict:
    """Reports of the period carrying each fraud identifier type, and warnings about each published
    in it: counts only (two tables, each with its total), suppressed like the other tables."""
    in_period = (Incident.created_at >= period.since, Incident.created_at < period.until)
    carrying = (select(Observable.type, func.count(distinct(Observable.incident_id)))
                .join(Incident, Incident.id == Observable.incident_id)
                .where(Observable.type.in_(FRAUD_TYPES), *in_period).group_by(Observable.type))
    reports = {t: 0 for t in FRAUD_TYPES} | {t: n for t, n in session.execute(carrying).all()}
    any_type = session.execute(select(func.count(distinct(Observable.incident_id)))
                               .join(Incident, Incident.id == Observable.incident_id)
                               .where(Observable.type.in_(FRAUD_TYPES), *in_period)).scalar_one()
    published = (select(EarlyWarning.observable_type, func.count())
                 .where(EarlyWarning.observable_type.in_(FRAUD_TYPES), EarlyWarning.published_at >= period.since,
                        EarlyWarning.published_at < period.until).group_by(EarlyWarning.observable_type))
    warnings = {t: 0 for t in FRAUD_TYPES} | {t: n for t, n in session.execute(published).all()}
    hidden_reports, hidden_warnings = hidden_keys(reports, min_cell), hidden_keys(warnings, min_cell)
    return {
        "reports_total": suppress(any_type, min_cell),
        "warnings_total": suppress(sum(warnings.values()), min_cell),
        "by_type": [{"type": t, "label": OBSERVABLE_NOUNS.get(t, t).capitalize(),
                     "reports": None if t in hidden_reports else reports[t],
                     "warnings_published": None if t in hidden_warnings else warnings[t]} for t in FRAUD_TYPES],
    }


def build(session: DbSession, period: Period, *, min_cell: int = 3) -> dict:
    """The report as a document (the JSON format is exactly this)."""
    if min_cell < 1:
        raise ValueError("min_cell must be at least 1")
    rows = session.execute(
        select(Organization.sector, Incident.classification, Incident.status)
        .join(Organization, Organization.id == Incident.org_id)
        .where(Incident.created_at >= period.since, Incident.created_at < period.until)).all()
    counts: dict[tuple[str, str], int] = {}
    processed = 0
    for sector, classification, status in rows:
        key = (sector, classification.split("/", 1)[0])
        counts[key] = counts.get(key, 0) + 1
        processed += status in END_STATUSES
    total = len(rows)
    table = cells(counts, min_cell)
    ack = metrics.acknowledge_minutes(session, period)
    first = metrics.first_warning_minutes(session, period)
    return {
        "title": "Incident response transparency report",
        "tlp": "clear",
        "period": period.as_dict(),
        "generated_at": iso(utcnow()),
        "min_cell": min_cell,
        "reports_total": suppress(total, min_cell),
        "cells": [{"sector": c.sector, "rsit_class": c.rsit_class,
                   "rsit_label": RSIT_LABELS.get(c.rsit_class, c.rsit_class),
                   "count": c.count, "suppressed": c.suppressed} for c in table],
        "response": {
            "acknowledged_reports": suppress(len(ack), min_cell),
            "median_time_to_acknowledge_minutes": _median(ack, min_cell),
            "reports_with_warning": suppress(len(first), min_cell),
            "median_time_to_first_warning_minutes": _median(first, min_cell),
            "case_processing_rate": round(processed / total, 4) if total >= min_cell else None,
        },
        "warnings_published": suppress(metrics.warnings_published(session, period), min_cell),
        "cross_border_cases": suppress(metrics.cross_border_cases(session, period), min_cell),
        "cooperation": cooperation(session, period, min_cell),
        "fraud_identifiers": fraud_identifiers(session, period, min_cell),
    }
