"""/api/v1/exercises: drills created and run by CERT staff, read and acknowledged by the
organizations taking part (the rules live in services/exercises.py).

The staff-only routes (create, results, close, delete) refuse a member before they read the
path's id or the body, so a member's 403 is the same whether the exercise exists or not. The
routes a participant uses answer anyone else as for an id that does not exist (404): a
non-participant learns nothing of a drill, not even that it exists.
"""
from __future__ import annotations

from flask import g, jsonify, request, url_for

from .. import policy
from ..errors import PermissionDenied
from ..extensions import db
from ..jsonbody import json_object
from ..models import Exercise
from ..schemas.exercise import (
    AcknowledgementSchema,
    ExerciseCreateSchema,
    ExerciseSchema,
    ExerciseSummarySchema,
    ParticipantExerciseSchema,
)
from ..services import exercise_results, exercises
from . import bp
from .parameters import id_param

_create = ExerciseCreateSchema()
_staff_view = ExerciseSchema()
_participant_view = ParticipantExerciseSchema()
_summary = ExerciseSummarySchema()
_acknowledgement = AcknowledgementSchema()


def _staff_only() -> None:
    policy.require_cert_staff(g.actor, exercises.STAFF_ONLY)


def _body(exercise: Exercise) -> dict:
    """The exercise as this caller may read it: everything for staff, a participant's view else."""
    if policy.is_cert_staff(g.actor):
        return _staff_view.dump(exercise)
    return _participant_view.dump(exercises.participant_view(db.session, g.actor, exercise))


@bp.post("/exercises")
def create_exercise():
    _staff_only()
    data = _create.load(json_object(request))
    exercise = exercises.create_exercise(db.session, g.actor, data)
    response = jsonify(_staff_view.dump(exercise))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_exercise", exercise_id=exercise.id)
    return response


@bp.get("/exercises")
def list_exercises():
    return jsonify({"exercises": _summary.dump(exercises.list_exercises(db.session, g.actor), many=True)})


@bp.get("/exercises/<int:exercise_id>")
def get_exercise(exercise_id: int):
    return jsonify(_body(exercises.readable_exercise(db.session, g.actor, exercise_id)))


@bp.post("/exercises/<int:exercise_id>/injects/<int:number>/acknowledge")
def acknowledge_inject(exercise_id: int, number: int):
    if policy.is_cert_staff(g.actor):  # refused before the id is read, as staff routes refuse members
        raise PermissionDenied(exercises.PARTICIPANTS_ONLY)
    exercise = exercises.readable_exercise(db.session, g.actor, exercise_id)
    ack, first = exercises.acknowledge(db.session, g.actor, exercise, number, "api")
    body = _acknowledgement.dump({"exercise_id": exercise_id, "inject": number, "organization": g.actor.org.slug,
                                  "acknowledged_at": ack.acknowledged_at, "channel": ack.channel, "first": first})
    response = jsonify(body)
    response.status_code = 201 if first else 200
    return response


@bp.get("/exercises/<int:exercise_id>/results")
def get_exercise_results(exercise_id: int):
    _staff_only()
    exercise = exercises.staff_exercise(db.session, g.actor, exercise_id)
    return jsonify(exercise_results.results(db.session, exercise))


@bp.post("/exercises/<int:exercise_id>/close")
def close_exercise(exercise_id: int):
    _staff_only()
    exercise = exercises.staff_exercise(db.session, g.actor, exercise_id)
    return jsonify(_staff_view.dump(exercises.close_exercise(db.session, g.actor, exercise)))


@bp.delete("/exercises/<int:exercise_id>")
def delete_exercise(exercise_id: int):
    _staff_only()
    exercise = exercises.staff_exercise(db.session, g.actor, exercise_id)
    counts = exercises.delete_exercise(db.session, g.actor, exercise)
    return jsonify({"deleted": exercise_id, "removed": counts})


def openapi_paths(spec) -> None:
    """Document the exercise routes in the API's OpenAPI document (called by openapi.build_spec)."""
    spec.components.schema("ExerciseCreate", schema=ExerciseCreateSchema)
    spec.components.schema("Exercise", schema=ExerciseSchema)
    spec.components.schema("ParticipantExercise", schema=ParticipantExerciseSchema)
    spec.components.schema("ExerciseSummary", schema=ExerciseSummarySchema)
    spec.components.schema("ExerciseAcknowledgement", schema=AcknowledgementSchema)
    staff = {"$ref": "#/components/schemas/Exercise"}
    either = {"oneOf": [staff, {"$ref": "#/components/schemas/ParticipantExercise"}]}
    listed = {"type": "object", "required": ["exercises"], "properties": {
        "exercises": {"type": "array", "items": {"$ref": "#/components/schemas/ExerciseSummary"}}}}
    ack = {"$ref": "#/components/schemas/ExerciseAcknowledgement"}
    moment = {"type": "string", "format": "date-time", "nullable": True}
    seconds = {"type": "integer", "nullable": True}
    results = {"type": "object", "description": "per participant and inject sent, the times to fetch (TAXII), "
                                                "acknowledge and report, what was missed, and per sector the "
                                                "medians; frozen when the exercise was closed",
               "required": ["exercise", "injects", "participants", "sectors"], "properties": {
                   "exercise": {"type": "object", "properties": {"frozen": {"type": "boolean"}}},
                   "injects": {"type": "array", "items": {"type": "object"}},
                   "participants": {"type": "array", "items": {"type": "object", "properties": {
                       "organization": {"type": "string"}, "name": {"type": "string"}, "sector": {"type": "string"},
                       "injects": {"type": "array", "items": {"type": "object", "properties": {
                           "number": {"type": "integer"}, "fetched_at": moment, "fetch_seconds": seconds,
                           "acknowledged_at": moment, "acknowledge_seconds": seconds, "reported_at": moment,
                           "report_seconds": seconds, "missed": {"type": "array", "items": {
                               "type": "string", "enum": ["fetch", "acknowledge", "report"]}}}}}}}},
                   "sectors": {"type": "array", "items": {"type": "object"}}}}
    deleted = {"type": "object", "properties": {
        "deleted": {"type": "integer"},
        "removed": {"type": "object", "description": "how many of each went: reports, acknowledgements, mail, "
                                                     "objects, polls, statuses",
                    "additionalProperties": {"type": "integer"}}}}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    fails = {code: {"description": text, "content": error} for code, text in (
        ("400", "Invalid input (the body names the field): an unknown or inactive member organization, a sector "
                "with no active member, no participant, no inject, a TLP other than CLEAR, GREEN or AMBER, an end "
                "before the last inject, a value outside the documentation ranges without confirm_real_values"),
        ("401", "Missing or bad token"),
        ("403", "CERT staff only (a member gets this for every id, existing or not)"),
        ("404", "No such exercise, or the caller's organization does not take part in it (the same answer)"),
        ("409", "The exercise is closed (or, to close it, already closed)"),
        ("413", "Body too large"), ("415", "Content-Type is not application/json"))}

    def answers(ok_code: str, ok_schema: dict, *codes: str, ok_text: str = "OK") -> dict:
        ok = {ok_code: {"description": ok_text, "content": {"application/json": {"schema": ok_schema}}}}
        return {**ok, **{code: fails[code] for code in codes}}

    secure: list[dict[str, list[str]]] = [{"bearer": []}]
    eid = id_param("exercise_id")
    spec.path(path="/api/v1/exercises", operations={
        "post": {"summary": "CERT staff: create an exercise (participants by slug and/or sector, a scenario of "
                            "injects sent by run-exercises at start + offset to the collection exercise-<slug> "
                            "and by mail, all marked [EXERCISE]); Location: the new exercise",
                 "security": secure, "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/ExerciseCreate"}}}},
                 "responses": answers("201", staff, "400", "401", "403", "413", "415", ok_text="Created")},
        "get": {"summary": "Exercises, newest first: CERT staff all of them, a member those its organization "
                           "takes part in",
                "security": secure, "responses": answers("200", listed, "401")}})
    spec.path(path="/api/v1/exercises/{exercise_id}", operations={
        "get": {"summary": "One exercise: CERT staff see every participant and inject; a participant sees its "
                           "own organization and only the injects already sent, each with its acknowledgement "
                           "time and whether it reported; anyone else gets 404",
                "security": secure, "parameters": [eid], "responses": answers("200", either, "401", "404")},
        "delete": {"summary": "CERT staff: delete the exercise with its collection, objects, consumption log, "
                              "reports, acknowledgements and mail (one audit entry with the counts)",
                   "security": secure, "parameters": [eid],
                   "responses": answers("200", deleted, "401", "403", "404")}})
    spec.path(path="/api/v1/exercises/{exercise_id}/injects/{number}/acknowledge", operations={"post": {
        "summary": "A participant acknowledges an inject already sent; the first acknowledgement counts (201), "
                   "a repeat changes nothing (200). CERT staff: 403; a non-participant, or an inject not yet "
                   "sent: 404; a closed exercise: 409",
        "security": secure, "parameters": [eid, {**id_param("number"), "description": "the inject's number"}],
        "responses": {**answers("201", ack, "401", "403", "404", "409", ok_text="Acknowledged"),
                      "200": {"description": "Already acknowledged: the first acknowledgement is returned",
                              "content": {"application/json": {"schema": ack}}}}}})
    spec.path(path="/api/v1/exercises/{exercise_id}/results", operations={"get": {
        "summary": "CERT staff: the exercise's results (as frozen at close once closed)",
        "security": secure, "parameters": [eid], "responses": answers("200", results, "401", "403", "404")}})
    spec.path(path="/api/v1/exercises/{exercise_id}/close", operations={"post": {
        "summary": "CERT staff: close the exercise (no more acknowledgements or reports) and freeze its results",
        "security": secure, "parameters": [eid], "responses": answers("200", staff, "401", "403", "404", "409")}})
