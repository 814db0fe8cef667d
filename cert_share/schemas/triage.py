"""Triage requests and the staff view of a report (CERT staff only: never used for members)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from ..limits import MAX_COUNTRIES, MAX_NOTE, MAX_PARTNER_CERTS
from ..params import MAX_ID
from ..vocab import INCIDENT_STATUS_LABELS, INCIDENT_STATUSES
from .fields import Text, Timestamp, one_of
from .incident import IncidentSchema


class CooperationSchema(Schema):
    class Meta:
        unknown = RAISE

    countries = fields.List(fields.String(), load_default=list, validate=validate.Length(max=MAX_COUNTRIES))
    partner_certs = fields.List(fields.String(), load_default=list, validate=validate.Length(max=MAX_PARTNER_CERTS))


class IncidentTriageSchema(Schema):
    """PATCH /api/v1/incidents/<id>: every field optional; all applied, or none on bad input."""

    class Meta:
        unknown = RAISE

    status = fields.String(validate=one_of(INCIDENT_STATUSES, INCIDENT_STATUS_LABELS))
    # E-mail or id of a CERT user; null unassigns.
    assignee = fields.Raw(allow_none=True)
    note = Text(max_length=MAX_NOTE, multiline=True, allow_blank=False)
    cooperation = fields.Nested(CooperationSchema, allow_none=True)
    merge_into = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID))
    link = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID))


class NoteOutSchema(Schema):
    id = fields.Integer()
    body = fields.String()
    author = fields.String(attribute="author_label")
    created_at = Timestamp()


class StaffIncidentSchema(IncidentSchema):
    """A report as CERT staff see it: the member view plus the case file."""

    assignee = fields.Function(lambda inc: inc.assignee.email if inc.assignee else None)
    acknowledged_at = Timestamp(allow_none=True)
    closed_at = Timestamp(allow_none=True)
    merged_into = fields.Integer(attribute="merged_into_id", allow_none=True)


def staff_view(incident, notes, links, cooperation) -> dict:
    """StaffIncidentSchema output plus the case file (notes, links, cooperation)."""
    body = StaffIncidentSchema().dump(incident)
    body["notes"] = NoteOutSchema(many=True).dump(notes)
    body["links"] = [{"incident": other.id, "kind": row.kind,
                      "direction": "to" if row.incident_id == incident.id else "from"} for row, other in links]
    body["cooperation"] = None if cooperation is None else {
        "countries": cooperation.countries, "partner_certs": cooperation.partner_certs}
    return body
