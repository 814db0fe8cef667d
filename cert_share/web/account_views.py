"""``/account/mail``: which kinds of alert mail a person gets, and how (mail/preferences.py)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import CertShareError
from ..extensions import db
from ..mail import preferences
from ..services.mail_preferences import set_own_preferences
from . import bp
from .actor import current_actor
from .staff_forms import ConfirmForm


@bp.route("/account/mail", methods=["GET", "POST"])
@login_required
def account_mail():
    """One choice per kind of mail the person's role gets (at once, in the digest, not at all),
    and the daily situation mail for CERT staff."""
    user = current_user._get_current_object()
    form = ConfirmForm()
    if request.method == "GET":
        return _page(user, form, preferences.effective(user), None)
    submitted = {name: value for name, value in request.form.items() if name != "csrf_token"}
    if not form.validate():
        return _page(user, form, submitted, "the form expired; reload the page and try again")
    try:
        changes = set_own_preferences(db.session, user, submitted, actor=current_actor())
    except CertShareError as exc:
        db.session.rollback()
        return _page(user, form, submitted, exc.message, field=exc.field)
    flash("Your mail choices are saved." if changes else "Nothing changed.", "success")
    return redirect(url_for("web.account_mail"))


def _page(user, form: ConfirmForm, values: dict, error: str | None, field: str | None = None):
    kinds = [(kind, preferences.KIND_LABELS[kind]) for kind in preferences.kinds_for(user.role)]
    offers_situation = preferences.SITUATION in preferences.DEFAULTS.get(user.role, {})
    return render_template("admin/account_mail.html", form=form, kinds=kinds, values=values, error=error,
                           error_field=field, modes=list(preferences.MODE_LABELS.items()),
                           offers_situation=offers_situation, duty=user.organization.duty_email,
                           defaults=preferences.DEFAULTS.get(user.role, {})), 400 if error else 200
