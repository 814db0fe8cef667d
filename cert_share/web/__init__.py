"""Server-rendered pages for analysts and staff (Flask-Login sessions, CSRF on every form).

    auth.py          /login, /logout, /account/password; the server-side session check
    account_views.py /account/mail: which alert mail a person gets, at once or in the digest
    home.py          /  (members: phases owed, newest warnings, recent reports; CERT staff: the dashboard)
    incidents.py     /incidents, /incidents/new, /incidents/<id>, its STIX bundle and phase updates
    forms.py         Flask-WTF forms (CSRF, rendering); validation is the API's schemas
    incident_input.py  report form <-> IncidentCreateSchema
    filters.py       template filters and globals
    workspace_views.py, admin_views.py, twofactor_views.py   CERT workspace, administration, TOTP
    warning_views.py /warnings and one warning's page: members read, CERT staff review
    search_views.py  /search: the header's search box (reports, warnings, who reported it)
    key_views.py     /account/key: a person's OpenPGP key for encrypted mail
    operations_views.py  /operations: feeds, members' TAXII polling, dead letters (CERT staff)
    partner_views.py /admin/partners: the partner CERT directory (CERT admins)
    cooperation_views.py /cooperation: requests to and from partner CERTs (CERT staff)
    exercise_views.py /exercises: drills (staff create and follow them, participants respond)
"""
from __future__ import annotations

from flask import Blueprint

# "/assets", not "/static": the app's own static route would shadow the blueprint's.
bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")


# The view modules add their routes to bp when imported: after bp exists, hence E402.
from . import (  # noqa: E402,F401
    account_views,
    admin_views,
    auth,
    cooperation_views,
    exercise_views,
    filters,
    home,
    incidents,
    key_views,
    operations_views,
    partner_views,
    search_views,
    twofactor_views,
    warning_views,
    workspace_views,
)
