"""/api/v1/cooperation-requests: requests to partner CERTs opened from a case, and partners'
requests to us, acknowledged and answered (the rules live in services/cooperation.py).

CERT staff only. Every route refuses a member before it reads the path's id or the body, so a
member's 403 is the same whether the report or request exists or not, and whatever it sent.
"""
from __future__ import annotations

from typing import Any

from flask import g, jsonify, request, url_for

from .. import policy
from ..clock import utcnow
from ..extensions import db
from ..jsonbody import json_object
from ..models import CooperationRequest
from ..params import int_arg
from ..schemas.cooperation import (
    CooperationAcknowledgeSchema,
    CooperationAnswerSchema,
    CooperationRequestCreateSchema,
    CooperationRequestSchema,
)
from ..services import cooperation
from ..vocab import COOPERATION_DIRECTIONS, COOPERATION_STATES
from . import bp
from .incidents import _load_incident
from .parameters import MAX_PAGE, id_param

STAFF_ONLY = "cooperation requests are for CERT staff"

_create = CooperationRequestCreateSchema()
_answer = CooperationAnswerSchema()
_acknowledge = CooperationAcknowledgeSchema()
_out = CooperationRequestSchema()


def _staff_only() -> None:
    policy.require_cert_staff(g.actor, STAFF_ONLY)


def _dump(rows: list[CooperationRequest]) -> list[dict]:
    """Requests as the API answers them, each with ``overdue`` and ``undelivered``."""
    now = utcnow()
    dead = cooperation.undelivered(db.session, [r.id for r in rows])
    return [{**_out.dump(r), "overdue": cooperation.is_overdue(r, now), "undelivered": dead.get(r.id, 0)}
            for r in rows]


def _one(row: CooperationRequest):
    return jsonify(_dump([row])[0])


@bp.post("/incidents/<int:incident_id>/cooperation-requests")
def open_cooperation_requests(incident_id: int):
    _staff_only()
    incident = _load_incident(incident_id)
    data = _create.load(json_object(request))
    created = cooperation.open_requests(db.session, g.actor, incident, cooperation.RequestInput(**data))
    response = jsonify({"requests": _dump(created)})
    response.status_code = 201
    return response


@bp.get("/cooperation-requests")
def list_cooperation_requests():
    _staff_only()
    limit = int_arg(request.args, "limit", default=200, maximum=MAX_PAGE)
    before_id = int_arg(request.args, "before_id")
    direction, state = request.args.get("direction"), request.args.get("state")
    rows = cooperation.list_requests(db.session, g.actor, direction=direction, state=state, before_id=before_id,
                                     limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    body: dict[str, object] = {"requests": _dump(page), "more": more}
    if more:
        filters: dict[str, Any] = {k: v for k, v in (("direction", direction), ("state", state)) if v}
        body["next"] = url_for("api.list_cooperation_requests", limit=limit, before_id=page[-1].id, **filters)
    return jsonify(body)


@bp.get("/cooperation-requests/<int:request_id>")
def get_cooperation_request(request_id: int):
    _staff_only()
    return _one(cooperation.get_request(db.session, g.actor, request_id))


@bp.post("/cooperation-requests/<int:request_id>/acknowledge")
def acknowledge_cooperation_request(request_id: int):
    _staff_only()
    row = cooperation.get_request(db.session, g.actor, request_id)
    data = _acknowledge.load(json_object(request) if request.content_length else {})  # the body is optional
    return _one(cooperation.acknowledge(db.session, g.actor, row, confirm_strict=data["confirm_strict"]))


@bp.post("/cooperation-requests/<int:request_id>/answer")
def answer_cooperation_request(request_id: int):
    _staff_only()
    row = cooperation.get_request(db.session, g.actor, request_id)
    data = _answer.load(json_object(request))
    row = cooperation.answer(db.session, g.actor, row, message=data["message"], objects=data["objects"],
                             confirm_strict=data["confirm_strict"])
    return _one(row)


@bp.post("/cooperation-requests/<int:request_id>/resend")
def resend_cooperation_request(request_id: int):
    _staff_only()
    row = cooperation.get_request(db.session, g.actor, request_id)
    return _one(cooperation.resend(db.session, g.actor, row))


def openapi_paths(spec) -> None:
    """Document the cooperation routes in the API's OpenAPI document (called by openapi.build_spec)."""
    spec.components.schema("CooperationRequestCreate", schema=CooperationRequestCreateSchema)
    spec.components.schema("CooperationAnswer", schema=CooperationAnswerSchema)
    spec.components.schema("CooperationAcknowledge", schema=CooperationAcknowledgeSchema)
    spec.components.schema("CooperationRequest", schema=CooperationRequestSchema)
    one = {"$ref": "#/components/schemas/CooperationRequest"}
    many = {"type": "object", "properties": {"requests": {"type": "array", "items": one}}}
    listed = {"type": "object", "required": ["requests", "more"], "properties": {
        "requests": {"type": "array", "items": one},
        "more": {"type": "boolean", "description": "older requests follow"},
        "next": {"type": "string", "description": "the next page's URL (before_id = the last id here), when more"}}}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    fails = {code: {"description": text, "content": error} for code, text in (
        ("400", "Invalid input (the body names the field): an unknown partner, a due date in the past, TLP:RED, "
                "AMBER+STRICT without confirm_strict, a request that is not a partner's or is already answered, "
                "nothing to resend"),
        ("409", "The operating CERT organization is not set up: nothing leaves under another name"),
        ("401", "Missing or bad token"),
        ("403", "CERT staff only (a member gets this for every id, existing or not)"),
        ("404", "Not found"), ("413", "Body too large"),
        ("414", "Query string too long (over MAX_QUERY_STRING_LENGTH bytes, once URL-encoded)"),
        ("415", "Content-Type is not application/json"))}

    def answers(ok_code: str, ok_schema: dict, *codes: str) -> dict:
        ok = {ok_code: {"description": "OK", "content": {"application/json": {"schema": ok_schema}}}}
        return {**ok, **{code: fails[code] for code in codes}}

    def body(name: str) -> dict:
        return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}

    secure: list[dict[str, list[str]]] = [{"bearer": []}]
    rid = id_param("request_id")
    spec.path(path="/api/v1/incidents/{incident_id}/cooperation-requests", operations={"post": {
        "summary": "CERT staff: ask partner CERTs about a report (one request per partner, queued for "
                   "push-partners); TLP:RED never leaves, AMBER+STRICT only with confirm_strict",
        "security": secure, "parameters": [id_param("incident_id")], "requestBody": body("CooperationRequestCreate"),
        "responses": answers("201", many, "400", "401", "403", "404", "409", "413", "415")}})
    query = [{"name": "direction", "in": "query", "schema": {"type": "string", "enum": list(COOPERATION_DIRECTIONS)}},
             {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(COOPERATION_STATES)}},
             {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
             {"name": "before_id", "in": "query", "description": "only requests with a smaller id (the next page)",
              "schema": {"type": "integer", "minimum": 1}}]
    spec.path(path="/api/v1/cooperation-requests", operations={"get": {
        "summary": "CERT staff: cooperation requests, newest first (by id), optionally by direction and state; "
                   "a TLP:RED case's requests only for the staff named on it",
        "security": secure, "parameters": query, "responses": answers("200", listed, "400", "401", "403", "414")}})
    spec.path(path="/api/v1/cooperation-requests/{request_id}", operations={"get": {
        "summary": "CERT staff: one cooperation request, with its answer and the times of each state",
        "security": secure, "parameters": [rid], "responses": answers("200", one, "401", "403", "404")}})
    optional = {"required": False, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/CooperationAcknowledge"}}}}
    spec.path(path="/api/v1/cooperation-requests/{request_id}/acknowledge", operations={"post": {
        "summary": "CERT staff: tell the partner we have its request (again: no change); an AMBER+STRICT request "
                   "only with confirm_strict: true",
        "security": secure, "parameters": [rid], "requestBody": optional,
        "responses": answers("200", one, "400", "401", "403", "404", "409", "415")}})
    spec.path(path="/api/v1/cooperation-requests/{request_id}/answer", operations={"post": {
        "summary": "CERT staff: answer a partner's request with a message and STIX 2.1 objects (an unmarked one "
                   "counts as AMBER+STRICT); it goes back by the route the partner is reachable on; an "
                   "AMBER+STRICT request or object only with confirm_strict: true",
        "security": secure, "parameters": [rid], "requestBody": body("CooperationAnswer"),
        "responses": answers("200", one, "400", "401", "403", "404", "409", "413", "415")}})
    spec.path(path="/api/v1/cooperation-requests/{request_id}/resend", operations={"post": {
        "summary": "CERT staff: queue the request's dead deliveries again (the same bundle, attempts from zero, "
                   "by the partner's current channel); a failed request goes back to queued. 400 when nothing "
                   "is dead",
        "security": secure, "parameters": [rid], "responses": answers("200", one, "400", "401", "403", "404")}})
