"""Does a partner CERT's incident, pushed into our intake, owe us NIS2 phases? No: a partner
reports to its own authorities, never files phases with us, so its report has no deadlines, is
never overdue, never reminded and never counted in overdue_phases; a member's report pushed the
same way still is."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share import deadlines
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import DeadlineReminder, Incident, PhaseDeadline
from cert_share.services import metrics
from cert_share.services.deadline_reminders import send_reminders
from cert_share.services.deadline_tracking import repair
from cert_share.services.workspace import overdue_pairs
from cert_share.stix import markings
from cert_share.store.collections import intake_collection_id

from ..conftest import auth


@pytest.fixture
def world(factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    partner = factory.org("CERT Abroad", sector="government-national", kind="partner", country="FI",
                          contact_email="duty@cert-abroad.example")
    factory.user(cert, "cert-analyst", email="duty@cert.example")
    factory.user(bank, "member-admin", email="admin@bank.example")
    return {"bank": bank, "partner": partner, "bank_token": factory.token(bank),
            "partner_token": factory.token(partner)}


def push_incident(client, token: str, name: str, days_ago: float) -> int:
    """An incident object, created ``days_ago`` (its detection time), pushed over TAXII."""
    created = (utcnow() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    obj = {"type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}", "created": created,
           "modified": created, "name": name, "labels": ['rsit:malicious-code="c2-server"'],
           "object_marking_refs": [markings.marking_id("amber")]}
    with client.application.app_context():
        collection = intake_collection_id(db.session)
    response = client.post(f"/taxii2/api/collections/{collection}/objects/", data=json.dumps({"objects": [obj]}),
                           headers={**auth(token), "Content-Type": "application/taxii+json;version=2.1",
                                    "Accept": "application/taxii+json;version=2.1"})
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["failure_count"] == 0
    with client.application.app_context():
        return db.session.execute(select(Incident.id).where(Incident.title == name)).scalar_one()


def test_a_partners_pushed_incident_owes_no_phases_and_a_members_still_does(app, client, world):
    partner_id = push_incident(client, world["partner_token"], "Botnet C2 in your country", days_ago=5)
    member_id = push_incident(client, world["bank_token"], "Our C2 sighting", days_ago=5)
    later = utcnow() + timedelta(days=40)  # the notification and the final report are long overdue
    with app.app_context():
        rows = db.session.execute(select(PhaseDeadline.incident_id)).scalars().all()
        assert partner_id not in rows and member_id in rows
        assert deadlines.for_incident(db.session.get(Incident, partner_id)) == []  # nothing shown on its page
        assert {i for i, _ in overdue_pairs(db.session, now=later)} == {member_id}
        period = metrics.parse_period((utcnow() - timedelta(days=10)).date().isoformat(), None)
        assert metrics.compute(db.session, period, now=later)["overdue_phases"] == 2  # the member's two phases

        report = send_reminders(db.session, now=later)
        assert report.reminders == 2
        assert {r.incident_id for r in db.session.query(DeadlineReminder)} == {member_id}


def test_the_deadline_job_leaves_a_partners_report_without_rows_and_drops_old_ones(app, client, world):
    partner_id = push_incident(client, world["partner_token"], "Phishing wave abroad", days_ago=5)
    with app.app_context():
        # A row written before the rule (the report was planned as a member's would be).
        due = utcnow() - timedelta(days=2)
        db.session.add(PhaseDeadline(incident_id=partner_id, phase="notification", regime="nis2", due_at=due,
                                     submitted_at=None, is_open=True))
        db.session.commit()
        assert overdue_pairs(db.session) != []
        repair(db.session)
        assert db.session.query(PhaseDeadline).filter_by(incident_id=partner_id).count() == 0
        assert overdue_pairs(db.session) == []
        assert repair(db.session) == 0  # and it is not "missing" rows on the next run
