"""CERT staff over the API: triage a report (PATCH /incidents/<id>) and read the metrics.

Both are CERT roles only: a member's token gets 403 (the report's existence is no secret to its
own organization, and another member's report already answers 404 before any role check).
"""
from __future__ import annotations

from flask import g, jsonify, request

from .. import policy
from ..errors import PermissionDenied
from ..extensions import db
from ..jsonbody import json_object
from ..schemas.triage import IncidentTriageSchema, staff_view
from ..services import metrics, triage
from . import bp
from .incidents import _load_incident

_triage = IncidentTriageSchema()


def _require_staff() -> None:
    if not policy.can_triage(g.actor):
        raise PermissionDenied("CERT staff only")


@bp.patch("/incidents/<int:incident_id>")
def triage_incident(incident_id: int):
    incident = _load_incident(incident_id)
    _require_staff()
    data = _triage.load(json_object(request))
    incident = triage.apply_request(db.session, incident, data, actor=g.actor)
    return jsonify(_staff_body(incident))


@bp.get("/incidents/<int:incident_id>/case")
def get_case(incident_id: int):
    incident = _load_incident(incident_id)
    _require_staff()
    return jsonify(_staff_body(incident))


def _staff_body(incident):
    return staff_view(incident, triage.notes(db.session, incident), triage.linked_reports(db.session, incident),
                      triage.cooperation_of(db.session, incident))


@bp.get("/metrics")
def get_metrics():
    _require_staff()
    period = metrics.parse_period(request.args.get("from"), request.args.get("to"))
    return jsonify(metrics.compute(db.session, period))
