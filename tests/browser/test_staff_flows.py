"""CERT staff in a real browser: first sign-in with TOTP enrolment, triage a report, publish a
draft warning, read the metrics (charts are SVG images drawn on the server). Screenshots are kept
under tests/artifacts/."""
from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from cert_share.actor import Actor
from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.models import EarlyWarning, Incident, Organization
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import intake
from tests.browser.conftest import leave_page, wait_for
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
ATTACKER_IP = "198.51.100.23"


def _report(app, org, title, tlp, severity="high", hours=2):
    with app.app_context():
        data = IncidentCreateSchema().load({
            "title": title, "classification": "fraud/phishing", "severity": severity, "tlp": tlp,
            "detected_at": (utcnow() - timedelta(hours=hours)).isoformat(),
            "observables": [{"type": "ipv4-addr", "value": ATTACKER_IP}]})
        incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                             actor=Actor(label=f"test:{org.slug}", org=org), source="api")
        return incident.id


def _click(browser, css):
    browser.find_element(By.CSS_SELECTOR, css).click()


def _submit(browser, css):
    """Submit a form and wait for the next page: the page it leaves may show the same flash."""
    leave_page(browser, lambda: _click(browser, css))


def test_staff_sign_in_with_totp_triage_publish_a_draft_and_read_metrics(
        app, factory, live_server, browser, screenshot):
    factory.cert()
    grid = factory.org("Grid Energy", sector="energy")
    bank2 = factory.org("Second Bank", sector="financial-services")
    cert_org = _cert(app)
    factory.user(cert_org, "cert-analyst", email="duty@cert.example")
    first = _report(app, grid, "Phishing kit hosted on 198.51.100.23", "green", hours=80)
    _report(app, bank2, "Same phishing server seen here", "amber+strict", severity="critical")
    with app.app_context():
        draft = db.session.execute(select(EarlyWarning).where(EarlyWarning.state == "draft")).scalar_one()
        draft_id = draft.id

    # 1. Sign in: password, then the forced TOTP enrolment (the secret is read off the page).
    browser.get(live_server.url + "/login")
    browser.find_element(By.ID, "email").send_keys("duty@cert.example")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    _click(browser, "form button[type=submit]")
    secret_el = wait_for(browser, EC.presence_of_element_located((By.ID, "totp-secret")))
    assert browser.current_url.endswith("/login/totp/enrol")
    assert browser.find_element(By.CSS_SELECTOR, "img.qr").get_attribute("src").startswith("data:image/svg+xml")
    screenshot("1-totp-enrolment")
    browser.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret_el.text.strip()).now())
    _click(browser, "#totp-enrol-form button[type=submit]")
    wait_for(browser, EC.presence_of_element_located((By.ID, "card-overdue")))
    assert "What needs attention now" in browser.page_source
    overdue = browser.find_element(By.ID, "overdue").text
    assert "Phishing kit hosted" in overdue  # its 72 h notification is past due (NIS2)
    assert "Same phishing server" in browser.find_element(By.ID, "critical").text
    screenshot("2-dashboard")

    # 2. Triage: open the report from the queue, acknowledge it, assign it to myself, add a note.
    _click(browser, "nav.mainnav a[href='/incidents']")
    wait_for(browser, EC.presence_of_element_located((By.ID, "queue")))
    screenshot("3-queue")
    browser.find_element(By.LINK_TEXT, "Phishing kit hosted on 198.51.100.23").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "triage-form")))
    Select(browser.find_element(By.ID, "status")).select_by_value("acknowledged")
    Select(browser.find_element(By.ID, "assignee")).select_by_visible_text("duty@cert.example")
    _submit(browser, "#triage-form button[type=submit]")
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".flash-success")))
    browser.find_element(By.ID, "note").send_keys("Called the bank's SOC; kit taken down at 10:40.")
    _submit(browser, "#note-form button[type=submit]")
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".flash-success")))
    timeline = browser.find_element(By.ID, "case-timeline").text
    assert "new → acknowledged" in timeline and "kit taken down" in timeline
    screenshot("4-case-after-triage")
    with app.app_context():
        row = db.session.get(Incident, first)
        assert row.status == "acknowledged" and row.acknowledged_at is not None
        assert row.assignee.email == "duty@cert.example"

    # 3. Publish the draft warning (AMBER+STRICT: to one organization's collection), from its page:
    #    the list links to it; the organization is found with the picker's search.
    _click(browser, "nav.mainnav a[href='/warnings']")
    wait_for(browser, EC.presence_of_element_located((By.ID, f"draft-{draft_id}")))
    screenshot("5-warnings-drafts")
    _submit(browser, f"#draft-{draft_id} a.btn-primary")
    browser.find_element(By.ID, "org-q").send_keys("grid")
    _submit(browser, "#targets-organizations button[type=submit]")
    box = browser.find_element(By.CSS_SELECTOR, "#targets-organizations input[value='org-grid-energy']")
    box.click()
    _submit(browser, "#publish-warning")
    flash = wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".flash")))
    assert f"Warning #{draft_id} approved" in flash.text, flash.text
    screenshot("6-warning-approved")
    with app.app_context():
        lifecycle.publish_warnings(db.session)
        assert db.session.get(EarlyWarning, draft_id).state == "published"

    # 4. Metrics: the figures and three charts, SVG images the browser draws (no CSP violation).
    _click(browser, "nav.mainnav a[href='/metrics']")
    wait_for(browser, EC.presence_of_element_located((By.ID, "chart-sectors")))
    for chart in ("chart-sectors", "chart-response", "chart-processing"):
        image = browser.find_element(By.ID, chart)
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 0, chart
        assert image.size["width"] > 300 and image.size["height"] > 100, (chart, image.size)
    assert browser.find_element(By.ID, "m-total").text == "2"
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    screenshot("7-metrics")


def _cert(app):
    with app.app_context():
        org = db.session.execute(select(Organization).where(Organization.kind == "cert")).scalar_one()
        db.session.expunge(org)
        return org
