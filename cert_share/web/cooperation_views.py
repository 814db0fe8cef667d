"""``/cooperation`` (CERT staff): the queue of cooperation requests, incoming and outgoing, and one
request's page, where a partner's request is acknowledged and answered. Requests are opened from
the case page (workspace_views); the rules are services/cooperation.py's."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..clock import utcnow
from ..errors import CertShareError, InputError
from ..extensions import db
from ..services import cooperation, cooperation_queue
from ..vocab import COOPERATION_DIRECTIONS, COOPERATION_KIND_LABELS, COOPERATION_STATES
from . import bp
from .actor import current_actor
from .cooperation_forms import CHANNEL_LABELS, AcknowledgeForm, AnswerForm, ResendForm
from .roles import staff_required


@bp.get("/cooperation")
@staff_required
def cooperation_page():
    """The queue: one direction at a time (incoming first: they wait for us), optionally one state."""
    direction = request.args.get("direction") or "incoming"
    state = request.args.get("state") or None
    try:
        result = cooperation_queue.queue(db.session, current_actor(), direction=direction, state=state)
    except InputError as exc:
        return render_template("workspace/cooperation.html", result=None, direction=direction, state=state,
                               error=exc.message, **_vocab()), 400
    return render_template("workspace/cooperation.html", result=result, direction=direction, state=state,
                           error=None, **_vocab())


def _vocab() -> dict:
    # Labels in the reader's language (the kinds' are marked in vocab, the channels' in cooperation_forms).
    return {"directions": COOPERATION_DIRECTIONS, "states": COOPERATION_STATES,
            "kinds": {kind: _(label) for kind, label in COOPERATION_KIND_LABELS.items()},
            "channels": CHANNEL_LABELS}


@bp.get("/cooperation/<int:request_id>")
@staff_required
def cooperation_request_page(request_id: int):
    return _request_page(cooperation.get_request(db.session, current_actor(), request_id))


def _request_page(row, answer_form: AnswerForm | None = None, ack_form: AcknowledgeForm | None = None,
                  status: int = 200):
    deliveries = cooperation.deliveries(db.session, row)
    return render_template(
        "workspace/cooperation_request.html", req=row, deliveries=deliveries,
        undelivered=sum(1 for d in deliveries if d.state == "dead"),
        overdue=cooperation_queue.is_overdue(row, utcnow()), ack_form=ack_form or AcknowledgeForm(formdata=None),
        answer_form=answer_form or AnswerForm(formdata=None), resend_form=ResendForm(formdata=None),
        **_vocab()), status


def _refused(form, exc: CertShareError) -> None:
    """The service's refusal on the form's field it names, else as a message on the page."""
    for key in exc.errors:
        if key in form._fields and key != "csrf_token":
            form[key].errors = [*form[key].errors, exc.message]
    if not any(f.errors for f in form if f.type != "CSRFTokenField"):
        flash(exc.message, "error")


@bp.post("/cooperation/<int:request_id>/acknowledge")
@staff_required
def cooperation_acknowledge(request_id: int):
    row = cooperation.get_request(db.session, current_actor(), request_id)
    form = AcknowledgeForm()
    try:
        if not form.validate():
            raise InputError(_("the form expired; reload the page and try again"))
        cooperation.acknowledge(db.session, current_actor(), row, confirm_strict=bool(form.confirm_strict.data))
    except CertShareError as exc:
        db.session.rollback()
        _refused(form, exc)
        row = cooperation.get_request(db.session, current_actor(), request_id)
        return _request_page(row, ack_form=form, status=exc.status if exc.status < 500 else 400)
    flash(_("Request #%(id)s acknowledged; %(partner)s is told.", id=row.id, partner=row.partner.name), "success")
    return redirect(url_for("web.cooperation_request_page", request_id=request_id))


@bp.post("/cooperation/<int:request_id>/resend")
@staff_required
def cooperation_resend(request_id: int):
    row = cooperation.get_request(db.session, current_actor(), request_id)
    try:
        if not ResendForm().validate():
            raise InputError(_("the form expired; reload the page and try again"))
        row = cooperation.resend(db.session, current_actor(), row)
    except CertShareError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        row = cooperation.get_request(db.session, current_actor(), request_id)
        return _request_page(row, status=exc.status if exc.status < 500 else 400)
    flash(_("Request #%(id)s: what did not reach %(partner)s is queued again.", id=row.id, partner=row.partner.name),
          "success")
    return redirect(url_for("web.cooperation_request_page", request_id=request_id))


@bp.post("/cooperation/<int:request_id>/answer")
@staff_required
def cooperation_answer(request_id: int):
    row = cooperation.get_request(db.session, current_actor(), request_id)
    form = AnswerForm()
    try:
        if not form.validate():
            raise InputError(_("the form expired; reload the page and try again") if form.csrf_token.errors
                             else _("check the answer's fields"))
        cooperation.answer(db.session, current_actor(), row, message=form.message.data or "",
                           objects=form.attached_objects(), confirm_strict=bool(form.confirm_strict.data))
    except CertShareError as exc:
        db.session.rollback()
        _refused(form, exc)
        row = cooperation.get_request(db.session, current_actor(), request_id)
        return _request_page(row, form, status=exc.status if exc.status < 500 else 400)
    flash(_("Answer to request #%(id)s queued for %(partner)s.", id=row.id, partner=row.partner.name), "success")
    return redirect(url_for("web.cooperation_request_page", request_id=request_id))
