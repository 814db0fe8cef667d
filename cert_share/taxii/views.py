"""TAXII 2.1 endpoints: parse, one service call, render (sections cited per view)."""
from __future__ import annotations

import json

from flask import Response, current_app, g, request, url_for

from ..auth.tokens import READ_METHODS
from ..database import request_connection
from ..errors import NotFound, PermissionDenied
from ..extensions import db
from ..http_errors import TAXII_MEDIA_TYPE
from ..jsonbody import loads
from ..services import taxii_push, taxii_store
from ..services.taxii_store import format_date
from . import API_ROOT, bp

OBJECT_FILTERS = {"added_after", "limit", "next", "match[id]", "match[type]", "match[version]",
                  "match[spec_version]"}
ONE_OBJECT_FILTERS = {"added_after", "limit", "next", "match[version]", "match[spec_version]"}
VERSIONS_FILTERS = {"added_after", "limit", "next", "match[spec_version]"}
DELETE_FILTERS = {"match[version]", "match[spec_version]"}
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"


def _json(body, status: int = 200, headers: dict | None = None) -> Response:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    response = Response(text, status=status, content_type=TAXII_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _api_root(api_root: str) -> None:
    if api_root != API_ROOT:
        raise NotFound(f"no API root {api_root!r}")


def _page_size() -> int:
    return current_app.config["TAXII_PAGE_SIZE"]


def _scope(route: str, collection, object_id: str | None, filters) -> list:
    """What a next token is bound to: route, collection, caller, object, filters."""
    return [route, collection.id, g.actor.org_id, object_id, filters.digest_parts()]


def _date_headers(page) -> dict:
    if not page.rows:
        return {}
    return {"X-TAXII-Date-Added-First": format_date(page.first_added),
            "X-TAXII-Date-Added-Last": format_date(page.last_added)}


def _envelope(page) -> str:
    """Stored bodies concatenated as they are: the read path never re-parses STIX."""
    head = '{"more":' + ("true" if page.more else "false")
    if page.next:
        head += ',"next":' + json.dumps(page.next)
    if not page.rows:
        return head + "}"
    return head + ',"objects":[' + ",".join(row[5] for row in page.rows) + "]}"


def _collection_resource(coll, access) -> dict:
    return {"id": coll.id, "title": coll.title, "description": coll.description, "alias": coll.alias,
            "can_read": access.read, "can_write": access.write, "media_types": [STIX_MEDIA_TYPE]}


@bp.get("/")
def discovery():
    """4.1 Server Discovery. URLs from the configured BASE_URL: the Host header is the client's to write."""
    root = current_app.config["BASE_URL"] + url_for("taxii.api_root", api_root=API_ROOT)
    return _json({"title": "cert-share TAXII server",
                  "description": "Early warnings for members of the national CERT's constituency; "
                                 "reports from members.",
                  "contact": current_app.config["MAIL_FROM"],
                  "default": root, "api_roots": [root]})


@bp.get("/<api_root>/")
def api_root(api_root: str):
    """4.2 Get API Root Information."""
    _api_root(api_root)
    return _json({"title": "cert-share", "description": "Collections of the national CERT.",
                  "versions": [TAXII_MEDIA_TYPE],
                  "max_content_length": current_app.config["TAXII_MAX_CONTENT_LENGTH"]})


@bp.get("/<api_root>/status/<status_id>/")
def status(api_root: str, status_id: str):
    """4.3 Get Status. Another organization's status answers exactly like a missing one."""
    _api_root(api_root)
    row = taxii_push.get_status(db.session, g.actor, status_id)
    if row is None:
        raise NotFound(f"no status {status_id}")
    return _json(_status_resource(row))


def _status_resource(row) -> dict:
    body = {"id": row.id, "status": row.status, "request_timestamp": format_date(row.request_timestamp),
            "total_count": row.total_count, "success_count": row.success_count,
            "failure_count": row.failure_count, "pending_count": row.pending_count}
    if row.successes:
        body["successes"] = row.successes
    if row.failures:
        body["failures"] = row.failures
    return body


@bp.get("/<api_root>/collections/")
def collections(api_root: str):
    """5.1 Get Collections: only those the caller can read or write."""
    _api_root(api_root)
    rows = taxii_store.visible_collections(db.session, g.actor)
    body = {"collections": [_collection_resource(c, a) for c, a in rows]} if rows else {}
    return _json(body)


@bp.get("/<api_root>/collections/<collection_id>/")
def collection(api_root: str, collection_id: str):
    """5.2 Get a Collection."""
    _api_root(api_root)
    coll, access = taxii_store.collection_for(db.session, g.actor, collection_id, snapshot=True,
                                              connection=request_connection())
    return _json(_collection_resource(coll, access))


def _readable(api_root: str, collection_id: str):
    _api_root(api_root)
    reading = request.method in READ_METHODS
    coll, access = taxii_store.collection_for(db.session, g.actor, collection_id, snapshot=reading,
                                              connection=request_connection() if reading else None)
    if not access.read:
        raise PermissionDenied("you may write to this collection but not read it")
    return coll, access


def _read_page(route, coll, access, allowed, *, object_id=None, with_body=True, all_versions=False):
    filters = taxii_store.parse_filters(request.args, allowed=allowed, page_size=_page_size())
    page = taxii_store.read(db.session, collection=coll, access=access, filters=filters,
                            scope=_scope(route, coll, object_id, filters), secret=current_app.config["SECRET_KEY"],
                            secret_fallbacks=current_app.config["SECRET_KEY_FALLBACKS"],
                            object_id=object_id, with_body=with_body, all_versions=all_versions,
                            page_bytes=current_app.config["TAXII_PAGE_BYTES"], connection=request_connection())
    taxii_store.record_poll(db.session, g.actor, coll, route, len(page.rows))
    return page


@bp.get("/<api_root>/collections/<collection_id>/manifest/")
def manifest(api_root: str, collection_id: str):
    """5.3 Get Object Manifests."""
    coll, access = _readable(api_root, collection_id)
    page = _read_page("manifest", coll, access, OBJECT_FILTERS, with_body=False)
    body = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if page.rows:
        body["objects"] = [{"id": r[2], "date_added": format_date(r[1]), "version": r[3],
                            "media_type": f"application/stix+json;version={r[4]}"} for r in page.rows]
    return _json(body, headers=_date_headers(page))


@bp.get("/<api_root>/collections/<collection_id>/objects/")
def get_objects(api_root: str, collection_id: str):
    """5.4 Get Objects."""
    coll, access = _readable(api_root, collection_id)
    page = _read_page("objects", coll, access, OBJECT_FILTERS)
    return _json(_envelope(page), headers=_date_headers(page))


@bp.post("/<api_root>/collections/<collection_id>/objects/")
def add_objects(api_root: str, collection_id: str):
    """5.5 Add Objects: processed synchronously; 202 with a complete status resource."""
    _api_root(api_root)
    coll, access = taxii_store.collection_for(db.session, g.actor, collection_id)
    if not access.write:
        raise PermissionDenied("this collection does not accept objects from you")
    # Numbers JSON cannot carry are refused per object (stix/validate.py), not for the envelope.
    envelope = loads(request.get_data(cache=False), keep_unsafe_numbers=True)
    row = taxii_push.add_envelope(db.session, actor=g.actor, collection=coll, envelope=envelope,
                                  max_object_bytes=current_app.config["TAXII_MAX_OBJECT_BYTES"])
    return _json(_status_resource(row), status=202)


@bp.get("/<api_root>/collections/<collection_id>/objects/<object_id>/")
def get_object(api_root: str, collection_id: str, object_id: str):
    """5.6 Get an Object."""
    coll, access = _readable(api_root, collection_id)
    page = _read_page("object", coll, access, ONE_OBJECT_FILTERS, object_id=object_id)
    if not page.rows:
        raise NotFound(f"no object {object_id} in this collection")
    return _json(_envelope(page), headers=_date_headers(page))


@bp.delete("/<api_root>/collections/<collection_id>/objects/<object_id>/")
def delete_object(api_root: str, collection_id: str, object_id: str):
    """5.7 Delete an Object (every version unless match[version] narrows it)."""
    coll, access = _readable(api_root, collection_id)
    filters = taxii_store.parse_filters(request.args, allowed=DELETE_FILTERS, page_size=_page_size())
    if "match[version]" not in request.args:
        filters.versions = [taxii_store.ALL_VERSIONS]
    taxii_store.delete_object(db.session, actor=g.actor, collection=coll, access=access,
                              object_id=object_id, filters=filters)
    return Response(status=200, content_type=TAXII_MEDIA_TYPE)


@bp.get("/<api_root>/collections/<collection_id>/objects/<object_id>/versions/")
def versions(api_root: str, collection_id: str, object_id: str):
    """5.8 Get Object Versions."""
    coll, access = _readable(api_root, collection_id)
    page = _read_page("versions", coll, access, VERSIONS_FILTERS, object_id=object_id, with_body=False,
                      all_versions=True)
    if not page.rows:
        raise NotFound(f"no object {object_id} in this collection")
    body = {"more": page.more, "versions": [r[3] for r in page.rows]}
    if page.next:
        body["next"] = page.next
    return _json(body, headers=_date_headers(page))
