"""The CERT workspace pages: dashboard, triage queue, case page, metrics (warnings: warning_views).

The dashboard, queue and case page share the member pages' URLs (``/``, ``/incidents``,
``/incidents/<id>``): the member views hand CERT staff over to ``dashboard()``, ``queue()`` and
``case_view()`` here. The triage forms post to ``/incidents/<id>/triage|notes|cooperation|link``,
the naming of staff on a case (who may read it when it is TLP:RED) to ``/incidents/<id>/staff``, and
a request to partner CERTs to ``/incidents/<id>/cooperation-requests`` (the queue and a request's
page: cooperation_views).
A TLP:RED report the signed-in person is not named on is shown as its summary only.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import deadlines, policy
from ..clock import utcnow
from ..errors import CertShareError, InputError
from ..extensions import db
from ..params import int_arg
from ..services import case_access, cooperation_queue, metrics, triage, workspace
from ..services.cooperation import list_requests, open_requests, undelivered
from ..services.incident_listing import case_summary, readable_incident
from ..store import case_staff
from ..vocab import (
    INCIDENT_STATUS_LABELS,
    RSIT,
    RSIT_LABELS,
    SECTORS,
    SEVERITIES,
    TLP_LEVELS,
)
from . import bp, metrics_charts
from .actor import current_actor
from .cooperation_forms import CooperationRequestForm
from .roles import staff_required
from .staff_forms import (
    CaseStaffForm,
    CooperationForm,
    MergeForm,
    NoteForm,
    TriageForm,
    WarningDiscardForm,
)

# Far beyond any queue's last page, and far from overflowing the OFFSET it becomes.
MAX_QUEUE_PAGE = 1_000_000


def dashboard():
    """``/`` for CERT staff: what needs attention now."""
    board = workspace.dashboard(db.session, actor=current_actor())
    return render_template("workspace/dashboard.html", board=board, discard_form=WarningDiscardForm())


def queue():
    """``/incidents`` for CERT staff: the triage queue with filters."""
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    try:
        filters = workspace.QueueFilters.from_args(request.args)
        page = int_arg(request.args, "page", default=1, maximum=MAX_QUEUE_PAGE)
    except InputError as exc:
        # As the members' list: the search text back in its box, what is wrong above the form.
        sent = workspace.QueueFilters(q=(request.args.get("q") or "").strip() or None)
        return _queue_page(workspace.QueuePage([], 0, 1, 1), sent, args, error=exc.message), 400
    result = workspace.queue(db.session, filters, actor=current_actor(), page=page,
                             user_id=current_user.id)
    return _queue_page(result, filters, args)


def _queue_page(result, filters, args, error=None):
    return render_template("workspace/queue.html", result=result, filters=filters, args=args, error=error,
                           sectors=SECTORS, classes=[(c, _(RSIT_LABELS[c])) for c in RSIT], severities=SEVERITIES,
                           tlps=TLP_LEVELS, statuses=workspace.QUEUE_STATUSES)


def case_view(incident_id: int):
    """``/incidents/<id>`` for CERT staff: the case page, or the summary of a TLP:RED report the
    signed-in person is not named on (403, or 200 for whoever may name staff on it)."""
    actor = current_actor()
    incident = case_summary(db.session, actor, incident_id)
    if not policy.can_read_incident(actor, incident):
        return summary_page(incident)
    return case_page(incident)


def _staff_choices(staff) -> list[tuple[str, str]]:
    return [(str(u.id), u.name or u.email) for u in staff]


def _staff_form(incident, staff) -> CaseStaffForm:
    form = CaseStaffForm(formdata=None)
    form.user.choices = _staff_choices(staff)
    return form


def summary_page(incident, errors=()):
    """A report's existence without its content (policy.can_see_case_summary)."""
    actor = current_actor()
    may_name = policy.can_name_case_staff(actor, incident)
    staff = case_staff.active_staff(db.session)
    return render_template("workspace/case_summary.html", incident=incident,
                           deadlines=deadlines.for_incident(incident), may_name=may_name,
                           staff_form=_staff_form(incident, staff), errors=list(errors)), 200 if may_name else 403


def case_page(incident, status: int = 200, forms: dict | None = None):
    """``/incidents/<id>`` for CERT staff: the report, its deadlines and the whole timeline."""
    forms = forms or {}
    triage_form = forms.get("triage") or TriageForm(formdata=None)
    staff = case_staff.active_staff(db.session)
    triage_form.status.data = triage_form.status.data or incident.status
    triage_form.assignee.choices = [("", _("— unassigned —"))] + _staff_choices(staff)
    if forms.get("triage") is None:
        triage_form.assignee.data = str(incident.assignee_id or "")
    allowed = sorted(triage.TRANSITIONS.get(incident.status, ()))
    triage_form.status.choices = [(s, _(INCIDENT_STATUS_LABELS[s])) for s in [incident.status] + allowed]
    cooperation = triage.cooperation_of(db.session, incident)
    coop_form = forms.get("cooperation") or CooperationForm(formdata=None)
    if forms.get("cooperation") is None and cooperation is not None:
        coop_form.countries.data = ", ".join(cooperation.countries)
        coop_form.partner_certs.data = ", ".join(cooperation.partner_certs)
    links = triage.linked_reports(db.session, incident)
    request_form = forms.get("request") or CooperationRequestForm(formdata=None)
    request_form.offer(incident, cooperation_queue.active_partners(db.session))
    coop_requests = list_requests(db.session, current_actor(), incident_id=incident.id)
    return render_template(
        "workspace/case.html", incident=incident, deadlines=deadlines.for_incident(incident),
        timeline=workspace.timeline(db.session, incident), links=links,
        restricted=workspace.restricted_ids(current_actor(), [other for _link, other in links]),
        staff_form=_staff_form(incident, staff),
        cooperation=cooperation, triage_form=triage_form, note_form=forms.get("note") or NoteForm(formdata=None),
        coop_form=coop_form, merge_form=forms.get("merge") or MergeForm(formdata=None),
        coop_requests=coop_requests, coop_undelivered=undelivered(db.session, [r.id for r in coop_requests]),
        request_form=request_form, now=utcnow(), errors=forms.get("errors", [])), status


def _staff_incident(incident_id: int):
    return readable_incident(db.session, current_actor(), incident_id)


def _fail(incident, exc: CertShareError, forms: dict):
    """The case page again, each message next to the field it is about; only what concerns no field
    of the form sent (an expired form, a refused transition) is said above the page."""
    db.session.rollback()
    placed = False
    for form in forms.values():
        for key, messages in exc.errors.items():
            name = key.rsplit(".", 1)[-1]  # the service's "cooperation.countries" is the form's "countries"
            if name in form._fields:
                # One field named: the whole message ("a closed report cannot become new; ...").
                form[name].errors = [*form[name].errors, *([exc.message] if len(exc.errors) == 1 else messages)]
        placed = placed or any(f.errors for f in form if f.type != "CSRFTokenField")
    forms["errors"] = [] if placed else [exc.message]
    return case_page(incident, exc.status if exc.status < 500 else 400, forms)


@bp.post("/incidents/<int:incident_id>/triage")
@staff_required
def incident_triage(incident_id: int):
    incident = _staff_incident(incident_id)
    form = TriageForm()
    if not form.validate():
        return _fail(incident, InputError(_("the form expired; reload the page and try again")), {"triage": form})
    changes = triage.CaseChanges(status=form.status.data or None, assignee=form.assignee.data or None)
    try:
        triage.update_case(db.session, incident, changes, actor=current_actor())
    except CertShareError as exc:
        return _fail(incident, exc, {"triage": form})
    flash(_("Report #%(id)s updated.", id=incident.id), "success")
    return redirect(url_for("web.incident_detail", incident_id=incident.id))


@bp.post("/incidents/<int:incident_id>/notes")
@staff_required
def incident_note(incident_id: int):
    incident = _staff_incident(incident_id)
    form = NoteForm()
    if not form.validate():
        return _fail(incident, InputError(_("a note must not be blank (at most 20,000 characters)")), {"note": form})
    try:
        triage.add_note(db.session, incident, form.note.data, actor=current_actor())
    except CertShareError as exc:
        return _fail(incident, exc, {"note": form})
    flash(_("Note added (internal, never shared)."), "success")
    return redirect(url_for("web.incident_detail", incident_id=incident.id) + "#case-timeline")


@bp.post("/incidents/<int:incident_id>/staff")
@staff_required
def incident_staff(incident_id: int):
    """Assign the case, or name or remove staff on it (the duty officer and the staff named)."""
    actor = current_actor()
    incident = case_summary(db.session, actor, incident_id)
    form = CaseStaffForm()
    form.user.choices = [(str(u.id), u.email) for u in case_staff.active_staff(db.session)]
    try:
        if not form.validate():
            raise InputError(_("choose a member of CERT staff and what to do"))
        user_id = int(form.user.data)
        if form.action.data == "assign":
            triage.assign(db.session, incident, user_id, actor=actor)
            message = _("Report #%(id)s assigned.", id=incident.id)
        elif form.action.data == "remove":
            case_access.remove_staff(db.session, incident, user_id, actor=actor)
            message = _("Taken off report #%(id)s.", id=incident.id)
        else:
            case_access.name_staff(db.session, incident, user_id, actor=actor)
            message = _("Named on report #%(id)s.", id=incident.id)
    except CertShareError as exc:
        db.session.rollback()
        if policy.can_read_incident(actor, incident):
            return case_page(incident, exc.status if exc.status < 500 else 400, {"errors": [exc.message]})
        page, _status = summary_page(incident, [exc.message])
        return page, exc.status if exc.status < 500 else 400
    flash(message, "success")
    return redirect(url_for("web.incident_detail", incident_id=incident.id))


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@bp.post("/incidents/<int:incident_id>/cooperation")
@staff_required
def incident_cooperation(incident_id: int):
    incident = _staff_incident(incident_id)
    form = CooperationForm()
    if not form.validate():
        return _fail(incident, InputError(_("check the cooperation fields")), {"cooperation": form})
    data = {"countries": _split(form.countries.data), "partner_certs": _split(form.partner_certs.data)}
    try:
        triage.set_cooperation(db.session, incident, data, actor=current_actor())
    except CertShareError as exc:
        return _fail(incident, exc, {"cooperation": form})
    flash(_("Cross-border cooperation recorded.") if data["countries"] or data["partner_certs"]
          else _("Cross-border cooperation cleared."), "success")
    return redirect(url_for("web.incident_detail", incident_id=incident.id))


@bp.post("/incidents/<int:incident_id>/cooperation-requests")
@staff_required
def incident_cooperation_request(incident_id: int):
    """Open a cooperation request to partner CERTs (one per partner) from the case page."""
    incident = _staff_incident(incident_id)
    form = CooperationRequestForm()
    form.offer(incident, cooperation_queue.active_partners(db.session))
    if not form.validate():
        expired = bool(form.csrf_token.errors)
        return _fail(incident, InputError(_("the form expired; reload the page and try again") if expired
                                          else _("check the request's fields")), {"request": form})
    try:
        opened = open_requests(db.session, current_actor(), incident, form.request_input())
    except CertShareError as exc:
        return _fail(incident, exc, {"request": form})
    names = ", ".join(r.partner.name for r in opened)
    flash(_("Cooperation request queued for %(partners)s.", partners=names), "success")
    return redirect(url_for("web.incident_detail", incident_id=incident.id) + "#cooperation-requests")


@bp.post("/incidents/<int:incident_id>/link")
@staff_required
def incident_link(incident_id: int):
    incident = _staff_incident(incident_id)
    form = MergeForm()
    if not form.validate():
        return _fail(incident, InputError(_("give the number of the other report")), {"merge": form})
    try:
        other = triage.get_incident(db.session, form.other.data)
        if form.action.data == "merge":
            triage.merge(db.session, incident, other, actor=current_actor())
            flash(_("Report #%(id)s merged into #%(other)s and closed.", id=incident.id, other=other.id), "success")
        else:
            triage.link(db.session, incident, other, actor=current_actor())
            flash(_("Report #%(id)s linked to #%(other)s.", id=incident.id, other=other.id), "success")
    except CertShareError as exc:
        return _fail(incident, exc, {"merge": form})
    return redirect(url_for("web.incident_detail", incident_id=incident.id))


# ---- metrics -------------------------------------------------------------------------------

@bp.get("/metrics")
@staff_required
def metrics_page():
    start, end = request.args.get("from"), request.args.get("to")
    try:
        period = metrics.parse_period(start, end, default_days=84)
    except InputError as exc:
        # The same page, its form holding what was typed with each bad date's message beside it.
        return render_template("workspace/metrics.html", dates={"from": start or "", "to": end or ""},
                               errors=exc.errors), 400
    figures = metrics.compute(db.session, period)
    series = metrics.weekly(db.session, period)
    return render_template("workspace/metrics.html", period=period, dates=period.as_dict(), errors={}, m=figures,
                           series=series, charts=metrics_charts.all_charts(series))
