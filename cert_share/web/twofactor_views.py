"""The second sign-in step (TOTP) and a person's own two-factor settings.

After a correct password, ``auth.login`` hands over here when the user needs a second factor:
the session then holds only a short-lived *pending* marker (user id, session version,
expiry) — nobody is signed in until the code is checked. Wrong codes are counted on the server
per account (services/totp.py), so replaying the cookie from just after the password step
gains nothing. CERT staff without an authenticator enrol on the way in; members may enrol from
/account/security.
"""
from __future__ import annotations

import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import i18n
from ..actor import actor_for_user
from ..errors import CertShareError, InputError
from ..extensions import db, limiter
from ..models import User
from ..services import signin, totp
from . import bp
from .actor import current_actor
from .auth import PENDING_KEY, _login_limit, _start_session, safe_next, throttling
from .staff_forms import ConfirmForm, TotpCodeForm


def _rate_message() -> str:
    return _("Too many attempts from your address. Wait a minute, then try again.")


def _pending_user() -> tuple[User | None, dict | None]:
    pending = session.get(PENDING_KEY)
    if not pending or pending.get("exp", 0) < time.time():
        session.pop(PENDING_KEY, None)
        return None, None
    user = signin.awaiting_second_factor(db.session, pending["uid"], pending["v"])
    if user is None:
        session.pop(PENDING_KEY, None)
        return None, None
    return user, pending


def _restart(message: str):
    flash(message, "error")
    return redirect(url_for("web.login"))


def _finish(user: User, pending: dict):
    next_url = pending.get("next")
    _start_session(user)  # clears the session (pending marker included) and signs in
    return redirect(safe_next(next_url))


def _beside_code(form: TotpCodeForm, error: str | None) -> None:
    """A refused code is said next to the code field (its own "This field is required." when empty)."""
    if error and not form.code.errors:
        form.code.errors = [error]


def _must_wait():
    """The account's codes are refused for now (too many wrong ones): back to the start."""
    session.pop(PENDING_KEY, None)
    return _restart(_("Too many wrong codes for this account. Wait a few minutes, then sign in again."))


@bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message=_rate_message)
def login_totp():
    user, pending = _pending_user()
    if user is None or pending is None or pending.get("kind") != "totp":
        return _restart(_("Your sign-in expired. Enter your e-mail and password again."))
    form = TotpCodeForm()
    error = None
    if request.method == "POST":
        if form.validate() and totp.verify(db.session, user, form.code.data, throttling=throttling(),
                                           remote_addr=request.remote_addr):
            return _finish(user, pending)
        if totp.blocked_until(db.session, user) is not None:
            return _must_wait()
        error = _("That code is not valid. Enter the current code from your authenticator app.")
    form.code.data = ""
    _beside_code(form, error)
    return render_template("admin/login_totp.html", form=form), 401 if error else 200


@bp.route("/login/totp/enrol", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message=_rate_message)
def login_totp_enrol():
    user, pending = _pending_user()
    if user is None or pending is None or pending.get("kind") != "totp-enrol":
        return _restart(_("Your sign-in expired. Enter your e-mail and password again."))
    form = TotpCodeForm()
    error = None
    if request.method == "POST" and user.totp_secret:
        try:
            if not form.validate():
                raise InputError(_("enter the 6-digit code from your authenticator app"))
            totp.confirm_enrolment(db.session, user, form.code.data,
                                   actor=actor_for_user(user, request.remote_addr))
            return _finish(user, pending)
        except CertShareError as exc:
            db.session.rollback()
            error = exc.message
    elif not user.totp_secret:
        totp.start_enrolment(db.session, user)
    return _enrol_page(user, form, error, required=True)


def _enrol_page(user: User, form: TotpCodeForm, error: str | None, *, required: bool):
    assert user.totp_secret is not None  # login_totp_enrol starts the enrolment first
    uri = totp.provisioning_uri(user, user.totp_secret, current_app.config["TOTP_ISSUER"])
    form.code.data = ""
    _beside_code(form, error)
    return render_template("admin/totp_enrol.html", form=form, secret=user.totp_secret,
                           qr=totp.qr_data_uri(uri), required=required), 400 if error else 200


@bp.route("/account/security", methods=["GET", "POST"])
@login_required
def account_security():
    """Two-factor status; members may set it up (and turn it off with a code)."""
    user = current_user._get_current_object()
    form = TotpCodeForm()
    action = request.form.get("action")
    if request.method == "POST":
        if not form.validate():
            return _security_page(user, form, _("enter the 6-digit code from your authenticator app"))
        try:
            if action == "confirm":
                totp.confirm_enrolment(db.session, user, form.code.data, actor=current_actor())
                flash(_("Two-factor sign-in is on."), "success")
            elif action == "disable":
                totp.disable_own(db.session, user, form.code.data, actor=current_actor(), throttling=throttling())
                flash(_("Two-factor sign-in is off."), "success")
            else:
                raise InputError(_("unknown action"))
        except CertShareError as exc:
            db.session.rollback()
            return _security_page(user, form, exc.message)
        return redirect(url_for("web.account_security"))
    return _security_page(user, form, None)


@bp.post("/account/security/start")
@login_required
def account_security_start():
    if not ConfirmForm().validate():
        raise InputError(_("the form expired; reload the page and try again"))
    user = current_user._get_current_object()
    if not user.totp_enabled:
        totp.start_enrolment(db.session, user)
    return redirect(url_for("web.account_security"))


def _security_page(user: User, form: TotpCodeForm, error: str | None):
    qr = secret = None
    if not user.totp_enabled and user.totp_secret:
        secret = user.totp_secret
        qr = totp.qr_data_uri(totp.provisioning_uri(user, secret, current_app.config["TOTP_ISSUER"]))
    form.code.data = ""
    required = totp.required_for(user)
    code_shown = secret is not None or (user.totp_enabled and not required)
    if code_shown:
        _beside_code(form, error)
    return render_template("admin/account_security.html", form=form, error=None if code_shown else error, qr=qr,
                           secret=secret, required=required, start_form=ConfirmForm(),
                           own_language=_own_language(user)), 400 if error else 200


def _own_language(user: User) -> str | None:
    """The language the person chose (account_language), by its own name; None: automatic."""
    return i18n.language_name(user.locale) if user.locale in i18n.available_locales() else None
