"""The home page: what a signed-in person sees first."""
from __future__ import annotations

from flask import render_template
from flask_login import login_required

from .. import policy
from ..extensions import db
from ..services.member_home import member_home
from . import bp
from .actor import current_actor
from .workspace_views import dashboard


@bp.get("/")
@login_required
def index():
    actor = current_actor()
    if policy.is_cert_staff(actor):
        return _staff_home(actor)
    return _member_home(actor)


def _member_home(actor):
    """A member's analyst: the phases their organization owes, the warnings for them, their recent
    reports and the way to report one."""
    return render_template("home.html", home=member_home(db.session, actor))


def _staff_home(actor):
    """CERT staff: the workspace dashboard (what needs attention now)."""
    return dashboard()
