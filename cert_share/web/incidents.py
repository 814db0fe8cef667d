"""Reports: list, report form, detail page, STIX download and phase updates."""
from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from marshmallow import ValidationError

from .. import deadlines, policy
from ..errors import Conflict, InputError, NotFound
from ..extensions import db
from ..params import int_arg
from ..schemas.fields import translate_schema_message
from ..schemas.incident import PhaseUpdateCreateSchema
from ..services import exercise_reports, intake
from ..services.incident_listing import (
    STATUS_OPEN,
    ReportFilters,
    deadline_flags,
    list_incidents,
    readable_incident,
)
from ..vocab import INCIDENT_STATUS_LABELS, INCIDENT_STATUSES, N_, PHASE_LABELS, SEVERITIES, SEVERITY_LABELS
from . import bp
from .actor import current_actor
from .filters import utc
from .forms import IncidentForm, PhaseUpdateForm, classification_choices
from .incident_input import FormResult, load_report
from .workspace_views import case_view, queue

PAGE_SIZE = 25
# The reports list's status choices; "any status" is the empty one.
_STATUS_CHOICES = [(STATUS_OPEN, _l("Open (new, acknowledged or investigating)")),
                   *((s, _l(INCIDENT_STATUS_LABELS[s])) for s in INCIDENT_STATUSES)]
_phase_schema = PhaseUpdateCreateSchema()


def _form_values(form: IncidentForm) -> dict:
    return {name: field.data for name, field in form._fields.items() if name != "csrf_token"}


def _apply_errors(form, errors: dict[str, list[str]]) -> list[str]:
    """Attach messages to their fields; return those that belong to no field."""
    unplaced = []
    for name, messages in errors.items():
        field = form._fields.get(name)
        if field is None:
            unplaced.extend(messages)
            continue
        field.errors = list(field.errors or []) + messages
    return unplaced


@bp.get("/incidents")
@login_required
def incident_list():
    """The organization's reports, newest first, narrowed by the filters in the query string
    (CERT staff: the triage queue)."""
    if policy.is_cert_staff(current_actor()):  # CERT staff get the triage queue (workspace_views)
        return queue()
    try:
        filters = ReportFilters.from_args(request.args)
        before = int_arg(request.args, "before")
    except InputError as exc:
        # The form comes back as it was sent, with what is wrong above it, instead of an error page.
        return _list_page([], ReportFilters(), error=exc.message, status=400)
    page, more = list_incidents(db.session, current_actor(), before=before, limit=PAGE_SIZE, filters=filters)
    next_url = url_for("web.incident_list", before=page[-1].id, **filters.as_args()) if more else None
    return _list_page(page, filters, next_url=next_url, paged=before is not None)


def _list_page(page, filters: ReportFilters, *, next_url=None, paged=False, error=None, status=200):
    return render_template("incidents/list.html", incidents=page, flags=deadline_flags(page), filters=filters,
                           args=request.args, next_url=next_url, paged=paged, error=error,
                           statuses=_STATUS_CHOICES, severities=[(s, _(SEVERITY_LABELS[s])) for s in SEVERITIES],
                           classes=classification_choices()), status



@bp.route("/incidents/new", methods=["GET", "POST"])
@login_required
def incident_new():
    actor = current_actor()
    form = IncidentForm()
    # An organization in an open drill may answer it with this form; others never see the choice.
    exercises = exercise_reports.open_exercises_of(db.session, actor.org)
    form.exercise_id.choices = [("", _("Not an exercise: a real report")),
                                *((str(e.id), _("[EXERCISE] %(name)s", name=e.name)) for e in exercises)]
    if request.method == "POST":
        form.validate()  # CSRF and field processing; the rules are the schema's
        result = load_report(_form_values(form))
        if result.data is not None and not form.errors:
            assert actor.org is not None  # a signed-in user belongs to an organization
            if result.data["exercise_id"] is not None:
                return _exercise_report(form, result, exercises)
            # Two copies of one form racing (double click) file one report: the service decides.
            incident, created = intake.report_incident(db.session, org=actor.org, data=result.data, actor=actor,
                                                       source="web")
            if created:
                flash(_("Report #%(id)s received. The CERT has been notified.", id=incident.id), "success")
            else:
                flash(_("This form was already sent: it is report #%(id)s. Nothing was filed twice.",
                        id=incident.id), "info")
            return redirect(url_for("web.incident_detail", incident_id=incident.id))
        return _form_again(form, result, result.errors, exercises, 400)
    _preset_exercise(form, exercises)
    return _form_page(form, [], exercises)


def _exercise_report(form: IncidentForm, result: FormResult, exercises: list) -> ResponseReturnValue:
    """File a drill's report (never an incident), then show the exercise it answers."""
    actor = current_actor()
    assert actor.org is not None
    try:
        report, created = exercise_reports.file_exercise_report(db.session, org=actor.org, data=result.data or {},
                                                                actor=actor, source="web")
    except (InputError, Conflict) as exc:
        db.session.rollback()
        return _form_again(form, result, {exc.field or "form": [exc.message]}, exercises, exc.status)
    name = next((e.name for e in exercises if e.id == report.exercise_id), "")
    if created:
        flash(_("Your report was recorded as an exercise report for “%(name)s”: it is not a real incident and "
                "counts only in the drill's results.", name=name), "success")
    else:
        flash(_("This form was already sent: it was recorded as an exercise report once. Nothing was filed twice."),
              "info")
    return redirect(url_for("web.exercise_page", exercise_id=report.exercise_id))


def _preset_exercise(form: IncidentForm, exercises: list) -> None:
    """?exercise=<id>&inject=<n> (the inject's page links here): preselected when the id is one
    offered; anything else is ignored and the form stays a real report."""
    exercise = request.args.get("exercise", "")
    if exercise in {str(e.id) for e in exercises}:
        form.exercise_id.data = exercise
        inject = request.args.get("inject", "")
        if inject.isascii() and inject.isdigit() and len(inject) <= 9:
            form.exercise_inject.data = inject


def _form_again(form: IncidentForm, result: FormResult, errors: dict[str, list[str]], exercises: list,
                status: int) -> ResponseReturnValue:
    if not exercises:
        # The drill's fields are not on this organization's form: what is wrong with them is said above it.
        errors = {("form" if name in _EXERCISE_FIELDS else name): messages for name, messages in errors.items()}
    form_errors = _apply_errors(form, errors)
    # Shown again without any full card number: those lines keep only the BIN and last 4.
    form.observables.data = result.observables_text
    for name, text in result.texts.items():  # the title, description …: no card number either
        form[name].data = text
    return _form_page(form, form_errors, exercises, status)


def _form_page(form: IncidentForm, form_errors: list[str], exercises: list, status: int = 200) -> ResponseReturnValue:
    return render_template("incidents/new.html", form=form, form_errors=form_errors,
                           exercises_offered=bool(exercises)), status


_EXERCISE_FIELDS = ("exercise_id", "exercise_inject")


def _detail(incident, update_form: PhaseUpdateForm, status: int = 200, update_errors=()):
    actor = current_actor()
    due = deadlines.for_incident(incident)
    update_form.phase.choices = [("", _("— choose —")), *_phase_choices(incident, due)]
    return render_template("incidents/detail.html", incident=incident, update_form=update_form,
                           update_errors=list(update_errors), deadlines=due,
                           can_update=policy.can_update_incident(actor, incident)), status


# How each state of deadlines.PhaseOption reads beside the phase's name.
_PHASE_WHEN = {"on-request": N_("when the CERT asks for it"), "filed": N_("filed %(at)s"),
               "overdue": N_("overdue since %(at)s"), "due": N_("due %(at)s")}


def _phase_choices(incident, due: list[deadlines.Deadline]) -> list[tuple[str, str]]:
    return [(o.phase, f"{_(PHASE_LABELS.get(o.phase, o.phase))} — {_(_PHASE_WHEN[o.state], at=utc(o.at))}")
            for o in deadlines.update_options(incident, due)]


@bp.get("/incidents/<int:incident_id>")
@login_required
def incident_detail(incident_id: int):
    actor = current_actor()
    if policy.is_cert_staff(actor):  # CERT staff get the case page, or a TLP:RED case's summary (workspace_views)
        return case_view(incident_id)
    incident = readable_incident(db.session, actor, incident_id)
    return _detail(incident, PhaseUpdateForm())


@bp.get("/incidents/<int:incident_id>/stix")
@login_required
def incident_stix(incident_id: int):
    """The report as a STIX 2.1 bundle file (same policy check as the page)."""
    incident = readable_incident(db.session, current_actor(), incident_id)
    body = json.dumps(intake.stix_bundle(incident), indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/stix+json", headers={
        "Content-Disposition": f'attachment; filename="cert-share-incident-{incident.id}.stix.json"'})


@bp.post("/incidents/<int:incident_id>/updates")
@login_required
def incident_update(incident_id: int):
    actor = current_actor()
    incident = readable_incident(db.session, actor, incident_id)
    if not policy.can_update_incident(actor, incident):
        raise NotFound(_("no incident %(incident_id)s", incident_id=incident_id))
    form = PhaseUpdateForm()
    form.validate()
    try:
        data = _phase_schema.load({"phase": form.phase.data or "", "summary": form.summary.data or ""})
        intake.add_phase_update(db.session, incident=incident, phase=data["phase"], summary=data["summary"],
                                details=data["details"], actor=actor)
    except ValidationError as exc:
        unplaced = _apply_errors(form, {name: [translate_schema_message(m) if m != "Missing data for required field."
                                               else _("This field is required.") for m in messages]
                                        for name, messages in exc.messages_dict.items()})
        return _detail(incident, form, 400, unplaced)
    except InputError as exc:
        db.session.rollback()
        unplaced = _apply_errors(form, {exc.field or "form": [exc.message]})
        return _detail(incident, form, 400, unplaced)
    flash(_("Phase update added."), "success")
    return redirect(url_for("web.incident_detail", incident_id=incident.id) + "#timeline")
