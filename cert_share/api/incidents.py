"""/api/v1/incidents: report, list, read, STIX export, phase updates."""
from __future__ import annotations

from flask import g, jsonify, request, url_for

from ..extensions import db
from ..jsonbody import json_object
from ..models import Incident
from ..params import int_arg
from ..schemas.incident import IncidentCreateSchema, IncidentSchema, PhaseUpdateCreateSchema
from ..services import exercise_reports, incident_listing, intake
from . import bp
from .parameters import MAX_PAGE

_create = IncidentCreateSchema()
_out = IncidentSchema()
_update = PhaseUpdateCreateSchema()


def _load_incident(incident_id: int) -> Incident:
    # A report of another member answers exactly like one that does not exist.
    return incident_listing.readable_incident(db.session, g.actor, incident_id)


@bp.post("/incidents")
def create_incident():
    data = _create.load(json_object(request))
    if data["exercise_id"] is not None:  # a drill's report: stored as an exercise report, never an incident
        return _exercise_report(data)
    incident, created = intake.report_incident(db.session, org=g.actor.org, data=data, actor=g.actor, source="api")
    body = _out.dump(incident)
    response = jsonify(body)
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.get_incident", incident_id=body["id"])
    return response


def _exercise_report(data: dict):
    report, created = exercise_reports.file_exercise_report(db.session, org=g.actor.org, data=data, actor=g.actor,
                                                            source="api")
    response = jsonify(exercise_reports.report_body(db.session, report))
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.get_exercise_report", exercise_id=report.exercise_id,
                                           report_id=report.id)
    return response


@bp.get("/incidents")
def list_incidents():
    limit = int_arg(request.args, "limit", default=100, maximum=MAX_PAGE)
    before = int_arg(request.args, "before")
    filters = incident_listing.ReportFilters.from_args(request.args)
    page, more = incident_listing.list_incidents(db.session, g.actor, before=before, limit=limit, filters=filters)
    body = {"incidents": [_out.dump(i) for i in page], "more": more}
    if more:
        body["next"] = url_for("api.list_incidents", limit=limit, before=page[-1].id, **filters.as_args())
    return jsonify(body)


@bp.get("/incidents/<int:incident_id>")
def get_incident(incident_id: int):
    return jsonify(_out.dump(_load_incident(incident_id)))


@bp.get("/incidents/<int:incident_id>/stix")
def get_incident_stix(incident_id: int):
    bundle = intake.stix_bundle(_load_incident(incident_id))
    response = jsonify(bundle)
    response.mimetype = "application/stix+json"
    return response


@bp.post("/incidents/<int:incident_id>/updates")
def add_update(incident_id: int):
    incident = _load_incident(incident_id)
    data = _update.load(json_object(request))
    intake.add_phase_update(db.session, incident=incident, phase=data["phase"], summary=data["summary"],
                            details=data["details"], actor=g.actor)
    return jsonify(_out.dump(incident)), 201
