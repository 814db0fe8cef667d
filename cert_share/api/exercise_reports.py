"""/api/v1/exercises/<id>/reports/<report id>: an exercise report read back by the organization
that filed it (POST /api/v1/incidents with exercise_id) and by CERT staff; 404 for anyone else."""
from __future__ import annotations

from flask import g, jsonify

from ..extensions import db
from ..services import exercise_reports
from . import bp


@bp.get("/exercises/<int:exercise_id>/reports/<int:report_id>")
def get_exercise_report(exercise_id: int, report_id: int):
    report = exercise_reports.readable_report(db.session, g.actor, exercise_id, report_id)
    return jsonify(exercise_reports.report_body(db.session, report))
