"""Finding observables, the reports that carry them and the warnings raised on them.

Every lookup walks an index: (type, value) for exact values, ``ip_hex`` for addresses and CIDR
ranges, ``host_rev`` for a domain and everything under it (stix.observables.host_key_range). Who
may read which report is policy's SQL condition, applied in the same statement, so a result
limit counts only what the caller may see: what others reported never shortens or lengthens an
answer. Warnings readable by a member are decided by early_warning.lifecycle.readable_by, above
this layer; here they are only found, through the same indexes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from sqlalchemy import ColumnElement, Select, and_, distinct, exists, false, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from .. import policy
from ..actor import Actor
from ..database import DbSession
from ..models import EarlyWarning, Incident, Observable, Organization, StixObject
from .text import lower_contains


@dataclass(frozen=True)
class Match:
    """What a search looks for: exact (type, value) pairs, an address range as inclusive
    ``ip_hex`` bounds, and a host key range from ``host_key_range`` (key, low, high)."""

    exact: tuple[tuple[str, str], ...] = ()
    ip_range: tuple[str, str] | None = None
    host: tuple[str, str, str] | None = None


def _condition(match: Match, type_col, value_col, ip_col, host_col) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = [and_(type_col == t, value_col == v) for t, v in match.exact]
    if match.ip_range is not None:
        low, high = match.ip_range
        parts.append(ip_col == low if low == high else ip_col.between(low, high))
    if match.host is not None:
        key, low, high = match.host
        # The key itself, then the names under it: "com.example-shop" sorts between the two, so
        # one range from the key would take it in.
        parts.append(or_(host_col == key, and_(host_col >= low, host_col < high)))
    return or_(*parts) if parts else false()


def observable_condition(match: Match) -> ColumnElement[bool]:
    """``match`` as a condition on ``observables``."""
    return _condition(match, Observable.type, Observable.value, Observable.ip_hex, Observable.host_rev)


def warning_condition(match: Match) -> ColumnElement[bool]:
    """``match`` as a condition on ``warnings``."""
    return _condition(match, EarlyWarning.observable_type, EarlyWarning.observable_value, EarlyWarning.ip_hex,
                      EarlyWarning.host_rev)


def _matching_observables(actor: Actor, match: Match) -> ColumnElement[bool]:
    # Only the caller's share of the index (members: their organization's rows, through the
    # (org_id, ...) indexes), so what other members reported costs a member nothing.
    return and_(observable_condition(match), policy.observable_read_scope(actor))


def incident_ids_with(actor: Actor, match: Match) -> Select:
    """SELECT of the ids of reports carrying an observable ``match`` finds, among those ``actor``
    might read: combine it with ``policy.incident_read_filter``, which decides."""
    return select(Observable.incident_id).where(_matching_observables(actor, match))


def title_condition(text: str) -> ColumnElement[bool]:
    """Report titles containing ``text`` (case-insensitive)."""
    return lower_contains(Incident.title, text)


def incidents_matching(session: DbSession, actor: Actor, match: Match | None, title: str | None,
                       limit: int) -> tuple[list[Incident], bool]:
    """Reports ``actor`` may read carrying an observable ``match`` finds (or, with ``title``,
    whose title contains it), newest first: (the first ``limit``, more?)."""
    read = policy.incident_read_filter(actor)
    if match is not None:
        # The matching observables first, from their indexes, then those reports by primary key
        # with the read filter. MATERIALIZED (SQLite 3.35+, PostgreSQL 12+) keeps that order: left
        # to itself, SQLite would walk all of a member's reports and their observables instead.
        matched = (select(Observable.incident_id).where(_matching_observables(actor, match))
                   .cte("matched").prefix_with("MATERIALIZED"))
        ids = (select(matched.c.incident_id).distinct()
               .join(Incident, Incident.id == matched.c.incident_id)
               .where(read).order_by(matched.c.incident_id.desc()).limit(limit + 1))
        found = [row[0] for row in session.execute(ids)]
        rows = {i.id: i for i in session.execute(
            select(Incident).options(joinedload(Incident.organization, innerjoin=True))
            .where(Incident.id.in_(found))).scalars()} if found else {}
        ordered = [rows[i] for i in found if i in rows]
    else:
        # Newest first, stopping at the limit. CERT staff: the table read from its end (a title
        # no report holds reads every row, which the received-time index makes slower still);
        # members: their organization's index, by received time.
        order = ((Incident.id.desc(),) if policy.is_cert_staff(actor)
                 else (Incident.created_at.desc(), Incident.id.desc()))
        query = (select(Incident).options(joinedload(Incident.organization, innerjoin=True))
                 .where(read, title_condition(title or "")).order_by(*order).limit(limit + 1))
        ordered = list(session.execute(query).scalars())
    return ordered[:limit], len(ordered) > limit


def matched_values(session: DbSession, match: Match, incident_ids: Sequence[int], per_incident: int
                   ) -> dict[int, list[str]]:
    """For each of these reports, the observables in it that ``match`` finds (display form, at
    most ``per_incident``): why a CIDR or a domain search listed it."""
    out: dict[int, list[str]] = {}
    if not incident_ids:
        return out
    query = (select(Observable.incident_id, Observable.display_value)
             .where(observable_condition(match), Observable.incident_id.in_(list(incident_ids)))
             .order_by(Observable.incident_id, Observable.id))
    for incident_id, display in session.execute(query):
        values = out.setdefault(incident_id, [])
        if len(values) < per_incident and display not in values:
            values.append(display)
    return out


@dataclass(frozen=True)
class OrgSightings:
    """One organization's reports of what a search found: how many reports, and how many
    sightings: the distinct values found in each report, added up (intake keeps a value once per
    report, so for one address or hash they equal the reports; a range or a domain can find
    several values in one report)."""

    org_id: int
    slug: str
    name: str
    sector: str | None
    reports: int
    sightings: int


def sightings_by_org(session: DbSession, actor: Actor, match: Match, limit: int) -> tuple[list[OrgSightings], bool]:
    """Who reported what ``match`` finds, most sightings first, counting only reports ``actor``
    may read (a TLP:RED report's observables are its content)."""
    query = (select(Organization.id, Organization.slug, Organization.name, Organization.sector,
                    func.count(distinct(Observable.incident_id)), func.count(Observable.id))
             .select_from(Observable)
             .join(Incident, Incident.id == Observable.incident_id)
             .join(Organization, Organization.id == Incident.org_id)
             .where(observable_condition(match), policy.incident_read_filter(actor))
             .group_by(Organization.id, Organization.slug, Organization.name, Organization.sector)
             .order_by(func.count(Observable.id).desc(), Organization.name).limit(limit + 1))
    rows = [OrgSightings(*row) for row in session.execute(query)]
    return rows[:limit], len(rows) > limit


def warnings_matching(session: DbSession, match: Match | None, title: str | None, *,
                      stored_in: list[str] | None = None) -> Iterator[EarlyWarning]:
    """Warnings on what ``match`` finds (or whose title contains ``title``), newest first, with
    their sources loaded, for the caller to keep those the reader may read
    (early_warning.lifecycle.readable_by, early_warning.published.received). ``stored_in``
    (members): only published warnings whose report is stored in one of these collection ids, the
    only ones a member can have received."""
    query = (select(EarlyWarning).where(_warning_condition(match, title))
             .options(selectinload(EarlyWarning.sources))
             .order_by(EarlyWarning.id.desc()).execution_options(yield_per=100))
    if stored_in is not None:
        query = query.where(EarlyWarning.published_at.is_not(None), exists().where(
            StixObject.stix_id == EarlyWarning.report_id, StixObject.collection_id.in_(stored_in)))
    return iter(session.execute(query).scalars())


def _warning_condition(match: Match | None, title: str | None) -> ColumnElement[bool]:
    if match is not None:
        return warning_condition(match)
    return lower_contains(EarlyWarning.title, title or "")
