"""The OpenAPI 3 document, generated from the marshmallow schemas (apispec).

What a field enforces beyond its type (lengths, refused characters, date-time format) comes from
the field itself (``openapi_properties()`` in schemas/fields.py); limits on parameters come from
the constants the views check (``MAX_PAGE``, ``params.MAX_ID``).
"""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import jsonify

from ..params import MAX_ID
from ..schemas.incident import IncidentCreateSchema, IncidentSchema, PhaseUpdateCreateSchema
from . import bp
from .incidents import MAX_PAGE

_ERROR = {"$ref": "#/components/schemas/Error"}
# Query and path parameters, as the views parse them (params.int_arg, the <int:> converter).
LIMIT_PARAM = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}
BEFORE_PARAM = {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def id_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def _field_properties(self, field, **kwargs) -> dict:
    """What a field of ours says it enforces (schemas/fields.py)."""
    properties = getattr(field, "openapi_properties", None)
    return properties() if properties else {}


def _responses(ok_code: str, ok_schema: dict | None, *codes: str) -> dict:
    responses = {ok_code: {"description": "OK", "content": {"application/json": {"schema": ok_schema}}}
                 if ok_schema else {"description": "OK"}}
    descriptions = {"400": "Invalid input (the body names each field and problem)", "401": "Missing or bad token",
                    "403": "Forbidden", "404": "Not found (or not yours)", "413": "Body too large",
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
    marshmallow_plugin.converter.add_attribute_function(_field_properties)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("IncidentCreate", schema=IncidentCreateSchema)
    spec.components.schema("Incident", schema=IncidentSchema)
    spec.components.schema("PhaseUpdateCreate", schema=PhaseUpdateCreateSchema)
    spec.components.schema("Error", {"type": "object", "properties": {
        "error": {"type": "string"}, "message": {"type": "string"}, "status": {"type": "integer"},
        "errors": {"type": "object", "description": "field -> list of problems"}}})
    incident = {"$ref": "#/components/schemas/Incident"}
    incident_id = id_param("incident_id")
    spec.path(path="/api/v1/incidents", operations={
        "post": {"summary": "Report an incident", "security": [{"bearer": []}],
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/IncidentCreate"}}}},
                 "responses": {**_responses("201", incident, "400", "401", "413", "415"),
                               "200": {"description": "Already reported with this external_id",
                                       "content": {"application/json": {"schema": incident}}}}},
        "get": {"summary": "List reports (own organization; the CERT sees all)", "security": [{"bearer": []}],
                "parameters": [LIMIT_PARAM, BEFORE_PARAM],
                "responses": _responses("200", {"type": "object", "properties": {
                    "incidents": {"type": "array", "items": incident}, "more": {"type": "boolean"},
                    "next": {"type": "string"}}}, "400", "401")},
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
        "post": {"summary": "Add a reporting phase (notification, intermediate, final-report)",
                 "security": [{"bearer": []}], "parameters": [incident_id],
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/PhaseUpdateCreate"}}}},
                 "responses": _responses("201", incident, "400", "401", "404", "415")}})
    from .warnings import openapi_paths as warning_paths  # early warnings (issue 4)

    warning_paths(spec)
    from .workspace import openapi_paths as workspace_paths  # triage and metrics (issue 5)

    workspace_paths(spec)
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_spec())
