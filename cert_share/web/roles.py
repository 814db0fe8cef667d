"""Role checks for pages: every workspace and administration view names who may open it.

The rules themselves live in ``policy`` (CERT staff, CERT administrators, who manages tokens);
these decorators only refuse early, with 403 for a signed-in person who lacks the role (the page
exists, it is just not theirs) and the sign-in redirect for anonymous visitors.
"""
from __future__ import annotations

from functools import wraps

from flask_babel import gettext as _
from flask_login import login_required

from .. import policy
from ..errors import PermissionDenied
from .actor import current_actor


def staff_required(view):
    """CERT staff: cert-analyst and cert-admin."""
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not policy.is_cert_staff(current_actor()):
            raise PermissionDenied(_("this page is for CERT staff"))
        return view(*args, **kwargs)
    return wrapper


def cert_admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not policy.is_cert_admin(current_actor()):
            raise PermissionDenied(_("this page is for CERT administrators"))
        return view(*args, **kwargs)
    return wrapper


def token_admin_required(view):
    """Member-admins (their organization's tokens) and CERT admins."""
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not policy.can_manage_tokens(current_actor()):
            raise PermissionDenied(_("only your organization's administrators manage its tokens"))
        return view(*args, **kwargs)
    return wrapper


def user_admin_required(view):
    """Member-admins (their organization's accounts) and CERT admins (every account)."""
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not policy.can_manage_users(current_actor()):
            raise PermissionDenied(_("only your organization's administrators manage its accounts"))
        return view(*args, **kwargs)
    return wrapper
