"""``/account/mail``: which kinds of alert mail a person gets, and how (mail/preferences.py)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..errors import CertShareError
from ..extensions import db
from ..mail import kinds, preferences
from ..services.mail_preferences import set_own_preferences
from . import bp
from .actor import current_actor
from .mail_forms import MailPreferencesForm, for_role


@bp.route("/account/mail", methods=["GET", "POST"])
@login_required
def account_mail():
    """One choice per kind of mail the person's role gets (at once, in the digest, not at all),
    and the daily situation mail for CERT staff."""
    user = current_user._get_current_object()
    form = for_role(user.role)
    if not form.is_submitted():
        return _page(user, form, preferences.effective(user), None)
    if not form.validate():
        message, field = form.first_error()
        return _page(user, form, form.choices(), message, field=field)
    try:
        changes = set_own_preferences(db.session, user, form.choices(), actor=current_actor())
    except CertShareError as exc:
        db.session.rollback()
        return _page(user, form, form.choices(), exc.message, field=exc.field)
    flash("Your mail choices are saved." if changes else "Nothing changed.", "success")
    return redirect(url_for("web.account_mail"))


def _page(user, form: MailPreferencesForm, values: dict, error: str | None, field: str | None = None):
    choosable = [(kind, kinds.CHOICE_LABELS[kind]) for kind in preferences.kinds_for(user.role)]
    return render_template("admin/account_mail.html", form=form, kinds=choosable, values=values, error=error,
                           error_field=field, modes={kind: [(mode, preferences.MODE_LABELS[mode])
                                                            for mode in preferences.modes_for(kind)]
                                                     for kind, _label in choosable},
                           offers_situation=preferences.offers_situation(user.role),
                           duty=user.organization.duty_email,
                           defaults=preferences.DEFAULTS.get(user.role, {})), 400 if error else 200
