"""``/account/mail``: which kinds of alert mail a person gets, and how (mail/preferences.py);
``/account/language``: the language of their pages and mail (services/language.py)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import i18n
from ..errors import CertShareError
from ..extensions import db
from ..mail import kinds, preferences
from ..services.language import set_locale
from ..services.mail_preferences import set_own_preferences
from . import bp
from .actor import current_actor
from .mail_forms import MailPreferencesForm, for_role
from .staff_forms import LanguageForm


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
    flash(_("Your mail choices are saved.") if changes else _("Nothing changed."), "success")
    return redirect(url_for("web.account_mail"))


def _page(user, form: MailPreferencesForm, values: dict, error: str | None, field: str | None = None):
    choosable = [(kind, _(kinds.CHOICE_LABELS[kind])) for kind in preferences.kinds_for(user.role)]
    return render_template("admin/account_mail.html", form=form, kinds=choosable, values=values, error=error,
                           error_field=field, modes={kind: [(mode, _(preferences.MODE_LABELS[mode]))
                                                            for mode in preferences.modes_for(kind)]
                                                     for kind, _label in choosable},
                           offers_situation=preferences.offers_situation(user.role),
                           duty=user.organization.duty_email,
                           defaults=preferences.DEFAULTS.get(user.role, {})), 400 if error else 200


@bp.route("/account/language", methods=["GET", "POST"])
@login_required
def account_language():
    """Automatic (the browser's language) or one of the languages shipped; the confirmation is
    said in the language just chosen."""
    user = current_user._get_current_object()
    form = LanguageForm()
    if not form.is_submitted():
        form.locale.data = user.locale or ""
        return _language_page(form), 200
    if form.validate():
        try:
            changed = set_locale(db.session, user, form.locale.data, actor=current_actor())
        except CertShareError as exc:
            db.session.rollback()
            form.locale.errors = [*form.locale.errors, exc.message]
        else:
            with i18n.language(i18n.select_locale()):  # the person's choice is now the request's language
                if not changed:
                    flash(_("Nothing changed."), "success")
                elif user.locale:
                    flash(_("Your language is now %(language)s.", language=i18n.language_name(user.locale)),
                          "success")
                else:
                    flash(_("Pages now follow your browser's language."), "success")
            return redirect(url_for("web.account_language"))
    return _language_page(form), 400


def _language_page(form: LanguageForm):
    expired = bool(form.csrf_token.errors)
    return render_template("admin/account_language.html", form=form, expired=expired,
                           mail_language=i18n.language_name(i18n.default_locale()))
