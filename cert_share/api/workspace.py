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
                "warnings_published": {"type": "integer"},
                "median_time_to_acknowledge_minutes": {"type": "number", "nullable": True},
                "median_time_to_first_warning_minutes": {"type": "number", "nullable": True},
                "case_processing_rate": {"type": "number", "nullable": True},
                "overdue_phases": {"type": "integer"},
                "members_polling": {"type": "integer"}}}}}},
            **{k: fails[k] for k in ("400", "401", "403")}}}})
