"""Do people read the names a person uses, never the values stored and spoken by the API?
ENISA's RSIT names ("DDoS"), sectors, phases, roles and how a report came in; and a refused
choice is named in the form's own words."""
from __future__ import annotations

from cert_share.actor import Actor
from cert_share.extensions import db
from cert_share.models import Incident, Organization
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import intake
from tests.integration.incident_bodies import incident_body
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import csrf_token, login


def _ddos_report(app, org) -> int:
    body = incident_body(classification="availability/ddos", title="DDoS on online banking", cross_border=[])
    with app.app_context():
        incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id),
                                             data=IncidentCreateSchema().load(body),
                                             actor=Actor(label=f"test:{org.slug}", org=org), source="api")
        return incident.id


def test_a_member_reads_rsit_names_roles_and_the_channel_not_machine_values(app, factory):
    bank = factory.org("First Bank", sector="financial-services")
    admin = factory.user(bank, "member-admin")
    incident_id = _ddos_report(app, bank)
    client = app.test_client()
    assert login(client, admin.email).status_code == 302
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Availability / DDoS" in page and "availability/ddos" not in page
    assert "via the API" in page and "First Bank · Organization administrator" in page
    assert "member-admin</span>" not in page
    # The report form offers the RSIT names too, grouped by class.
    form = client.get("/incidents/new").get_data(as_text=True)
    assert '<option value="intrusion-attempts/ids-alert">IDS alert</option>' in form
    assert '<option value="availability/ddos">DDoS</option>' in form


def test_a_refused_phase_names_the_phases_as_the_form_shows_them(app, factory):
    bank = factory.org("First Bank", sector="financial-services")
    analyst = factory.user(bank, "analyst")
    incident_id = _ddos_report(app, bank)
    client = app.test_client()
    assert login(client, analyst.email).status_code == 302
    token = csrf_token(client.get(f"/incidents/{incident_id}").get_data(as_text=True))
    response = client.post(f"/incidents/{incident_id}/updates",
                           data={"csrf_token": token, "phase": "early-warning", "summary": "text"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "choose one of: Incident notification, Intermediate report, Final report" in page
    assert "Must be one of" not in page and "final-report" not in page.split('id="phase-errors"')[1][:300]


def test_staff_read_sector_and_phase_names_on_the_case_page(app, factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    staff = factory.user(cert, "cert-analyst")
    incident_id = _ddos_report(app, bank)
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        intake.add_phase_update(db.session, incident=incident, phase="final-report", summary="Mitigated.",
                                details=None, actor=Actor(label=f"test:{bank.slug}", org=incident.organization))
    client = app.test_client()
    assert sign_in(client, staff.email, enrol(app, staff)).status_code == 302
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "(Financial services)" in page and "financial-services" not in page
    assert "Phase: Final report" in page and "via the API" in page
    assert "CERT analyst" in page  # the header names the role
