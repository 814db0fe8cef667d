"""Early warnings on the web: the list (``/warnings``) and one warning's page (``/warnings/<id>``),
its STIX download, and the staff actions posted from it (edit, publish, discard, revoke, publish a
personal value in clear or as its keyed hash).

Members see a warning as they received it, and a warning they may not read answers 404 exactly
like a missing one (lifecycle.readable_warning). The rules are early_warning.lifecycle's, the
same functions the API's warning routes call; what the page shows is services.warning_page's.
"""
from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from .. import policy
from ..early_warning import lifecycle
from ..errors import CertShareError, InputError, NotFound
from ..extensions import db
from ..services import warning_page as details
from ..services.warning_page import collection_titles
from ..vocab import N_, TLP_LEVELS, WARNING_STATES, WarningState
from . import bp
from .actor import current_actor
from .roles import staff_required
from .staff_forms import WarningDiscardForm, WarningEditForm

EXPIRED_FORM = N_("the form expired; reload the page and try again")


@bp.get("/warnings")
@login_required
def warnings_page():
    """Members: warnings published to them (policy decides). Staff: drafts to review too."""
    actor = current_actor()
    state = request.args.get("state") or None
    if state is not None and state not in WARNING_STATES:
        raise InputError(_("state must be %(states)s or %(last)s", states=", ".join(WARNING_STATES[:-1]),
                           last=WARNING_STATES[-1]), field="state")
    staff = policy.is_cert_staff(actor)
    if not staff:  # members: the versions they received, never the working copy
        return render_template("workspace/warnings.html", drafts=[], staff=False, state=None,
                               warnings=lifecycle.received_warnings(db.session, actor, limit=200))
    drafts = lifecycle.visible_warnings(db.session, actor, state=WarningState.DRAFT, limit=200)
    shown = lifecycle.visible_warnings(db.session, actor, state=state, limit=200)
    if state is None:
        shown = [w for w in shown if w.state != WarningState.DRAFT]
    titles = collection_titles(db.session, {a for w in drafts for a in w.targets or []})
    return render_template("workspace/warnings.html", drafts=drafts, warnings=shown, staff=staff, state=state,
                           discard_form=WarningDiscardForm(), titles=titles)


@bp.get("/warnings/<int:warning_id>")
@login_required
def warning_page(warning_id: int):
    actor = current_actor()
    warning = lifecycle.readable_warning(db.session, actor, warning_id)
    if policy.is_cert_staff(actor):
        return _staff_page(warning)
    published = details.published_version(db.session, actor, warning)
    if published is None:  # readable by the rule, yet nothing stored reaches this reader
        raise NotFound(_("no warning %(warning_id)s", warning_id=warning_id))
    return render_template("workspace/warning.html", warning=warning, published=published, staff=False,
                           **details.value_facts(warning))


@bp.get("/warnings/<int:warning_id>/stix")
@login_required
def warning_stix(warning_id: int):
    """The warning as a STIX 2.1 bundle file: the version the reader received (same check as the page)."""
    actor = current_actor()
    warning = lifecycle.readable_warning(db.session, actor, warning_id)
    bundle, _preview = details.stix_bundle(db.session, actor, warning)
    body = json.dumps(bundle, indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/stix+json", headers={
        "Content-Disposition": f'attachment; filename="cert-share-warning-{warning.id}.stix.json"'})


def _edit_form(warning) -> WarningEditForm:
    form = WarningEditForm(formdata=None)
    form.title.data, form.description.data = warning.title, warning.description
    form.recommended_action.data, form.tlp.data = warning.recommended_action, warning.tlp
    form.targets.data = list(warning.targets or [])
    return form


def _staff_page(warning, form: WarningEditForm | None = None, errors=(), status: int = 200):
    actor = current_actor()
    form = form or _edit_form(warning)
    sources = details.sources(db.session, actor, warning)
    choices = details.target_choices(db.session, selected=list(form.targets.data or []),
                                          q=request.args.get("q"))
    return render_template(
        "workspace/warning.html", warning=warning, staff=True, form=form, errors=list(errors),
        published=details.published_version(db.session, actor, warning), sources=sources,
        titles=collection_titles(db.session, [*(warning.targets or []), *(warning.published_targets or [])]),
        history=details.history(db.session, warning, sources),
        consumers=details.consumers(db.session, warning),
        first_published=details.first_published(db.session, warning), choices=choices, tlp_levels=TLP_LEVELS,
        action_form=WarningDiscardForm(formdata=None), editable=warning.state not in lifecycle.END_STATES,
        **details.value_facts(warning)), status


def _posted_form() -> tuple[WarningEditForm, bool]:
    """The page's form as sent, and whether its fields are valid; an expired form is refused
    at once (there is nothing of the reviewer's to show again)."""
    form = WarningEditForm()
    valid = form.validate()
    if form.csrf_token.errors:
        raise InputError(_(EXPIRED_FORM))
    return form, valid


def _fields(form: WarningEditForm) -> dict:
    """What the form asks for: a text not sent is left as it is; text areas' CRLF line ends
    (as browsers send them) become LF."""
    def text(field):
        return field.data.replace("\r\n", "\n") if field.name in request.form and field.data is not None else None
    return {"title": text(form.title), "description": text(form.description),
            "recommended_action": text(form.recommended_action), "tlp": form.tlp.data or None,
            "targets": list(form.targets.data or [])}


def _refused(warning_id: int, form: WarningEditForm, exc: CertShareError):
    """The page again with what the reviewer sent and why it was refused (nothing was saved).
    A warning that is missing, or raised from TLP:RED reports the reviewer is not named on, is
    404 here as on the page."""
    db.session.rollback()
    warning = lifecycle.readable_warning(db.session, current_actor(), warning_id)
    for name, messages in exc.errors.items():
        if name in form._fields:
            form[name].errors = [*form[name].errors, *messages]
    return _staff_page(warning, form, [exc.message], exc.status if exc.status < 500 else 400)


_CHECK_FIELDS = N_("check the fields marked below")


@bp.post("/warnings/<int:warning_id>/edit")
@staff_required
def warning_edit(warning_id: int):
    """Save the reviewer's changes; a published warning gets a new version with the next run."""
    form, valid = _posted_form()
    try:
        if not valid:
            raise InputError(_(_CHECK_FIELDS))
        changes = lifecycle.save_reviewed(db.session, warning_id, current_actor(), **_fields(form))
    except CertShareError as exc:
        return _refused(warning_id, form, exc)
    flash(_("Warning #%(id)s saved.", id=warning_id) if changes else _("Nothing to save: no field was changed."),
          "success" if changes else "info")
    return redirect(url_for("web.warning_page", warning_id=warning_id))


@bp.post("/warnings/<int:warning_id>/publish")
@staff_required
def warning_publish(warning_id: int):
    """Save the reviewer's changes and approve the warning, in one transaction."""
    form, valid = _posted_form()
    try:
        if not valid:
            raise InputError(_(_CHECK_FIELDS))
        lifecycle.publish_reviewed(db.session, warning_id, current_actor(), **_fields(form))
    except CertShareError as exc:
        return _refused(warning_id, form, exc)
    flash(_("Warning #%(id)s approved: it goes out with the next publish run.", id=warning_id), "success")
    return redirect(url_for("web.warning_page", warning_id=warning_id))


def _action(warning_id: int, act, done: str, failed: str):
    """``done``: the message when it worked; ``failed``: the one when it did not, with %(id)s and
    %(reason)s (both marked with N_ by the caller, translated here)."""
    if not WarningDiscardForm().validate():
        raise InputError(_(EXPIRED_FORM))
    lifecycle.readable_warning(db.session, current_actor(), warning_id)
    try:
        act(db.session, warning_id, current_actor())
    except CertShareError as exc:
        db.session.rollback()
        flash(_(failed, id=warning_id, reason=exc.message), "error")
    else:
        flash(_(done, id=warning_id), "success")
    return redirect(url_for("web.warning_page", warning_id=warning_id))


@bp.post("/warnings/<int:warning_id>/discard")
@staff_required
def warning_discard(warning_id: int):
    return _action(warning_id, lifecycle.discard_warning, N_("Warning #%(id)s discarded."),
                   N_("Warning #%(id)s was not discarded: %(reason)s"))


@bp.post("/warnings/<int:warning_id>/revoke")
@staff_required
def warning_revoke(warning_id: int):
    return _action(warning_id, lifecycle.revoke_warning,
                   N_("Warning #%(id)s revoked: members who received it get a revoked version with the "
                      "next publish run."), N_("Warning #%(id)s was not revoked: %(reason)s"))


@bp.post("/warnings/<int:warning_id>/publish-clear")
@staff_required
def warning_publish_clear(warning_id: int):
    """Publish a personal value (phone number, bank account, card) in clear, or (clear=0) as its
    keyed hash again: audited, and a published warning gets a new version."""
    clear = request.form.get("clear") == "1"

    def act(session, wid, actor):
        return lifecycle.review_warning(session, wid, actor, publish_clear=clear)

    done = (N_("Warning #%(id)s will carry the value in clear from its next version.") if clear
            else N_("Warning #%(id)s will carry the keyed hash instead of the value from its next version."))
    return _action(warning_id, act, done, N_("Warning #%(id)s was not changed: %(reason)s"))
