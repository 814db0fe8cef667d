"""Incident reports over the API (the field names are a contract), shared by the web form."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from .. import deadlines as _deadlines
from ..limits import (
    MAX_AFFECTED_SERVICES,
    MAX_COUNTRIES,
    MAX_DESCRIPTION,
    MAX_EXTERNAL_ID,
    MAX_IMPACT,
    MAX_OBSERVABLES,
    MAX_TITLE,
)
from ..stix.observables import TYPES, ObservableError, normalize
from ..vocab import (
    CLASSIFICATIONS,
    PHASE_LABELS,
    SEVERITIES,
    SEVERITY_LABELS,
    TLP_LEVELS,
    UPDATE_PHASES,
    countries,
    tlp_label,
)
from .fields import BoundedList, Text, Timestamp, one_of


class ObservableSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(TYPES, error="unknown observable type {input!r}; "
                                                                "expected one of: {choices}"))
    value = fields.Raw(required=True)

    @validates_schema(skip_on_field_errors=True)
    def _valid_value(self, data, **kwargs):
        try:
            data["_normalized"] = normalize(data["type"], data["value"])
        except ObservableError as exc:
            raise ValidationError(str(exc), field_name="value") from None

    @post_load
    def _to_observable(self, data, **kwargs):
        return data["_normalized"]


def _country(value: str) -> None:
    if not isinstance(value, str) or value.upper() not in countries():
        raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")


class IncidentCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    title = Text(required=True, max_length=MAX_TITLE, allow_blank=False)
    description = Text(load_default="", max_length=MAX_DESCRIPTION, multiline=True)
    classification = fields.String(required=True, validate=validate.OneOf(
        CLASSIFICATIONS, error="unknown RSIT classification {input!r}; expected class/type such as "
                               "malicious-code/infected-system"))
    severity = fields.String(required=True, validate=one_of(SEVERITIES, SEVERITY_LABELS))
    tlp = fields.String(required=True, validate=one_of(TLP_LEVELS, {level: tlp_label(level) for level in TLP_LEVELS}))
    detected_at = Timestamp(required=True, not_future=True)
    started_at = Timestamp(load_default=None, allow_none=True, not_future=True)
    classified_at = Timestamp(load_default=None, allow_none=True, not_future=True)
    affected_services = Text(load_default="", max_length=MAX_AFFECTED_SERVICES, multiline=True)
    impact = Text(load_default="", max_length=MAX_IMPACT, multiline=True)
    observables = BoundedList(fields.Nested(ObservableSchema), load_default=list, max_length=MAX_OBSERVABLES)
    cross_border = BoundedList(fields.String(validate=_country), load_default=list, max_length=MAX_COUNTRIES)
    personal_data = fields.Boolean(load_default=False)
    share_reporter = fields.Boolean(load_default=False)
    # A client's own id for this report: a retried POST with the same id creates nothing new.
    external_id = Text(load_default=None, allow_none=True, max_length=MAX_EXTERNAL_ID)

    @validates_schema(skip_on_field_errors=False)
    def _times_in_order(self, data, **kwargs):
        detected, started = data.get("detected_at"), data.get("started_at")
        if detected and started and started > detected:
            raise ValidationError("must not be after detected_at", field_name="started_at")

    @post_load
    def _normalize(self, data, **kwargs):
        data["cross_border"] = sorted({c.upper() for c in data.get("cross_border") or ()})
        return data


class ObservableOutSchema(Schema):
    type = fields.String()
    value = fields.String()
    display_value = fields.String()
    stix_id = fields.String()


class PhaseUpdateOutSchema(Schema):
    id = fields.Integer()
    phase = fields.String()
    summary = fields.String()
    submitted_at = Timestamp()


class IncidentSchema(Schema):
    """A report as the API returns it."""

    id = fields.Integer()
    stix_id = fields.String()
    organization = fields.Function(lambda inc: inc.organization.slug)
    source = fields.String()
    external_id = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String()
    classification = fields.String()
    severity = fields.String()
    tlp = fields.String()
    status = fields.String()
    detected_at = Timestamp()
    started_at = Timestamp(allow_none=True)
    classified_at = Timestamp(allow_none=True)
    affected_services = fields.String()
    impact = fields.String()
    cross_border = fields.List(fields.String())
    personal_data = fields.Boolean()
    share_reporter = fields.Boolean()
    observables = fields.List(fields.Nested(ObservableOutSchema))
    updates = fields.List(fields.Nested(PhaseUpdateOutSchema))
    # Reporting deadlines per phase (cert_share/deadlines.py decides the rules).
    deadlines = fields.Function(lambda inc: [d.as_dict() for d in _deadlines.for_incident(inc)])
    created_at = Timestamp()
    updated_at = Timestamp()


class PhaseUpdateCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    phase = fields.String(required=True, validate=one_of(UPDATE_PHASES, PHASE_LABELS))
    summary = Text(required=True, max_length=MAX_DESCRIPTION, multiline=True, allow_blank=False)
    details = fields.Dict(keys=fields.String(), load_default=dict)
