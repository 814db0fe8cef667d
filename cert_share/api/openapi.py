"""The OpenAPI 3 document, generated from the marshmallow schemas (apispec).

What a field enforces beyond its type (lengths, refused characters, date-time format) comes from
the field itself (``openapi_properties()`` in schemas/fields.py); limits on parameters come from
the constants the views check (api/parameters.py).
"""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import jsonify

from ..schemas.incident import IncidentCreateSchema, IncidentSchema, PhaseUpdateCreateSchema
from ..services.incident_listing import STATUS_CHOICES
from ..vocab import CLASSIFICATIONS, RSIT, SECTORS, SEVERITIES
from . import bp
from .cooperation import openapi_paths as cooperation_paths
from .exercises import openapi_paths as exercise_paths
from .observables import openapi_paths as observable_paths
from .parameters import BEFORE_PARAM, LIMIT_PARAM, id_param, report_filter_params
from .warnings import openapi_paths as warning_paths
from .workspace import openapi_paths as workspace_paths

_ERROR = {"$ref": "#/components/schemas/Error"}
# POST /api/v1/incidents with exercise_id answers with this, not an Incident: a drill's report is
# stored apart (services/exercise_reports.py) and read back at /api/v1/exercises/<id>/reports/<id>.
_OBSERVABLE = {"type": "object", "properties": {"type": {"type": "string"}, "value": {"type": "string"},
                                                "display": {"type": "string"}}}
EXERCISE_REPORT = {
    "type": "object",
    "description": "A report filed with exercise_id: stored as an exercise report, never as an incident "
                   "(Location: /api/v1/exercises/<exercise_id>/reports/<id>)",
    "properties": {
        "id": {"type": "integer"}, "exercise_id": {"type": "integer"},
        "exercise_inject": {"type": "integer", "nullable": True,
                            "description": "the inject answered (null: filed before any inject was sent)"},
        "organization": {"type": "string"}, "title": {"type": "string"}, "classification": {"type": "string"},
        "severity": {"type": "string"},
        "tlp": {"type": "string", "enum": ["clear", "green", "amber", "amber+strict"],
                "description": "never red: a drill's report is read by the CERT staff running it, so a report "
                               "filed with exercise_id and tlp red is refused (400 on tlp)"},
        "observables": {"type": "array", "items": _OBSERVABLE},
        "created_at": {"type": "string", "format": "date-time"},
        "details": {"type": "object", "description": "the rest of the report as sent (description, times...)"},
        "exercise_report": {"type": "boolean", "enum": [True]}},
    "required": ["id", "exercise_id", "exercise_report"]}


def _field_properties(self, field, **kwargs) -> dict:
    """What a field of ours says it enforces (schemas/fields.py)."""
    properties = getattr(field, "openapi_properties", None)
    return properties() if properties else {}


def _responses(ok_code: str, ok_schema: dict | None, *codes: str) -> dict:
    responses = {ok_code: {"description": "OK", "content": {"application/json": {"schema": ok_schema}}}
                 if ok_schema else {"description": "OK"}}
    descriptions = {"400": "Invalid input (the body names each field and problem)", "401": "Missing or bad token",
                    "403": "Forbidden", "404": "Not found (or not yours)", "413": "Body too large",
                    "414": "Query string too long (over MAX_QUERY_STRING_LENGTH bytes, once URL-encoded)",
                    "415": "Content-Type is not application/json"}
    for code in codes:
        responses[code] = {"description": descriptions[code], "content": {"application/json": {"schema": _ERROR}}}
    return responses


@lru_cache(maxsize=1)
def build_spec() -> dict:
    marshmallow_plugin = MarshmallowPlugin()
    spec = APISpec(title="cert-share API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[marshmallow_plugin],
                   info={"description": "Report incidents and read them back. Authenticate with "
                                        "'Authorization: Bearer <token>' (cert-share token add)."})
    converter = marshmallow_plugin.converter
    assert converter is not None  # the plugin makes it when APISpec initialises it
    converter.add_attribute_function(_field_properties)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("IncidentCreate", schema=IncidentCreateSchema)
    spec.components.schema("Incident", schema=IncidentSchema)
    spec.components.schema("PhaseUpdateCreate", schema=PhaseUpdateCreateSchema)
    spec.components.schema("Error", {"type": "object", "properties": {
        "error": {"type": "string"}, "message": {"type": "string"}, "status": {"type": "integer"},
        "errors": {"type": "object", "description": "field -> list of problems"}}})
    incident = {"$ref": "#/components/schemas/Incident"}
    spec.components.schema("ExerciseReport", EXERCISE_REPORT)
    exercise_report = {"$ref": "#/components/schemas/ExerciseReport"}
    incident_id = id_param("incident_id")
    spec.path(path="/api/v1/incidents", operations={
        "post": {"summary": "Report an incident", "security": [{"bearer": []}],
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/IncidentCreate"}}}},
                 "responses": {**_responses("201", {"anyOf": [incident, exercise_report]}, "400", "401", "413",
                                            "415"),
                               "200": {"description": "Already reported with this external_id",
                                       "content": {"application/json": {"schema": {
                                           "anyOf": [incident, exercise_report]}}}},
                               "409": {"description": "exercise_id names an exercise that is closed",
                                       "content": {"application/json": {"schema": _ERROR}}}}},
        "get": {"summary": "List reports (own organization; the CERT sees all), newest first, optionally filtered",
                "security": [{"bearer": []}],
                "parameters": [LIMIT_PARAM, BEFORE_PARAM, *report_filter_params(
                    STATUS_CHOICES, SEVERITIES, (*RSIT, *CLASSIFICATIONS), SECTORS)],
                "responses": _responses("200", {"type": "object", "properties": {
                    "incidents": {"type": "array", "items": incident}, "more": {"type": "boolean"},
                    "next": {"type": "string"}}}, "400", "401", "414")},
    })
    spec.path(path="/api/v1/incidents/{incident_id}", operations={
        "get": {"summary": "Read a report", "security": [{"bearer": []}], "parameters": [incident_id],
                "responses": _responses("200", incident, "401", "404")}})
    spec.path(path="/api/v1/incidents/{incident_id}/stix", operations={
        "get": {"summary": "The report as a STIX 2.1 bundle", "security": [{"bearer": []}],
                "parameters": [incident_id],
                "responses": {"200": {"description": "STIX 2.1 bundle",
                                      "content": {"application/stix+json": {"schema": {"type": "object"}}}},
                              **{k: v for k, v in _responses("200", None, "401", "404").items() if k != "200"}}}})
    spec.path(path="/api/v1/incidents/{incident_id}/updates", operations={
        "post": {"summary": "Add a reporting phase: those of the organization's regime (NIS2: notification, "
                            "intermediate on request, final-report; DORA: intermediate, final-report)",
                 "security": [{"bearer": []}], "parameters": [incident_id],
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/PhaseUpdateCreate"}}}},
                 "responses": _responses("201", incident, "400", "401", "404", "415")}})
    spec.path(path="/api/v1/exercises/{exercise_id}/reports/{report_id}", operations={
        "get": {"summary": "Read an exercise report (the organization that filed it, and CERT staff)",
                "security": [{"bearer": []}], "parameters": [id_param("exercise_id"), id_param("report_id")],
                "responses": _responses("200", exercise_report, "401", "404")}})
    warning_paths(spec)  # early warnings
    workspace_paths(spec)  # triage and metrics
    observable_paths(spec)  # search and pivot
    cooperation_paths(spec)  # requests to and from partner CERTs
    exercise_paths(spec)  # drills
    return _with_rate_limit(spec.to_dict())


def _with_rate_limit(document: dict) -> dict:
    """Every route counts against its token's API_RATE_LIMIT (auth/rate_limits.py): 429 with
    Retry-After is a possible answer of each operation."""
    too_many = {"description": "Too many requests with this token (or, without a valid one, from this address): "
                               "retry after the seconds in Retry-After",
                "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
                "content": {"application/json": {"schema": _ERROR}}}
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("429", too_many)
    return document


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_spec())
