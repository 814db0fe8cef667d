"""Server-rendered pages for analysts and staff (Flask-Login sessions, CSRF on every form).

    auth.py          /login, /logout
    home.py          /  (members: their recent reports; CERT staff: a minimal overview)
    incidents.py     /incidents, /incidents/new, /incidents/<id>, its STIX bundle and phase updates
    forms.py         Flask-WTF forms (CSRF, rendering); validation is the API's schemas
    incident_input.py  report form <-> IncidentCreateSchema
    filters.py       template filters and globals
    workspace_views.py, admin_views.py, twofactor_views.py   CERT workspace, administration, TOTP
"""
from __future__ import annotations

from flask import Blueprint

from ..extensions import db, login_manager
from ..models import User

# "/assets", not "/static": the app's own static route would shadow the blueprint's.
bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")


@login_manager.user_loader
def _load_user(session_id: str):
    # The session stores "id:version"; bumping the version (password change) ends old sessions.
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


from . import auth, filters, home, incidents  # noqa: E402,F401
from . import workspace_views  # noqa: E402,F401  (CERT workspace, issue 5)
from . import admin_views  # noqa: E402,F401  (administration, issue 5)
from . import twofactor_views  # noqa: E402,F401  (TOTP sign-in step, issue 5)
