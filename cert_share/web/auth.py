"""Sign-in and sign-out pages.

The password step and the start of the session are separate calls
(``services.signin.begin_sign_in`` then ``_start_session``), so a second factor can be asked
for in between without touching the rest.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db, limiter
from ..services import signin
from . import bp
from .forms import LoginForm, LogoutForm

RATE_LIMIT_MESSAGE = "Too many sign-in attempts from your address. Wait a minute, then try again."


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no '//' or backslash tricks); else home."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return url_for("web.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return url_for("web.index")
    return target


def _login_limit() -> str:
    return current_app.config.get("LOGIN_RATE_LIMIT") or "10 per minute"


def _start_session(user) -> None:
    """Every factor checked: a fresh session (no fixation), then the audit entry."""
    session.clear()
    login_user(user)
    signin.complete_sign_in(db.session, user, remote_addr=request.remote_addr)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message=RATE_LIMIT_MESSAGE)
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(next_url))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = signin.begin_sign_in(
            db.session, form.email.data, form.password.data,
            max_failures=current_app.config["LOGIN_MAX_FAILURES"],
            lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"],
            remote_addr=request.remote_addr)
        if result.ok and result.second_factor:  # TOTP step before the session starts
            from .twofactor_views import begin

            return begin(result.user, result.second_factor, next_url)
        if result.ok:
            _start_session(result.user)
            return redirect(safe_next(next_url))
        error = result.error
    status = 401 if error else (400 if form.errors else 200)
    form.password.data = ""
    return render_template("login.html", form=form, error=error, next_url=next_url), status


@bp.post("/logout")
@login_required
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():  # CSRFProtect already refused a missing token; belt and braces
        return redirect(url_for("web.index"))
    signin.record_sign_out(db.session, current_user._get_current_object(), remote_addr=request.remote_addr)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("web.login"))
