"""/api/v1/warnings: early warnings. Members read what was published to them; CERT staff list
every state, edit, publish and discard drafts (the rules live in cert_share.early_warning.lifecycle)."""
from __future__ import annotations

from flask import g, jsonify, request
from marshmallow import RAISE, Schema, fields, validate

from .. import policy
from ..early_warning import lifecycle
from ..errors import InputError
from ..extensions import db
from ..jsonbody import json_object
from ..limits import MAX_DESCRIPTION, MAX_TITLE
from ..params import int_arg
from ..schemas.fields import Text, Timestamp
from ..stix.fraud import PERSONAL_TYPES
from ..stix.keyed_hash import current_hash
from ..vocab import TLP_LEVELS, WARNING_STATES
from . import bp
from .parameters import BEFORE_PARAM, LIMIT_PARAM, MAX_PAGE, id_param


def _observable(warning) -> dict:
    """The observable as the reader may see it: members get what their version carried (a
    personal value's keyed hash unless it was published in clear), CERT staff the value; both get
    the keyed hash of a personal value as ``value_hmac`` (null for other types)."""
    digest = getattr(warning, "value_hash", None)
    if digest is None and warning.observable_type in PERSONAL_TYPES:
        digest = current_hash(warning.observable_type, warning.observable_value)
    return {"type": warning.observable_type, "value": warning.observable_value,
            "display_value": warning.observable_display, "value_hmac": digest}


class WarningSchema(Schema):
    id = fields.Integer()
    report_id = fields.String()
    indicator_id = fields.String()
    title = fields.String()
    description = fields.String()
    recommended_action = fields.String()
    observable = fields.Function(_observable, metadata={
        "description": "type, value, display_value and value_hmac. For a phone number, bank account or payment "
                       "card, members get the keyed hash (hmac-sha256:<key id>:<hex>, docs/observable-hashing.md) "
                       "as value and display_value unless the CERT published the value in clear; value_hmac is "
                       "that hash (null for other types)"})
    classification = fields.String()
    tlp = fields.String()
    confidence = fields.Integer()
    valid_from = Timestamp()
    valid_until = Timestamp()
    modified = Timestamp()
    revoked = fields.Boolean()


class StaffWarningSchema(WarningSchema):
    """What CERT staff see in addition: state, routing, how many reported it."""

    state = fields.String()
    audience = fields.String()
    targets = fields.List(fields.String())
    published_targets = fields.List(fields.String())
    reason = fields.String()
    reporter_count = fields.Integer()
    edited = fields.Boolean()
    published_at = Timestamp(allow_none=True)
    # A draft again because new reports changed it: why (a code: source-tlp:<level> or
    # no-member-sector:<level>; empty otherwise) and since when.
    redraft_reason = fields.String()
    redraft_at = Timestamp(allow_none=True)
    publish_clear = fields.Boolean(metadata={
        "description": "a personal value (phone number, bank account, card) goes to members in clear, "
                       "not as its keyed hash"})


class WarningEditSchema(Schema):
    class Meta:
        unknown = RAISE

    title = Text(max_length=MAX_TITLE, allow_blank=False)
    description = Text(max_length=MAX_DESCRIPTION, multiline=True)
    recommended_action = Text(max_length=MAX_DESCRIPTION, multiline=True)
    tlp = fields.String(validate=validate.OneOf(TLP_LEVELS))
    targets = fields.List(fields.String(validate=validate.Length(max=100)), validate=validate.Length(max=100))
    publish_clear = fields.Boolean(metadata={
        "description": "true: publish a phone number, bank account or card in clear instead of its keyed hash "
                       "(audited); false: back to the hash"})


_member_out = WarningSchema()
_staff_out = StaffWarningSchema()
_edit = WarningEditSchema()


def _dump(warning):
    return (_staff_out if policy.is_cert_staff(g.actor) else _member_out).dump(warning)



@bp.get("/warnings")
def list_warnings():
    state = request.args.get("state")
    if state is not None and state not in WARNING_STATES:
        raise InputError(f"state must be one of {', '.join(WARNING_STATES)}", field="state")
    limit = int_arg(request.args, "limit", default=100, maximum=MAX_PAGE)
    before = int_arg(request.args, "before")
    if not policy.is_cert_staff(g.actor):  # members: the versions they received, never the working copy
        received = lifecycle.received_warnings(db.session, g.actor, limit=limit, before=before)
        return jsonify({"warnings": [_member_out.dump(w) for w in received]})
    rows = lifecycle.visible_warnings(db.session, g.actor, state=state, limit=limit, before=before)
    return jsonify({"warnings": [_staff_out.dump(w) for w in rows]})


@bp.get("/warnings/<int:warning_id>")
def get_warning(warning_id: int):
    if not policy.is_cert_staff(g.actor):
        return jsonify(_member_out.dump(lifecycle.received_warning(db.session, g.actor, warning_id)))
    return jsonify(_staff_out.dump(lifecycle.readable_warning(db.session, g.actor, warning_id)))


@bp.patch("/warnings/<int:warning_id>")
def edit_warning(warning_id: int):
    # Refused before the body is read: a member learns nothing from how its edit would parse.
    policy.require_cert_staff(g.actor, lifecycle.REVIEWERS_ONLY)
    changes = _edit.load(json_object(request))
    warning = lifecycle.review_warning(db.session, warning_id, g.actor, **changes)
    return jsonify(_dump(warning))


@bp.post("/warnings/<int:warning_id>/publish")
def publish_warning(warning_id: int):
    return jsonify(_dump(lifecycle.approve_warning(db.session, warning_id, g.actor)))


@bp.post("/warnings/<int:warning_id>/discard")
def discard_warning(warning_id: int):
    return jsonify(_dump(lifecycle.discard_warning(db.session, warning_id, g.actor)))


@bp.post("/warnings/<int:warning_id>/revoke")
def revoke_warning(warning_id: int):
    return jsonify(_dump(lifecycle.revoke_warning(db.session, warning_id, g.actor)))


def openapi_paths(spec) -> None:
    """Document the warning routes in the API's OpenAPI document (called by openapi.build_spec)."""
    spec.components.schema("Warning", schema=StaffWarningSchema)
    spec.components.schema("WarningEdit", schema=WarningEditSchema)
    warning = {"$ref": "#/components/schemas/Warning"}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    fails = {code: {"description": text, "content": error} for code, text in (
        ("400", "Invalid input"), ("401", "Missing or bad token"), ("403", "CERT staff only"),
        ("404", "Not found (or not visible to you)"), ("409", "Not allowed in the warning's state"))}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": warning}}}}
    wid = id_param("warning_id")
    secure: list[dict[str, list[str]]] = [{"bearer": []}]
    spec.path(path="/api/v1/warnings", operations={"get": {
        "summary": "Early warnings visible to the caller (members: published to them; CERT staff: all, "
                   "state fields included)", "security": secure,
        "parameters": [{"name": "state", "in": "query", "schema": {"type": "string", "enum": list(WARNING_STATES)}},
                       LIMIT_PARAM, BEFORE_PARAM],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"warnings": {"type": "array", "items": warning}}}}}},
            "400": fails["400"], "401": fails["401"]}}})
    spec.path(path="/api/v1/warnings/{warning_id}", operations={
        "get": {"summary": "One warning", "security": secure, "parameters": [wid],
                "responses": {**ok, "401": fails["401"], "404": fails["404"]}},
        "patch": {"summary": "CERT staff: edit title, description, recommended action, TLP, targets",
                  "security": secure, "parameters": [wid],
                  "requestBody": {"required": True, "content": {"application/json": {
                      "schema": {"$ref": "#/components/schemas/WarningEdit"}}}},
                  "responses": {**ok, **fails}}})
    for action, summary in (("publish", "CERT staff: approve a draft for the next publish-warnings run"),
                            ("discard", "CERT staff: drop a warning that was never published"),
                            ("revoke", "CERT staff: revoke a warning (members receive a revoked version)")):
        spec.path(path=f"/api/v1/warnings/{{warning_id}}/{action}", operations={"post": {
            "summary": summary, "security": secure, "parameters": [wid], "responses": {**ok, **fails}}})
