"""Incident reports over the API (the field names are a contract), shared by the web form."""
from __future__ import annotations

from flask_babel import gettext
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validates_schema

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
from ..stix.card_redaction import CARD_IN_VALUE, card_in_observable, holds_card, redact_cards
from ..stix.observables import TYPES, Observable, ObservableError, normalize, wallet_chain
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
from .fields import BoundedList, Bounds, Choice, Text, Timestamp, one_of

_TYPE_DESCRIPTION = (
    "ipv4-addr and ipv6-addr (an address or a CIDR range), domain-name, url, email-addr, file:md5/sha1/sha256/"
    "sha512, autonomous-system (AS64500), and the fraud identifiers: bank-account (an IBAN, checksum checked, "
    "e.g. DE89 3704 0044 0532 0130 00, or a BIC and a national account number, BFTVVNVX/0071000123456), "
    "phone-number (E.164, +84912345678; national numbers need the server's PHONE_DEFAULT_REGION), "
    "cryptocurrency-wallet (Bitcoin base58check or bech32/bech32m, Ethereum 0x… with its EIP-55 checksum when "
    "mixed-case, Monero) and payment-card (the first 6 and last 4 digits only, 411111******1111: a full card "
    "number is refused, and never repeated in the error)")


def _known_type(value: object) -> None:
    if value not in TYPES:
        # The input is named only when it is short and holds no card number (an error body never
        # repeats one, whatever field it was sent in).
        if isinstance(value, str) and len(value) <= 40 and not holds_card(value):
            raise ValidationError(gettext("unknown observable type %(type)r; expected one of: %(types)s",
                                          type=value, types=", ".join(TYPES)))
        raise ValidationError(gettext("unknown observable type; expected one of: %(types)s", types=", ".join(TYPES)))


class ObservableSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=_known_type,
                         metadata={"enum": list(TYPES), "description": _TYPE_DESCRIPTION})
    value = fields.Raw(required=True, metadata={"type": "string", "description": (
        "The value as the reporter has it; formatting is normalized (spaces in an IBAN or a phone number, "
        "defanged URLs, a bitcoin:/ethereum: URI)")})

    @validates_schema(skip_on_field_errors=True)
    def _valid_value(self, data, **kwargs):
        try:
            data["_normalized"] = normalize(data["type"], data["value"])
        except ObservableError as exc:
            raise ValidationError(redact_cards(str(exc)), field_name="value") from None
        if card_in_observable(data["_normalized"].type, data["_normalized"].value):
            raise ValidationError(CARD_IN_VALUE, field_name="value")

    @post_load
    def _to_observable(self, data, **kwargs):
        return data["_normalized"]


def _country(value: str) -> None:
    if not isinstance(value, str) or value.upper() not in countries():
        raise ValidationError(gettext("%(value)r is not an ISO 3166-1 alpha-2 country code", value=value))


class IncidentCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    title = Text(required=True, max_length=MAX_TITLE, allow_blank=False)
    description = Text(load_default="", max_length=MAX_DESCRIPTION, multiline=True)
    classification = fields.String(required=True, validate=Choice(
        CLASSIFICATIONS, lambda value: gettext("unknown RSIT classification %(input)r; expected class/type such as "
                                               "malicious-code/infected-system", input=value)))
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
    # A drill: the report answers this exercise and is stored as an exercise report, never as an
    # incident (services/exercise_reports.py).
    exercise_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                                 validate=Bounds(min=1, max=2**63 - 1, words=lambda: gettext("is not an exercise id")),
                                 metadata={"description": (
                                     "Set only in a drill: the exercise this report answers. It is stored as an "
                                     "exercise report (201 with \"exercise_report\": true, Location "
                                     "/api/v1/exercises/<id>/reports/<report id>), never as an incident; "
                                     "tlp may not be red (400 on tlp: the CERT staff running the drill read it)")})
    exercise_inject = fields.Integer(load_default=None, allow_none=True, strict=True,
                                     validate=Bounds(min=1, max=2**31 - 1,
                                                     words=lambda: gettext("is not an inject number (1, 2, ...)")),
                                     metadata={"description": (
                                         "With exercise_id: the number of the inject answered (already sent); "
                                         "default: the latest sent inject expecting a report")})

    @validates_schema(skip_on_field_errors=True)
    def _inject_needs_exercise(self, data, **kwargs):
        if data.get("exercise_inject") is not None and data.get("exercise_id") is None:
            raise ValidationError(gettext("is only meaningful with exercise_id"), field_name="exercise_inject")

    @validates_schema(skip_on_field_errors=False)
    def _times_in_order(self, data, **kwargs):
        detected, started = data.get("detected_at"), data.get("started_at")
        if detected and started and started > detected:
            raise ValidationError(gettext("must not be after detected_at"), field_name="started_at")

    @post_load
    def _normalize(self, data, **kwargs):
        data["cross_border"] = sorted({c.upper() for c in data.get("cross_border") or ()})
        return data


def _chain(observable) -> str | None:
    if observable.type != "cryptocurrency-wallet":
        return None
    return wallet_chain(Observable(observable.type, observable.value, observable.display_value))


class ObservableOutSchema(Schema):
    type = fields.String()
    value = fields.String()
    display_value = fields.String()
    stix_id = fields.String()
    # Wallets only (null otherwise): bitcoin, ethereum or monero, derived from the address.
    chain = fields.Function(_chain, allow_none=True, metadata={
        "type": "string", "nullable": True, "enum": ["bitcoin", "ethereum", "monero", None],
        "description": "The wallet's chain (cryptocurrency-wallet only; null for every other type)"})


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
