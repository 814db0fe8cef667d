"""``/account/key``: a person's OpenPGP public key, so TLP:AMBER mail reaches them encrypted
(services/mail_keys.py checks it; mail/outgoing.py uses it)."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..clock import utcnow
from ..errors import CertShareError, InputError
from ..extensions import db, limiter
from ..mail.encryption import key_expired
from ..services.mail_keys import register_key, remove_key
from . import bp
from .actor import current_actor
from .staff_forms import ConfirmForm, PgpKeyForm


def _rate_limit_message() -> str:
    return _("Too many key uploads from your account. Wait a while, then try again.")


def _upload_limit() -> str:
    return current_app.config["KEY_UPLOAD_RATE_LIMIT"]


def _person() -> str:
    # Per account, not per address: the cost is the uploads, whoever's network they come from.
    return f"key-upload:{current_user.get_id()}"


@bp.route("/account/key", methods=["GET", "POST"])
@login_required
@limiter.limit(_upload_limit, methods=["POST"], key_func=_person, error_message=_rate_limit_message)
def account_key():
    """The key on file (fingerprint, expiry) and a form to upload one in its place."""
    user = current_user._get_current_object()
    form = PgpKeyForm()
    if form.is_submitted():
        if form.validate():
            try:
                info = register_key(db.session, user, form.key.data, actor=current_actor())
            except CertShareError as exc:
                db.session.rollback()
                form.key.errors = [exc.message]
            else:
                flash(_("Your OpenPGP key %(fingerprint)s is registered: TLP:AMBER mail reaches you encrypted.",
                        fingerprint=info.fingerprint), "success")
                return redirect(url_for("web.account_key"))
        return _page(user, form), 400
    return _page(user, form), 200


@bp.post("/account/key/remove")
@login_required
def account_key_remove():
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    remove_key(db.session, current_user._get_current_object(), actor=current_actor())
    flash(_("Your OpenPGP key is removed: marked mail reaches you as a notice with a link."), "success")
    return redirect(url_for("web.account_key"))


def _page(user, form: PgpKeyForm):
    form.key.data = form.key.data if form.key.errors else ""
    expired = key_expired(user, utcnow())
    return render_template("admin/account_key.html", form=form, remove_form=ConfirmForm(), expired=expired,
                           require_from=current_app.config["MAIL_REQUIRE_ENCRYPTION_FROM"])
