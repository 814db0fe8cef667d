"""Cooperation requests over the API (CERT staff only; the field names are a contract).

The schemas check shape and type; the rules about what may leave (TLP:RED never, AMBER+STRICT
only when confirmed, the due date in the future, a known partner) are the service's
(services/cooperation.py), so the web form and the API refuse the same things.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from ..limits import MAX_ANSWER_OBJECTS, MAX_COOPERATION_MESSAGE, MAX_REQUEST_PARTNERS
from ..vocab import COOPERATION_KIND_LABELS, COOPERATION_KINDS, TLP_LEVELS, tlp_label
from .fields import BoundedList, Text, Timestamp, one_of

# A partner's slug (models.Organization.slug).
MAX_SLUG = 64


class CooperationRequestCreateSchema(Schema):
    """POST /api/v1/incidents/<id>/cooperation-requests: one request per partner, all or none."""

    class Meta:
        unknown = RAISE

    partners = BoundedList(fields.String(validate=validate.Length(min=1, max=MAX_SLUG)),
                           max_length=MAX_REQUEST_PARTNERS, required=True)
    kind = fields.String(required=True, validate=one_of(COOPERATION_KINDS, COOPERATION_KIND_LABELS))
    message = Text(max_length=MAX_COOPERATION_MESSAGE, multiline=True, allow_blank=False, required=True)
    due_at = Timestamp(required=True)
    tlp = fields.String(required=True, validate=one_of(TLP_LEVELS, {t: tlp_label(t) for t in TLP_LEVELS}))
    # AMBER+STRICT leaves only when the caller says so, as the form's checkbox does.
    confirm_strict = fields.Boolean(truthy={True}, falsy={False}, load_default=False)


class CooperationAnswerSchema(Schema):
    """POST /api/v1/cooperation-requests/<id>/answer: a message, and STIX 2.1 objects to attach."""

    class Meta:
        unknown = RAISE

    message = Text(max_length=MAX_COOPERATION_MESSAGE, multiline=True, allow_blank=False, required=True)
    objects = BoundedList(fields.Dict(), max_length=MAX_ANSWER_OBJECTS, load_default=None)
    # Required (true) when the request or an attached object is AMBER+STRICT.
    confirm_strict = fields.Boolean(truthy={True}, falsy={False}, load_default=False)


class CooperationAcknowledgeSchema(Schema):
    """POST /api/v1/cooperation-requests/<id>/acknowledge: an optional body (none, or ``{}``)."""

    class Meta:
        unknown = RAISE

    # Required (true) when the request is AMBER+STRICT: the acknowledgement leaves at its TLP.
    confirm_strict = fields.Boolean(truthy={True}, falsy={False}, load_default=False)


class CooperationRequestSchema(Schema):
    """A request as CERT staff read it: ours to a partner (outgoing) or a partner's to us (incoming)."""

    id = fields.Integer()
    direction = fields.String()
    incident_id = fields.Integer(allow_none=True)
    partner = fields.Function(lambda r: r.partner.slug)
    partner_name = fields.Function(lambda r: r.partner.name)
    partner_country = fields.Function(lambda r: r.partner.country)
    kind = fields.String()
    message = fields.String()
    due_at = Timestamp(allow_none=True)
    tlp = fields.String()
    state = fields.String()
    stix_id = fields.String()
    confirmed_strict = fields.Boolean()
    created_by = fields.String()
    created_at = Timestamp()
    sent_at = Timestamp(allow_none=True)
    acknowledged_at = Timestamp(allow_none=True)
    answered_at = Timestamp(allow_none=True)
    failed_at = Timestamp(allow_none=True)
    overdue_at = Timestamp(allow_none=True)
    taxii_status_id = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)
    answer_stix_id = fields.String(allow_none=True)
    answer_message = fields.String(allow_none=True)
    answer_object_ids = fields.List(fields.String())
    # Filled in by the API (services/cooperation.is_overdue and undelivered), not read from the row.
    overdue = fields.Boolean(metadata={"description": "open and past its due date (an acknowledged request "
                                                      "keeps its state and says overdue here)"})
    undelivered = fields.Integer(metadata={"description": "deliveries to the partner that died; "
                                                          "POST .../resend queues them again"})
