"""CERT staff in a real browser work with a partner CERT: open a request from a case (the
AMBER+STRICT confirmation included), find it in the cooperation queue, and acknowledge and answer
a partner's request. Screenshots are kept under tests/artifacts/."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from cert_share.actor import Actor
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import CooperationRequest, Organization
from cert_share.services import cooperation
from cert_share.stix import cooperation as stix_coop
from cert_share.stix import markings
from tests.browser.conftest import leave_page, type_datetime_local, wait_for
from tests.integration.staff_login import enrol
from tests.integration.warning_world import ATTACKER_IP, report

pytestmark = pytest.mark.browser


def _partners_request(app, partner) -> int:
    """A preservation request the partner pushed into our intake, waiting for us."""
    with app.app_context():
        org = db.session.get(Organization, partner.id)
        note = stix_coop.request_note(
            note_id=stix_coop.new_note_id(), incident_stix_id="incident--6a3f0b7e-8f43-4bd4-9d57-0f3b5e0b4d11",
            author_ref=org.stix_id, kind="preservation", message="Please preserve the logs of 198.51.100.7.",
            due_at=utcnow() + timedelta(days=1), tlp="green", requesting_country="FI", title="Botnet C2",
            created=utcnow())
        cooperation.receive(db.session, org, [note], Actor(label=f"taxii:{org.slug}", org=org))
        db.session.commit()
        return db.session.execute(select(CooperationRequest.id).where(CooperationRequest.stix_id == note["id"])
                                  ).scalar_one()


def _submit(browser, css):
    leave_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, css).click())


def test_staff_open_a_request_see_it_queued_and_answer_a_partners_request(
        app, factory, live_server, browser, screenshot, sign_in):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    partner = factory.org("CERT Abroad", sector="government-national", kind="partner", country="FI",
                          contact_email="duty@cert-abroad.example")
    with app.app_context():
        db.session.get(Organization, partner.id).taxii_url = "https://taxii.cert-abroad.example/api/collections/i/"
        db.session.commit()
    staff = factory.user(cert, "cert-analyst", email="duty@cert.example")
    secret = enrol(app, staff)
    case = report(app, bank, [("ipv4-addr", ATTACKER_IP)], tlp="amber", title="Mule accounts phishing")
    incoming = _partners_request(app, partner)
    browser.set_window_size(1440, 1100)
    sign_in(live_server, staff.email, totp_secret=secret)
    badge = browser.find_element(By.ID, "coop-awaiting")
    assert badge.text == "1", "the navigation counts the partner's request waiting for us"

    # From the case: ask the partner, first forgetting to confirm AMBER+STRICT.
    browser.get(f"{live_server.url}/incidents/{case}#cooperation-requests")
    Select(browser.find_element(By.ID, "partners")).select_by_value(partner.slug)
    Select(browser.find_element(By.ID, "kind")).select_by_value("assistance")
    browser.find_element(By.ID, "message").send_keys("Please sinkhole the C2 at " + ATTACKER_IP)
    due = (utcnow() + timedelta(days=2)).replace(hour=9, minute=30, second=0, microsecond=0, tzinfo=None)
    type_datetime_local(browser.find_element(By.ID, "due_at"), due)
    Select(browser.find_element(By.ID, "tlp")).select_by_value("amber+strict")
    _submit(browser, "#cooperation-request-form button[type=submit]")
    error = wait_for(browser, EC.presence_of_element_located((By.ID, "confirm_strict-errors")))
    assert "confirm" in error.text
    screenshot("cooperation-confirm-strict-error")
    browser.find_element(By.ID, "confirm_strict").click()
    _submit(browser, "#cooperation-request-form button[type=submit]")
    flash = wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".flash-success")))
    assert "Cooperation request queued for CERT Abroad" in flash.text
    row = browser.find_element(By.CSS_SELECTOR, "#coop-requests tbody tr")
    assert "CERT Abroad (Finland)" in row.text and "Queued" in row.text
    assert due.strftime("%Y-%m-%d %H:%M UTC") in row.text
    screenshot("cooperation-case-request-queued")

    # The queue: the partner's request waits in "From partners"; ours is in "To partners".
    _submit(browser, ".mainnav a[href='/cooperation']")
    assert str(incoming) in browser.find_element(By.ID, "cooperation-queue").text
    _submit(browser, "#tab-outgoing")
    queue = browser.find_element(By.ID, "cooperation-queue").text
    assert "CERT Abroad" in queue and "Queued" in queue and "Assistance" in queue
    screenshot("cooperation-queue-outgoing")

    # The partner's request: acknowledge it, then answer with an indicator attached.
    _submit(browser, "#tab-incoming")
    _submit(browser, f"#coop-row-{incoming} a")
    assert "Please preserve the logs of 198.51.100.7." in browser.find_element(By.ID, "request-message").text
    _submit(browser, "#acknowledge-form button[type=submit]")
    assert "acknowledged" in browser.find_element(By.CSS_SELECTOR, ".flash-success").text
    indicator = {"type": "indicator", "spec_version": "2.1", "id": "indicator--3a8f5e1c-1d4b-4c1e-9f3a-0e7d2b6c5a41",
                 "created": "2026-11-30T08:00:00.000Z", "modified": "2026-11-30T08:00:00.000Z",
                 "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
                 "valid_from": "2026-11-30T08:00:00.000Z", "object_marking_refs": [markings.marking_id("green")]}
    browser.find_element(By.ID, "message").send_keys("Logs preserved until 2027-03-01.")
    browser.find_element(By.ID, "objects").send_keys(json.dumps([indicator]))
    _submit(browser, "#answer-form button[type=submit]")
    answer = wait_for(browser, EC.presence_of_element_located((By.ID, "request-answer")))
    assert "Logs preserved until 2027-03-01." in answer.text and indicator["id"] in answer.text
    assert not browser.find_elements(By.ID, "coop-awaiting"), "nothing waits for us any more"
    screenshot("cooperation-request-answered")
