"""CERT staff over the API: triage a report (PATCH /incidents/<id>) and read the metrics.

Both are CERT roles only: a member's token gets 403 (the report's existence is no secret to its
own organization, and another member's report already answers 404 before any role check).
"""
from __future__ import annotations

from flask import g, jsonify, request

from .. import policy
from ..extensions import db
from ..jsonbody import json_object
from ..schemas.triage import IncidentTriageSchema, staff_view
from ..services import metrics, triage
from ..vocab import COOPERATION_DIRECTIONS, COOPERATION_KINDS
from . import bp
from .incidents import _load_incident
from .parameters import id_param

_triage = IncidentTriageSchema()



@bp.patch("/incidents/<int:incident_id>")
def triage_incident(incident_id: int):
    incident = _load_incident(incident_id)
    policy.require_cert_staff(g.actor)
    data = _triage.load(json_object(request))
    incident = triage.apply_request(db.session, incident, data, actor=g.actor)
    return jsonify(_staff_body(incident))


@bp.get("/incidents/<int:incident_id>/case")
def get_case(incident_id: int):
    incident = _load_incident(incident_id)
    policy.require_cert_staff(g.actor)
    return jsonify(_staff_body(incident))


def _staff_body(incident):
    return staff_view(incident, triage.notes(db.session, incident), triage.linked_reports(db.session, incident),
                      triage.cooperation_of(db.session, incident))


@bp.get("/metrics")
def get_metrics():
    policy.require_cert_staff(g.actor)
    period = metrics.parse_period(request.args.get("from"), request.args.get("to"))
    return jsonify(metrics.compute(db.session, period))


def openapi_paths(spec) -> None:
    """Document triage and metrics in the OpenAPI document (called by openapi.build_spec)."""
    spec.components.schema("IncidentTriage", schema=IncidentTriageSchema)
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    fails = {code: {"description": text, "content": error} for code, text in (
        ("400", "Invalid input (names the field)"), ("401", "Missing or bad token"), ("403", "CERT staff only"),
        ("404", "Not found"), ("409", "Transition not allowed from the current status, or merge conflict"))}
    staff_view = {"type": "object", "description": "The report plus assignee, acknowledged_at, closed_at, "
                                                   "merged_into, notes, links and cooperation"}
    iid = id_param("incident_id")
    secure: list[dict[str, list[str]]] = [{"bearer": []}]
    spec.path(path="/api/v1/incidents/{incident_id}", operations={"patch": {
        "summary": "Triage a report (CERT staff): status, assignee, note, cooperation, merge_into, link",
        "security": secure, "parameters": [iid],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/IncidentTriage"}}}},
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": staff_view}}},
                      **{k: fails[k] for k in ("400", "401", "403", "404", "409")}}}})
    spec.path(path="/api/v1/incidents/{incident_id}/case", operations={"get": {
        "summary": "The staff view of a report (CERT staff)", "security": secure, "parameters": [iid],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": staff_view}}},
                      **{k: fails[k] for k in ("401", "403", "404")}}}})
    day = {"type": "string", "format": "date"}
    counts = {"type": "object", "additionalProperties": {"type": "integer"}}
    minutes = {"type": "number", "nullable": True}
    requests = {"type": "object", "required": ["total", "by_kind", "by_country", "by_state", "overdue"], "properties": {
        "total": {"type": "integer"},
        "by_kind": {"type": "object", "properties": {kind: {"type": "integer"} for kind in COOPERATION_KINDS},
                    "additionalProperties": False},
        "by_country": {**counts, "description": "By the partner's ISO 3166 country code ('unknown' when not set)"},
        "by_state": {**counts, "description": "By the request's state now"},
        "acknowledged": {"type": "integer", "description": "Requests the medians to acknowledge are taken over"},
        "answered": {"type": "integer", "description": "Requests the medians to answer are taken over"},
        "median_time_to_acknowledge_minutes": {**minutes, "description": (
            "From when the partner could see the request (outgoing: sent; incoming: received) to its acknowledgement")},
        "median_time_to_answer_minutes": {**minutes, "description": "From the same start to the answer"},
        "overdue": {"type": "integer", "description": "Past the due date and unanswered now (failed ones excluded)"},
        "answered_late": {"type": "integer", "description": "Answered after the due date"}}}
    spec.path(path="/api/v1/metrics", operations={"get": {
        "summary": "Response metrics over a period of whole UTC days (CERT staff)", "security": secure,
        "parameters": [{"name": "from", "in": "query", "schema": day},
                       {"name": "to", "in": "query", "schema": day}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "incidents": {"type": "object", "properties": {
                    "total": {"type": "integer"}, "by_sector": counts, "by_classification": counts,
                    "by_severity": counts, "by_status": counts}},
                "cross_border_cases": {"type": "integer", "description": (
                    "Reports that concern another country, each counted once: "
                    "cross_border_declared and cross_border_cooperation together")},
                "cross_border_declared": {"type": "integer", "description": (
                    "Reports whose reporter declared a country other than the CERT's own in cross_border")},
                "cross_border_cooperation": {"type": "integer", "description": (
                    "Reports CERT staff flagged for cross-border cooperation")},
                "cross_border_requests": {"type": "integer", "description": (
                    "Reports with a cooperation request to or from a partner CERT")},
                "warnings_published": {"type": "integer"},
                "median_time_to_acknowledge_minutes": {"type": "number", "nullable": True},
                "median_time_to_first_warning_minutes": {"type": "number", "nullable": True},
                "case_processing_rate": {"type": "number", "nullable": True},
                "overdue_phases": {"type": "integer"},
                "members_polling": {"type": "integer"},
                "cooperation": {"type": "object", "description": (
                    "Cooperation requests with partner CERTs: outgoing ones opened and incoming ones "
                    "received in the period"), "properties": {
                        direction: requests for direction in COOPERATION_DIRECTIONS},
                    "required": list(COOPERATION_DIRECTIONS)}}}}}},
            **{k: fails[k] for k in ("400", "401", "403")}}}})
