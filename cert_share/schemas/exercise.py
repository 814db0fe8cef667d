"""Drills (exercises) over the API: what CERT staff send to create one, and what the API answers
(the field names are a contract).

The schemas check shape and type; the rules that need the database or span fields (known
organizations, at least one participant, values outside the documentation ranges, the window)
are the service's (services/exercises.py), so the web form and the API refuse the same things.
"""
from __future__ import annotations

from flask_babel import gettext
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from ..limits import (
    MAX_DESCRIPTION,
    MAX_EXERCISE_INJECTS,
    MAX_EXERCISE_PARTICIPANTS,
    MAX_EXERCISE_SECTORS,
    MAX_INJECT_OBSERVABLES,
    MAX_INJECT_OFFSET_MINUTES,
    MAX_NAME,
    MAX_TITLE,
)
from ..vocab import (
    EXERCISE_EXPECT_LABELS,
    EXERCISE_EXPECTS,
    EXERCISE_INJECT_KIND_LABELS,
    EXERCISE_INJECT_KINDS,
    EXERCISE_TLP_LEVELS,
    SECTORS,
    tlp_label,
)
from .fields import BoundedList, Bounds, Choice, Text, Timestamp, one_of
from .incident import ObservableSchema

# An organization's slug (models.Organization.slug).
MAX_SLUG = 64


def _tlp_refusal(value: object) -> str:
    return gettext("choose one of: %(choices)s (every participant reads the exercise's collection: AMBER+STRICT "
                   "and RED cannot be shared there)",
                   choices=", ".join(tlp_label(level) for level in EXERCISE_TLP_LEVELS))


def _sector(value: object) -> None:
    if value not in SECTORS:
        if isinstance(value, str) and len(value) <= 64:
            raise ValidationError(gettext("unknown sector %(sector)r; expected a STIX industry sector such as "
                                          "financial-services", sector=value))
        raise ValidationError(gettext("unknown sector; expected a STIX industry sector such as financial-services"))


class InjectCreateSchema(Schema):
    """One step of the scenario."""

    class Meta:
        unknown = RAISE

    offset_minutes = fields.Integer(strict=True, required=True, validate=Bounds(
        min=0, max=MAX_INJECT_OFFSET_MINUTES,
        words=lambda: gettext("must be a whole number of minutes after the start, 0 to %(max)s",
                              max=MAX_INJECT_OFFSET_MINUTES)))
    kind = fields.String(required=True, validate=one_of(EXERCISE_INJECT_KINDS, EXERCISE_INJECT_KIND_LABELS),
                         metadata={"enum": list(EXERCISE_INJECT_KINDS)})
    title = Text(required=True, max_length=MAX_TITLE, allow_blank=False,
                 metadata={"description": "without the [EXERCISE] prefix, which every title gets"})
    description = Text(load_default="", max_length=MAX_DESCRIPTION, multiline=True)
    observables = BoundedList(fields.Nested(ObservableSchema), load_default=list, max_length=MAX_INJECT_OBSERVABLES)
    tlp = fields.String(required=True, validate=Choice(EXERCISE_TLP_LEVELS, _tlp_refusal),
                        metadata={"enum": list(EXERCISE_TLP_LEVELS)})
    expect = fields.String(required=True, validate=one_of(EXERCISE_EXPECTS, EXERCISE_EXPECT_LABELS),
                           metadata={"enum": list(EXERCISE_EXPECTS)})
    # The fictitious partner CERT a cooperation request comes from.
    partner_name = Text(load_default=None, allow_none=True, max_length=MAX_NAME, metadata={
        "description": "the fictitious partner CERT a cooperation inject comes from (cooperation only)"})
    confirm_real_values = fields.Boolean(load_default=False, truthy={True}, falsy={False}, metadata={
        "description": "true: this inject may carry values outside the documentation ranges"})

    @validates_schema(skip_on_field_errors=True)
    def _partner_for_cooperation(self, data, **kwargs):
        if data.get("partner_name") and data["kind"] != "cooperation":
            raise ValidationError(gettext("only a cooperation inject comes from a partner CERT"),
                                  field_name="partner_name")


class ExerciseCreateSchema(Schema):
    """POST /api/v1/exercises."""

    class Meta:
        unknown = RAISE

    name = Text(required=True, max_length=MAX_NAME, allow_blank=False)
    description = Text(load_default="", max_length=MAX_DESCRIPTION, multiline=True)
    participants = BoundedList(fields.String(validate=validate.Length(min=1, max=MAX_SLUG)),
                               load_default=list, max_length=MAX_EXERCISE_PARTICIPANTS,
                               metadata={"description": "member organizations' slugs"})
    sectors = BoundedList(fields.String(validate=_sector), load_default=list, max_length=MAX_EXERCISE_SECTORS,
                          metadata={"description": "every active member organization of these sectors joins"})
    starts_at = Timestamp(required=True)
    ends_at = Timestamp(load_default=None, allow_none=True, metadata={
        "description": "default: the first midnight UTC at least 24 hours after the last inject (participants "
                       "see it: it reveals the last inject's day at most)"})
    confirm_real_values = fields.Boolean(load_default=False, truthy={True}, falsy={False}, metadata={
        "description": "true: every inject may carry values outside the documentation ranges"})
    injects = BoundedList(fields.Nested(InjectCreateSchema), required=True, max_length=MAX_EXERCISE_INJECTS)

    @validates("injects")
    def _some_inject(self, value, **kwargs):
        if not value:
            raise ValidationError(gettext("a scenario needs at least one inject"))


class ExerciseObservableOutSchema(Schema):
    type = fields.String()
    value = fields.String()
    display = fields.String()


class ParticipantOutSchema(Schema):
    organization = fields.Function(lambda p: p.organization.slug)
    name = fields.Function(lambda p: p.organization.name)
    sector = fields.Function(lambda p: p.organization.sector)


class InjectOutSchema(Schema):
    """An inject as CERT staff read it."""

    number = fields.Integer()
    offset_minutes = fields.Integer()
    due_at = Timestamp()
    sent_at = Timestamp(allow_none=True)
    kind = fields.String()
    title = fields.String()
    description = fields.String()
    observables = fields.List(fields.Nested(ExerciseObservableOutSchema))
    tlp = fields.String()
    expect = fields.String()
    partner_name = fields.String(allow_none=True)
    confirmed_real_values = fields.Boolean()
    stix_id = fields.String()


def _collection_alias(exercise) -> str | None:
    return exercise.collection.alias if exercise.collection is not None else None


class ExerciseSchema(Schema):
    """An exercise as CERT staff read it: every participant and every inject, sent or not."""

    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    description = fields.String()
    state = fields.String(metadata={"enum": ["open", "closed"]})
    starts_at = Timestamp()
    ends_at = Timestamp()
    closed_at = Timestamp(allow_none=True)
    collection = fields.Function(_collection_alias, metadata={
        "type": "string", "description": "the TAXII collection's alias (exercise-<slug>)"})
    created_by = fields.String()
    created_at = Timestamp()
    participants = fields.List(fields.Nested(ParticipantOutSchema))
    injects = fields.List(fields.Nested(InjectOutSchema))


class ParticipantInjectOutSchema(Schema):
    """An inject already sent, as a participant reads it, with its own organization's response."""

    number = fields.Integer()
    sent_at = Timestamp()
    kind = fields.String()
    title = fields.String()
    description = fields.String()
    observables = fields.List(fields.Nested(ExerciseObservableOutSchema))
    tlp = fields.String()
    expect = fields.String()
    partner_name = fields.String(allow_none=True)
    stix_id = fields.String()
    acknowledged_at = Timestamp(allow_none=True)
    reported = fields.Boolean(metadata={"description": "its organization filed an exercise report for this inject"})


class ParticipantExerciseSchema(Schema):
    """An exercise as a participant reads it: its own organization only, and only the injects
    already sent (the ones to come are the drill's surprise)."""

    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    description = fields.String()
    state = fields.String(metadata={"enum": ["open", "closed"]})
    starts_at = Timestamp()
    ends_at = Timestamp()
    closed_at = Timestamp(allow_none=True)
    collection = fields.String(metadata={"description": "the TAXII collection's alias (exercise-<slug>)"})
    participants = fields.List(fields.Nested(ParticipantOutSchema))
    injects = fields.List(fields.Nested(ParticipantInjectOutSchema))


class ExerciseSummarySchema(Schema):
    """One line of the exercises list."""

    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    state = fields.String(metadata={"enum": ["open", "closed"]})
    starts_at = Timestamp()
    ends_at = Timestamp()
    closed_at = Timestamp(allow_none=True)
    collection = fields.Function(_collection_alias, metadata={"type": "string"})


class AcknowledgementSchema(Schema):
    """The answer to an acknowledgement: when it counted (the first one)."""

    exercise_id = fields.Integer()
    inject = fields.Integer()
    organization = fields.String()
    acknowledged_at = Timestamp()
    channel = fields.String()
    first = fields.Boolean(metadata={"description": "false: the inject was already acknowledged; that one counts"})
