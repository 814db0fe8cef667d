"""``/operations`` (CERT staff): partner feeds, members' TAXII polling and dead letters, where the
situation mail's items of those kinds are handled; CERT admins queue a dead letter again here."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from ..clock import utcnow
from ..errors import CertShareError, InputError
from ..extensions import db
from ..services import operations
from . import bp
from .actor import current_actor
from .roles import cert_admin_required, staff_required
from .staff_forms import ConfirmForm


@bp.get("/operations")
@staff_required
def operations_page():
    silence = timedelta(hours=int(current_app.config["POLL_SILENCE_HOURS"]))
    state = operations.overview(db.session, now=utcnow(), silence=silence)
    return render_template("workspace/operations.html", ops=state, confirm=ConfirmForm())


@bp.post("/operations/dead-letters/<int:message_id>/requeue")
@cert_admin_required
def operations_requeue(message_id: int):
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    try:
        message = operations.requeue_dead_letter(db.session, message_id, actor=current_actor())
        flash(_("Mail #%(id)s to %(to)s is queued again.", id=message.id, to=message.to), "success")
    except CertShareError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("web.operations_page") + "#dead-letters")
