"""TAXII reads: filtered, keyset-paged queries over a collection, with policy in the SQL.

Every read route (objects, one object, versions, manifest) is one call to :func:`read`, which
turns the caller's :class:`~cert_share.policy.CollectionAccess` into WHERE clauses (TLP levels,
intake ownership) so that ``limit`` counts only what the caller may see and paging stays
correct. Pages are keyset-paged on ``(date_added, pk)`` — never OFFSET — over the index
``ix_stix_objects_poll (collection_id, date_added, pk)``, so an incremental poll costs the same
at a thousand or a million objects. Bodies are returned as the stored JSON text; the blueprint
concatenates them into the envelope without parsing them.

A page also ends before its objects' stored JSON passes ``page_bytes`` (TAXII_PAGE_BYTES), one
object at least, and bodies past the cap never leave the database, so a page of large objects
costs a worker at most that much. On PostgreSQL the byte count is taken in the database (a running
sum of each row's ``octet_length`` over the page's rows); on SQLite, which produces rows lazily as
they are fetched, the worker counts the UTF-8 bytes of the bodies as the rows stream and stops
fetching at the first that does not fit (the window query cost SQLite three times the plain page).

``next`` tokens are opaque: ``base64url(json) . base64url(HMAC-SHA256)`` keyed with SECRET_KEY,
carrying the position and a digest of (route, collection, caller's organization, object id,
filters). A token from another query, collection or caller is refused with 400. A token signed
with one of SECRET_KEY_FALLBACKS is still accepted, so a client's paging survives a key rotation.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

from flask import current_app
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    bindparam,
    case,
    distinct,
    exists,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import AliasedClass
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.functions import FunctionElement

from .. import policy
from ..actor import Actor
from ..clock import parse_iso, utcnow
from ..database import DbSession
from ..driver_sql import DriverSelect
from ..errors import InputError, NotFound, PermissionDenied
from ..models import Collection, Organization, StixObject, TaxiiPoll
from ..models.types import UTCDateTime
from ..params import parse_int
from ..policy import CollectionAccess
from ..store import audit, collections, exercise_rows
from ..store import poll_log as poll_logs

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TYPE_TOKEN = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")
_ID_TOKEN = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]--[0-9a-fA-F-]{36}$")
MAX_MATCH_VALUES = 100
# match[version] keywords (section 3.4.1); any other value names one version by its timestamp.
ALL_VERSIONS, FIRST_VERSION, LAST_VERSION = "all", "first", "last"
VERSION_KEYWORDS = frozenset({ALL_VERSIONS, FIRST_VERSION, LAST_VERSION})


def format_date(value: datetime) -> str:
    return value.strftime(DATE_FORMAT)


@dataclass
class Filters:
    """Parsed TAXII 2.1 filter parameters (section 3.4)."""

    added_after: datetime | None = None
    ids: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=lambda: [LAST_VERSION])  # VERSION_KEYWORDS or <version>
    spec_versions: list[str] = field(default_factory=list)
    limit: int = 1000
    next: str | None = None

    def digest_parts(self) -> list:
        return [format_date(self.added_after) if self.added_after else None, sorted(self.ids),
                sorted(self.types), sorted(self.versions), sorted(self.spec_versions)]


@dataclass
class Page:
    # (pk, date_added, stix_id, version, spec_version, body-or-None); with bodies, date_added is
    # as the driver hands it (text on SQLite): only the first and last are read, below.
    rows: list
    more: bool
    next: str | None
    first_added: datetime | None = None
    last_added: datetime | None = None


def _split(value: str, name: str) -> list[str]:
    items = [item.strip() for item in value.split(",")]
    if not value or any(not item for item in items):
        raise InputError(f"{name} must be a comma-separated list without empty items")
    if len(items) > MAX_MATCH_VALUES:
        raise InputError(f"{name} lists more than {MAX_MATCH_VALUES} values")
    return items


def _matching(args: Mapping[str, str], name: str, ok: Callable[[str], object], refusal: str) -> list[str]:
    """The comma-separated values of a match[...] parameter, each accepted by ``ok``."""
    items = _split(args[name], name)
    bad = [item for item in items if not ok(item)]
    if bad:
        raise InputError(f"{name} {bad[0]!r} {refusal}")
    return items


def _versions(value: str) -> list[str]:
    """match[version]: keywords kept as written, timestamps in the stored format."""
    versions = []
    for item in _split(value, "match[version]"):
        if item in VERSION_KEYWORDS:
            versions.append(item)
            continue
        try:
            versions.append(format_date(parse_iso(item)))
        except ValueError:
            raise InputError(f"match[version] {item!r} must be all, first, last or a timestamp") from None
    return versions


def _added_after(value: str) -> datetime:
    try:
        return parse_iso(value)
    except ValueError:
        raise InputError(f"added_after {value!r} is not a timestamp such as "
                         "2026-01-31T14:05:00.000Z") from None


def parse_filters(args: Mapping[str, str], *, allowed: set[str], page_size: int) -> Filters:
    """Filters from query parameters; InputError naming the parameter for anything wrong."""
    unknown = sorted(key for key in args.keys() if key not in allowed)
    if unknown:
        raise InputError(f"unsupported parameter(s) for this endpoint: {', '.join(unknown)}")
    filters = Filters(limit=page_size)
    if "added_after" in args:
        filters.added_after = _added_after(args["added_after"])
    if "limit" in args:
        # Any positive count is a valid request; the server pages at most page_size (3.4.1).
        filters.limit = min(parse_int(args["limit"], "limit", minimum=1), page_size)
    if "match[id]" in args:
        filters.ids = _matching(args, "match[id]", _ID_TOKEN.match, "is not a STIX identifier")
    if "match[type]" in args:
        filters.types = _matching(args, "match[type]", _TYPE_TOKEN.match, "is not a STIX object type")
    if "match[version]" in args:
        filters.versions = _versions(args["match[version]"])
    if "match[spec_version]" in args:
        filters.spec_versions = _matching(args, "match[spec_version]", lambda v: v in {"2.0", "2.1"},
                                          "must be 2.0 or 2.1")
    if "next" in args:
        filters.next = args["next"]
    return filters


# --- next tokens ----------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _query_digest(scope: list) -> str:
    return hashlib.sha256(json.dumps(scope, separators=(",", ":")).encode()).hexdigest()[:32]


def encode_next(secret: str, scope: list, position: tuple[datetime, int]) -> str:
    payload = _b64(json.dumps({"q": _query_digest(scope), "d": format_date(position[0]),
                               "p": position[1]}, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(signature)}"


def decode_next(secret: str, scope: list, token: str, fallbacks: Sequence[str] = ()) -> tuple[datetime, int]:
    """The position a ``next`` token carries, signed with ``secret`` or one of the earlier keys
    ``fallbacks``; InputError if forged or from another query."""
    error = InputError("next is not a value this server returned for this query, collection and caller",
                       field="next")
    if not isinstance(token, str) or len(token) > 400 or token.count(".") != 1:
        raise error
    payload, _, signature = token.partition(".")
    try:
        given = _unb64(signature)
        if not any(hmac.compare_digest(given, hmac.new(key.encode(), payload.encode(), hashlib.sha256).digest())
                   for key in (secret, *fallbacks)):
            raise error
        data = json.loads(_unb64(payload))
        if not hmac.compare_digest(str(data["q"]), _query_digest(scope)):
            raise error
        return parse_iso(data["d"]), int(data["p"])
    except (ValueError, KeyError, TypeError):
        raise error from None


# --- queries --------------------------------------------------------------------------------

def collection_for(session: DbSession, actor: Actor, id_or_alias: str, *, snapshot: bool = False,
                   connection: Connection | None = None) -> tuple[Collection, CollectionAccess]:
    """The collection by id (or alias) and the caller's access; 404 if the caller may not see it.
    ``snapshot``: for a read-only request, the process's snapshot of it (store/collections.py),
    found without a Session when ``connection`` (the request's read connection) is given."""
    if len(id_or_alias) > 100:
        raise NotFound("no such collection")
    if snapshot:
        coll = collections.snapshot(session, id_or_alias, connection=connection)
    else:
        coll = session.get(Collection, id_or_alias) or session.execute(
            select(Collection).where(Collection.alias == id_or_alias)).scalar_one_or_none()
    if coll is None:
        raise NotFound("no such collection")
    participant = coll.kind == "exercise" and exercise_rows.participates_in_collection(
        session, coll.id, actor.org.id if actor.org is not None else None)
    access = policy.collection_access(actor, coll, exercise_participant=participant)
    if not access.visible:
        raise NotFound("no such collection")  # existence of others' collections is not revealed
    return coll, access


def visible_collections(session: DbSession, actor: Actor) -> list[tuple[Collection, CollectionAccess]]:
    rows = session.execute(select(Collection).order_by(Collection.alias)).scalars().all()
    exercises = exercise_rows.collections_of_participant(session, actor.org.id if actor.org is not None else None)
    out = []
    for coll in rows:
        access = policy.collection_access(actor, coll, exercise_participant=coll.id in exercises)
        if access.visible:
            out.append((coll, access))
    return out


def _visibility(table: type[StixObject] | AliasedClass[StixObject], access: CollectionAccess, *,
                owner_range: bool = False) -> list:
    """The policy as SQL (the same rule as policy.object_admitted); parameters ``coll``, ``owner``.
    ``owner_range``: the owner term as a range of one value (_statement, on PostgreSQL)."""
    conditions = [table.collection_id == bindparam("coll"), _tlp_condition(table, access)]
    if access.owner_org_id is not None:
        owner: BindParameter[int] = bindparam("owner")
        conditions.append(table.owner_org_id.between(owner, owner) if owner_range else table.owner_org_id == owner)
    return conditions


def _tlp_condition(table: type[StixObject] | AliasedClass[StixObject], access: CollectionAccess) -> ColumnElement[bool]:
    """The TLP IN-list is the access's ``served_levels``, the list policy.tlp_admits checks, as one
    parameter per level with its value in the statement: not a list expanded on every execution,
    and the statement runs on the driver (driver_sql.DriverSelect)."""
    tlp = table.tlp.in_([bindparam(f"tlp_{index}", level) for index, level in enumerate(access.served_levels)])
    return or_(tlp, table.tlp.is_(None)) if access.unmarked else tlp


def _version_condition(versions: tuple, access: CollectionAccess, *,
                       postgresql: bool = False) -> ColumnElement[bool] | None:
    """match[version] as SQL; ``first``/``last`` are judged among the versions the caller sees,
    within each owner's copy: in intake every member's copy of an id is its own object, and the
    CERT's ``last`` is each member's latest (the owner term matches the unique index).

    ``last``: no newer version the caller sees (NOT EXISTS), a search of the unique index
    (collection, id, version, owner) per row. On PostgreSQL (``postgresql``) the subquery is
    fenced with OFFSET 0, which the planner keeps as a subquery, never an anti-join (its source,
    simplify_EXISTS_query: OFFSET 0 is "traditionally used as an optimization fence"), and looks
    in the outer row's collection: run per row, with values PostgreSQL cannot know when
    planning, so no statistics can make it pick another index. As an anti-join with the
    collection a constant, statistics from before intake filled (a new install) made it rescan a
    member's intake rows for each row of its page: polls of 0.1-0.4 s in a 5-minute soak (issue
    14). (A scalar max() subquery has the same plan per row, but its "version = (...)" is
    estimated to keep 1 row in 200, and a full read of 100k objects became a sort of them all.)"""
    if ALL_VERSIONS in versions:
        return None
    parts: list[ColumnElement[bool]] = []
    if any(v not in {FIRST_VERSION, LAST_VERSION} for v in versions):
        parts.append(StixObject.version.in_(bindparam("versions", expanding=True)))
    for which in (LAST_VERSION, FIRST_VERSION):
        if which in versions:
            other = aliased(StixObject)
            newer = other.version > StixObject.version if which == LAST_VERSION else other.version < StixObject.version
            same_owner = func.coalesce(other.owner_org_id, 0) == func.coalesce(StixObject.owner_org_id, 0)
            if postgresql:
                fenced = select(other.pk).where(other.collection_id == StixObject.collection_id,
                                                other.stix_id == StixObject.stix_id, same_owner, newer,
                                                _tlp_condition(other, access)).offset(0)
                parts.append(~fenced.exists())
            else:
                parts.append(~exists().where(other.stix_id == StixObject.stix_id, same_owner, newer,
                                             *_visibility(other, access)))
    return or_(*parts) if len(parts) > 1 else parts[0]


class _octet_length(FunctionElement):
    """Bytes of a text column's UTF-8 value (PostgreSQL keeps it without reading the value)."""

    type = BigInteger()
    inherit_cache = True


@compiles(_octet_length)
def _octet_length_default(element: _octet_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(_octet_length, "sqlite")
def _octet_length_sqlite(element: _octet_length, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's length() of text counts characters; of a blob, bytes.
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


def _stored_date(value: datetime | str) -> datetime:
    """A date_added selected without its column type (what _bounded_bodies returns): a page of
    bodies converts two of them, not a thousand."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed.replace(tzinfo=timezone.utc)


def _bounded_bodies(query: Select) -> Select:
    """The page query with each body replaced by NULL once the running total of the page's
    bodies passes ``page_bytes`` (the first body always stays). The window runs over the page's
    rows only (the inner query is already limited), keeping the poll's cost independent of the
    collection's size."""
    inner = query.add_columns(_octet_length(StixObject.body).label("size")).subquery()
    running = func.sum(inner.c.size).over(order_by=(inner.c.date_added, inner.c.pk))
    cap = bindparam("page_bytes", type_=BigInteger())
    body = case((running <= cap, StixObject.body), (running == inner.c.size, StixObject.body))
    return (select(inner.c.pk, type_coerce(inner.c.date_added, String()), inner.c.stix_id, inner.c.version,
                   inner.c.spec_version, body)
            .join_from(inner, StixObject, StixObject.pk == inner.c.pk)
            .order_by(inner.c.date_added, inner.c.pk))


def _utf8_size(body: str) -> int:
    return len(body) if body.isascii() else len(body.encode())


# Rows fetched per call in _streamed_page: fewer calls than one per row, and at most this many
# less one fetched past the page's end (SQLite produces the rows as they are fetched).
STREAM_BATCH = 8


def _streamed_page(result: Any, limit: int, page_bytes: int) -> tuple[list, bool]:
    """The rows of ``result`` (``limit`` + 1 at most) up to the first whose body would take the
    page past ``page_bytes`` bytes (the first always stays), and whether more rows follow; rows
    are fetched STREAM_BATCH at a time, so fewer than that are fetched past the cut, and none
    after that batch (SQLite does not produce them)."""
    rows: list = []
    total = 0
    try:
        while batch := result.fetchmany(STREAM_BATCH):
            for row in batch:
                total += _utf8_size(row[5])
                if rows and total > page_bytes:
                    return rows, True
                if len(rows) == limit:
                    return rows, True
                rows.append(row)
        return rows, False
    finally:
        result.close()


@lru_cache(maxsize=512)
def _statement(shape: tuple) -> DriverSelect:
    """The SELECT for one query shape, built once: building it per request would cost a third of a poll."""
    (dialect, levels, unmarked, owner, by_object, ids, types, spec_versions, after, versions, paged, with_body,
     limit) = shape
    postgresql = dialect == "postgresql"
    streamed = with_body and dialect == "sqlite"  # as read() reads the rows
    access = CollectionAccess(read=True, write=False, tlp_levels=frozenset(levels),
                              owner_org_id=0 if owner else None)
    columns = [StixObject.pk, StixObject.date_added, StixObject.stix_id, StixObject.version,
               StixObject.spec_version, StixObject.type]
    # One owner's rows (a member's intake), on PostgreSQL: the owner as a range of one value and
    # first in the order. The same rows and order, but only the owner index (collection, owner,
    # date_added, pk) gives that order without a sort, and the range still starts its scan at the
    # cursor. With "owner = :owner" every collection index gives the order; with statistics from
    # before intake filled, PostgreSQL took the date index filtered by owner, and a member who
    # rarely reports walked every other member's rows since its cursor on each poll (issue 14).
    # SQLite picks the owner index for "=", and would sort for the range.
    owner_range = owner and postgresql
    query = select(*columns).where(*_visibility(StixObject, access, owner_range=owner_range))
    if by_object:
        query = query.where(StixObject.stix_id == bindparam("object_id"))
    if ids:
        query = query.where(StixObject.stix_id.in_(bindparam("ids", expanding=True)))
    if types:
        query = query.where(StixObject.type.in_(bindparam("types", expanding=True)))
    if spec_versions:
        query = query.where(StixObject.spec_version.in_(bindparam("spec_versions", expanding=True)))
    if after:
        query = query.where(StixObject.date_added > bindparam("after", type_=UTCDateTime))
    if versions is not None:
        condition = _version_condition(versions, access, postgresql=postgresql)
        if condition is not None:
            query = query.where(condition)
    if paged:
        query = query.where(tuple_(StixObject.date_added, StixObject.pk)
                            > tuple_(bindparam("next_date", type_=UTCDateTime), bindparam("next_pk")))
    order = (StixObject.owner_org_id,) if owner_range else ()
    query = query.order_by(*order, StixObject.date_added, StixObject.pk).limit(limit + 1)
    if with_body and streamed:
        # Bodies counted as the rows stream (read()); date_added as stored, as _bounded_bodies gives it.
        query = query.with_only_columns(StixObject.pk, type_coerce(StixObject.date_added, String()),
                                        *columns[2:5], StixObject.body)
    elif with_body:
        query = _bounded_bodies(query.with_only_columns(*columns[:5]))
    return DriverSelect(query)


def read(session: DbSession, *, collection: Collection, access: CollectionAccess, filters: Filters,
         scope: list, secret: str, secret_fallbacks: Sequence[str] = (), object_id: str | None = None,
         with_body: bool = True, all_versions: bool = False, page_bytes: int | None = None,
         now: datetime | None = None, connection: Connection | None = None) -> Page:
    """One page of what the caller may see, oldest ``date_added`` first; with bodies, at most
    ``page_bytes`` of them (one object at least). ``next`` tokens are signed with ``secret`` and
    accepted when signed with it or one of ``secret_fallbacks``. The query runs on
    ``connection`` when given (a read request's, database.request_connection), else in ``session``."""
    if not access.read:
        raise NotFound("no such collection")
    explicit = [v for v in filters.versions if v not in VERSION_KEYWORDS]
    if connection is None:
        connection = session.connection()
    streamed = with_body and connection.dialect.name == "sqlite"
    shape = (connection.dialect.name, tuple(sorted(access.tlp_levels)), access.unmarked,
             access.owner_org_id is not None, object_id is not None, bool(filters.ids), bool(filters.types),
             bool(filters.spec_versions),
             filters.added_after is not None,
             None if all_versions
             else tuple(sorted({v if v in VERSION_KEYWORDS else "=" for v in filters.versions})),
             bool(filters.next), with_body, filters.limit)
    params: dict = {"coll": collection.id, "owner": access.owner_org_id, "object_id": object_id,
                    "ids": filters.ids, "types": filters.types, "spec_versions": filters.spec_versions,
                    "after": filters.added_after, "versions": explicit,
                    "page_bytes": page_bytes if with_body and page_bytes is not None else 2**62}
    if filters.next:
        params["next_date"], params["next_pk"] = decode_next(secret, scope, filters.next, secret_fallbacks)
    statement = _statement(shape)
    # Plain column rows on the driver (SQLAlchemy's path for a list parameter): no ORM entity bookkeeping.
    result = statement.execute(connection, {k: v for k, v in params.items() if v is not None
                                            and (not isinstance(v, list) or v)})
    rows: Sequence[Any]
    if streamed:
        rows, more = _streamed_page(result, filters.limit, params["page_bytes"])
    elif with_body:
        rows = result.all()
        # Bodies past the byte cap came back as NULL: the page ends before the first of them.
        fitting = next((index for index, row in enumerate(rows) if row[5] is None), len(rows))
        more = len(rows) > min(fitting, filters.limit)
        rows = rows[:min(fitting, filters.limit)]
    else:
        rows = result.all()
        more = len(rows) > filters.limit
        rows = rows[:filters.limit]
    if not rows:
        return Page(rows=[], more=more, next=None)
    first, last = rows[0][1], rows[-1][1]
    if with_body:
        first, last = _stored_date(first), _stored_date(last)
    token = encode_next(secret, scope, (last, rows[-1][0])) if more else None
    return Page(rows=list(rows), more=more, next=token, first_added=first, last_added=last)


def record_poll(session: DbSession, actor: Actor, collection: Collection, route: str, returned: int,
                *, now: datetime | None = None) -> None:
    """Consumption log: one row per read request of an organization, held by the worker and
    written in batches (store/poll_log.py); with TAXII_POLL_LOG_SECONDS = 0, written and
    committed now, in ``session``. A batch the database refuses stays held for the next flush,
    and the poll is served either way."""
    if actor.org is None:
        return
    poll_log = poll_logs.for_app(current_app._get_current_object())  # type: ignore[attr-defined]
    poll_log.add({"org_id": actor.org.id, "token_id": actor.token_id, "collection_id": collection.id,
                  "route": route, "polled_at": now or utcnow(), "returned": returned})
    if poll_log.interval <= 0:
        poll_log.flush(session)


def members_polling(session: DbSession, since: datetime, until: datetime) -> int:
    """How many distinct member organizations polled any collection in [since, until); polls of
    a drill's collection do not count (a drill never shows in the metrics)."""
    return session.execute(
        select(func.count(distinct(TaxiiPoll.org_id)))
        .join(Organization, Organization.id == TaxiiPoll.org_id)
        .where(TaxiiPoll.polled_at >= since, TaxiiPoll.polled_at < until, Organization.kind == "member",
               exercise_rows.outside_exercises(TaxiiPoll.collection_id))
    ).scalar_one()


def delete_object(session: DbSession, *, actor: Actor, collection: Collection, access: CollectionAccess,
                  object_id: str, filters: Filters) -> int:
    """Delete the matching versions of an object the caller may see and delete; commits."""
    query = select(StixObject).where(*_visibility(StixObject, access), StixObject.stix_id == object_id)
    if filters.spec_versions:
        query = query.where(StixObject.spec_version.in_(filters.spec_versions))
    condition = _version_condition(tuple(v if v in VERSION_KEYWORDS else "=" for v in filters.versions),
                                   access)
    if condition is not None:
        query = query.where(condition)
    explicit = [v for v in filters.versions if v not in VERSION_KEYWORDS]
    rows = session.execute(query, {"coll": collection.id, "owner": access.owner_org_id,
                                   "versions": explicit}).scalars().all()
    if not rows:
        raise NotFound(f"no object {object_id} in this collection")
    if not all(policy.can_delete_object(actor, access, owner_org_id=row.owner_org_id) for row in rows):
        raise PermissionDenied("this collection does not allow you to delete objects")
    for row in rows:
        session.delete(row)
    audit.record(session, actor, "taxii.delete", "stix_object", object_id, collection=collection.alias,
                 versions=len(rows))
    session.commit()
    return len(rows)

