"""Sign-in, sign-out and password-change pages, and the check of the session on every page.

The password step and the start of the session are separate calls
(``services.signin.begin_sign_in`` then ``_start_session``), so a second factor can be asked
for in between without touching the rest. A signed-in browser's cookie holds the key of a
server-side session (services/web_sessions.py), checked by ``load_user`` on each request.
"""
from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user

from ..errors import InputError
from ..extensions import db, limiter, login_manager
from ..params import id_from_text
from ..services import signin, users, web_sessions
from ..services.signin_throttle import Throttling
from . import bp
from .actor import current_actor
from .forms import LoginForm, LogoutForm, PasswordChangeForm

# The Flask session's key for the server-side session (services/web_sessions.py).
SESSION_KEY = "sid"
# The Flask session's key for a sign-in that waits for its second factor (twofactor_views.py),
# and how long it may wait.
PENDING_KEY = "totp_pending"
PENDING_SECONDS = 300


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no '//' or backslash tricks); else home."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return url_for("web.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return url_for("web.index")
    return target


def _rate_limit_message() -> str:
    return gettext("Too many sign-in attempts from your address. Wait a minute, then try again.")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def throttling() -> Throttling:
    return Throttling(max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                      backoff_max=timedelta(minutes=current_app.config["LOGIN_BACKOFF_MAX_MINUTES"]))


def _client() -> str:
    # request.remote_addr is the TCP peer (or what a configured trusted proxy reports), never
    # a forwarding header the client writes itself.
    return web_sessions.fingerprint(request.remote_addr, request.headers.get("User-Agent"))


def _lifetime() -> timedelta:
    return timedelta(hours=current_app.config["SESSION_MAX_HOURS"])


@login_manager.user_loader
def load_user(user_key: str):
    """The signed-in user of this request, if the server-side session is still alive.

    The cookie carries "id:version" (Flask-Login) and the session key; the session row decides
    (sign-out, idle timeout, absolute lifetime, password change, another client)."""
    id_text, _, version_text = user_key.partition(":")
    user_id, version = id_from_text(id_text), id_from_text(version_text)
    if user_id is None or version is None:
        return None
    config = current_app.config
    return web_sessions.resume(db.session, session.get(SESSION_KEY), user_id=user_id, version=version,
                               client=_client(), idle=timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
                               lifetime=_lifetime())


# What a user who must choose a new password (an administrator reset it, or created the
# account with it) may still open: every other page sends them to the password form.
PASSWORD_GATE_OPEN = frozenset({"web.account_password", "web.logout", "web.static"})


@bp.before_request
def _load_user_first():
    # The session check may record "last seen" (a commit): do it before the view writes anything.
    if request.endpoint == "web.static":
        return None
    user = current_user._get_current_object()
    if user.is_authenticated and user.must_change_password and request.endpoint not in PASSWORD_GATE_OPEN:
        return redirect(url_for("web.account_password"))
    return None


def _start_session(user) -> None:
    """Every factor checked: a fresh session (no fixation), kept on the server, then the audit entry."""
    session.clear()
    key = signin.complete_sign_in(db.session, user, client=_client(), lifetime=_lifetime(),
                                  remote_addr=request.remote_addr)
    session[SESSION_KEY] = key
    login_user(user)


def _begin_second_factor(user, kind: str, next_url: str | None):
    """Password accepted; ask for the code (or for enrolment) before starting the session: the
    session holds only the pending marker that twofactor_views reads."""
    session.clear()
    session[PENDING_KEY] = {"uid": user.id, "v": user.session_version, "kind": kind, "next": next_url,
                            "exp": int(time.time()) + PENDING_SECONDS}
    return redirect(url_for("web.login_totp_enrol" if kind == "totp-enrol" else "web.login_totp"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message=_rate_limit_message)
def login():
    next_url = request.args.get("next")
    if current_user.is_authenticated:
        return redirect(safe_next(next_url))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        result = signin.begin_sign_in(db.session, form.email.data, form.password.data, throttling=throttling(),
                                      remote_addr=request.remote_addr)
        if result.ok and result.second_factor:  # TOTP step before the session starts
            return _begin_second_factor(result.user, result.second_factor, next_url)
        if result.user is not None and result.ok:
            _start_session(result.user)
            if result.user.must_change_password:
                return redirect(url_for("web.account_password"))
            return redirect(safe_next(next_url))
        error = result.error
        status = 429 if result.throttled else 401
    elif form.errors:
        status = 400
    form.password.data = ""
    return render_template("login.html", form=form, error=error, next_url=next_url), status


@bp.post("/logout")
@login_required
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():  # CSRFProtect already refused a missing token; belt and braces
        return redirect(url_for("web.index"))
    signin.record_sign_out(db.session, current_user._get_current_object(), session.get(SESSION_KEY),
                           remote_addr=request.remote_addr)
    message = gettext("You are signed out.")  # in the language of the person who signed out
    logout_user()
    session.clear()
    flash(message, "info")
    return redirect(url_for("web.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"], error_message=_rate_limit_message)
def account_password():
    """Change one's own password: the current one is required; every other session ends."""
    form = PasswordChangeForm()
    error, failed = None, False
    if request.method == "POST":
        try:
            if not form.validate():  # the fields say what is missing; only an expired form needs words
                raise InputError(gettext("the form expired; reload the page and try again"))
            if form.new_password.data != form.confirm_password.data:
                raise InputError(gettext("the two new passwords differ"), field="confirm_password")
            user = current_user._get_current_object()
            users.change_own_password(db.session, user, form.current_password.data, form.new_password.data,
                                      current_actor(), keep_session=session.get(SESSION_KEY))
            login_user(user)  # this session carries the account's new version; the others have ended
            flash(gettext("Your password is changed. Every other session of your account has been signed out."),
                  "success")
            return redirect(url_for("web.account_security"))
        except InputError as exc:
            db.session.rollback()
            failed = True
            named = form._fields.get(exc.field or "")
            if named is not None:  # next to the field it is about
                named.errors = [*named.errors, exc.message]
            elif not any(f.errors for f in form if f.type != "CSRFTokenField"):
                error = exc.message
    for name in ("current_password", "new_password", "confirm_password"):
        getattr(form, name).data = ""
    return render_template("admin/account_password.html", form=form, error=error,
                           min_length=users.MIN_PASSWORD_LENGTH,
                           must_change=current_user.must_change_password), 400 if failed else 200
