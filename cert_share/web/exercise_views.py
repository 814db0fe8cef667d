"""Drills on the web: ``/exercises`` (the list), ``/exercises/new`` (CERT staff create one),
``/exercises/<id>`` (staff: scenario, participants, results, close and delete; a participant: the
injects already sent and its responses) and ``/exercises/<id>/injects/<n>`` (the page the inject's
mail links to, where a participant acknowledges it).

An exercise its organization does not take part in answers 404 exactly like a missing one
(exercises.readable_exercise), and an inject not yet sent answers 404 to a participant: the rules
are services/exercises.py's, the same functions the API's routes call. Every page carries the
EXERCISE banner.
"""
from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from marshmallow import ValidationError

from .. import policy
from ..errors import CertShareError, InputError, NotFound
from ..extensions import db
from ..schemas.exercise import ExerciseCreateSchema
from ..schemas.fields import translate_schema_message
from ..services import exercise_results, exercises, organizations
from ..vocab import EXERCISE_EXPECT_LABELS, EXERCISE_INJECT_KIND_LABELS, N_
from . import bp, exercise_charts
from .actor import current_actor
from .exercise_forms import ExerciseActionForm, ExerciseForm
from .roles import staff_required

EXPIRED_FORM = N_("the form expired; reload the page and try again")
_create_schema = ExerciseCreateSchema()
CONFIRM_HINT = N_("tick this box to send the values outside the documentation ranges anyway")


def _labels() -> dict:
    return {"kind_labels": EXERCISE_INJECT_KIND_LABELS, "expect_labels": EXERCISE_EXPECT_LABELS}


@bp.get("/exercises")
@login_required
def exercises_page():
    """Staff: every exercise. A member: those its organization takes part in."""
    actor = current_actor()
    return render_template("exercises/list.html", exercises=exercises.list_exercises(db.session, actor),
                           staff=policy.is_cert_staff(actor), **_labels())


def _member_organizations():
    return [o for o in organizations.all_by_slug(db.session) if o.kind == "member" and o.active]


@bp.route("/exercises/new", methods=["GET", "POST"])
@staff_required
def exercise_new():
    form = ExerciseForm()
    form.offer(_member_organizations())
    if request.method == "GET":
        return render_template("exercises/new.html", form=form, **_labels())
    if not form.validate():
        if form.csrf_token.errors:
            flash(_(EXPIRED_FORM), "error")
        return render_template("exercises/new.html", form=form, failed=True, **_labels()), 400
    data, used, errors = _checked(form)
    if not errors:
        try:
            exercise = exercises.create_exercise(db.session, current_actor(), data)
        except CertShareError as exc:
            db.session.rollback()
            errors = _field_errors(exc, used)
            if any(name.endswith("-observables") for name in errors):
                # The service refuses values outside the documentation ranges: say where the
                # form's way of confirming them is.
                errors["confirm_real_values"] = [_(CONFIRM_HINT)]
            if not errors:
                flash(exc.message, "error")
        else:
            flash(_("Exercise %(name)r created: its injects go out at their time.", name=exercise.name), "success")
            return redirect(url_for("web.exercise_page", exercise_id=exercise.id))
    for name, messages in errors.items():
        field = form.field_by_name(name)
        if field is None:
            flash(" ".join(messages), "error")
        else:
            field.errors = [*field.errors, *messages]
    return render_template("exercises/new.html", form=form, failed=True, **_labels()), 400


def _checked(form: ExerciseForm) -> tuple[dict, list[int], dict[str, list[str]]]:
    """The form's body loaded by the API's schema: (data, fieldset of each inject, errors by
    field name). Every field's problem comes back at once, the form's own message first."""
    body, used, errors = form.exercise_input()
    try:
        return _create_schema.load(body), used, errors
    except ValidationError as exc:
        schema_errors = _field_errors(InputError("check the exercise's fields", errors=exc.messages_dict), used)
    for name, messages in schema_errors.items():
        # The form's own message on a field says it better; marshmallow's own in the reader's language.
        errors.setdefault(name, [translate_schema_message(m) for m in messages])
    return {}, used, errors


def _field_errors(exc: CertShareError, used: list[int]) -> dict[str, list[str]]:
    """The service's errors by the form's field names: ``injects.1.title`` (or the schema's
    nested {"injects": {1: {"title": [...]}}}) is the title of the fieldset the second inject sent
    came from; a blank fieldset sends nothing, so the numbers differ."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix, []).extend(value)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(f"{prefix}.{index}", item)
        else:
            flat.setdefault(prefix, []).append(str(value))

    walk("", exc.errors)
    mapped: dict[str, list[str]] = {}
    for key, messages in flat.items():
        parts = key.replace("[", ".").replace("]", "").split(".")
        if parts[0] == "injects" and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(used):
            part = parts[2] if len(parts) > 2 else "title"
            if part == "confirm_real_values":
                part = "observables"
            name = f"injects-{used[int(parts[1])]}-{part}"
        elif parts[0] in ("_schema", "injects", ""):
            name = "form"
        else:
            name = parts[0]
        mapped.setdefault(name, []).extend(messages)
    return mapped


@bp.get("/exercises/<int:exercise_id>")
@login_required
def exercise_page(exercise_id: int):
    actor = current_actor()
    exercise = exercises.readable_exercise(db.session, actor, exercise_id)
    if policy.is_cert_staff(actor):
        results = exercise_results.results(db.session, exercise)
        return render_template("exercises/staff.html", exercise=exercise, results=results,
                               charts=exercise_charts.all_charts(results), form=ExerciseActionForm(),
                               **_labels())
    view = exercises.participant_view(db.session, actor, exercise)
    return render_template("exercises/participant.html", exercise=exercise, view=view,
                           form=ExerciseActionForm(), **_labels())


@bp.get("/exercises/<int:exercise_id>/results.json")
@staff_required
def exercise_results_json(exercise_id: int):
    """The results as the API's results route gives them, to download (the after-action report
    in HTML and CSV is the CLI's: cert-share report exercise)."""
    exercise = exercises.staff_exercise(db.session, current_actor(), exercise_id)
    body = json.dumps(exercise_results.results(db.session, exercise), indent=2, sort_keys=True)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="exercise-{exercise.slug}-results.json"'})


@bp.get("/exercises/<int:exercise_id>/injects/<int:number>")
@login_required
def exercise_inject_page(exercise_id: int, number: int):
    actor = current_actor()
    exercise = exercises.readable_exercise(db.session, actor, exercise_id)
    staff = policy.is_cert_staff(actor)
    if staff:
        inject = next((i for i in exercise.injects if i.number == number), None)
        if inject is None:
            raise NotFound(_("no such inject"))
        entry = None
    else:
        view = exercises.participant_view(db.session, actor, exercise)
        entry = next((i for i in view["injects"] if i.number == number), None)
        if entry is None:  # not yet sent, or no such number: the same answer
            raise NotFound(_("no such inject"))
        inject = entry.inject
    return render_template("exercises/inject.html", exercise=exercise, inject=inject, entry=entry, staff=staff,
                           form=ExerciseActionForm(), **_labels())


@bp.post("/exercises/<int:exercise_id>/injects/<int:number>/acknowledge")
@login_required
def exercise_acknowledge(exercise_id: int, number: int):
    actor = current_actor()
    exercise = exercises.readable_exercise(db.session, actor, exercise_id)
    try:
        if not ExerciseActionForm().validate():
            raise InputError(_(EXPIRED_FORM))
        exercises.acknowledge(db.session, actor, exercise, number, channel="web")
    except NotFound:
        raise
    except CertShareError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("[EXERCISE] Inject %(number)s acknowledged.", number=number), "success")
    return redirect(url_for("web.exercise_inject_page", exercise_id=exercise_id, number=number))


@bp.post("/exercises/<int:exercise_id>/close")
@staff_required
def exercise_close(exercise_id: int):
    exercise = exercises.staff_exercise(db.session, current_actor(), exercise_id)
    try:
        if not ExerciseActionForm().validate():
            raise InputError(_(EXPIRED_FORM))
        exercises.close_exercise(db.session, current_actor(), exercise)
    except CertShareError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Exercise %(name)r closed: its results are frozen.", name=exercise.name), "success")
    return redirect(url_for("web.exercise_page", exercise_id=exercise_id))


@bp.post("/exercises/<int:exercise_id>/delete")
@staff_required
def exercise_delete(exercise_id: int):
    exercise = exercises.staff_exercise(db.session, current_actor(), exercise_id)
    name = exercise.name
    try:
        if not ExerciseActionForm().validate():
            raise InputError(_(EXPIRED_FORM))
        exercises.delete_exercise(db.session, current_actor(), exercise)
    except CertShareError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("web.exercise_page", exercise_id=exercise_id))
    flash(_("Exercise %(name)r deleted with its collection, objects, reports and mail.", name=name), "success")
    return redirect(url_for("web.exercises_page"))
