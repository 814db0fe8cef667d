"""A drill in a real browser: CERT staff create an exercise with the form (a real address refused
first, then the scenario accepted), run-exercises sends the first inject, a participant reads it
on its page and acknowledges it, a second participant fetches it over TAXII and does nothing else,
and staff read the results. Screenshots of the form, the participant's inject page and the results
are kept under tests/artifacts/."""
from __future__ import annotations

from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Exercise
from cert_share.services.exercise_delivery import run_exercises
from tests.browser.conftest import leave_page, type_datetime_local, wait_for
from tests.conftest import auth
from tests.integration.staff_login import enrol
from tests.integration.taxii_world import API

pytestmark = pytest.mark.browser
TAXII = "application/taxii+json;version=2.1"


def _submit(browser, css):
    leave_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, css).click())


def _sign_out(browser):
    _submit(browser, ".account form button[type=submit]")


def test_staff_create_a_drill_a_participant_acknowledges_staff_read_the_results(
        app, factory, live_server, browser, screenshot, sign_in):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    power = factory.org("Volt Power", sector="energy")
    factory.org("Other Bank", sector="financial-services")  # takes no part
    staff = factory.user(cert, "cert-analyst", email="duty@cert.example")
    secret = enrol(app, staff)
    analyst = factory.user(bank, "analyst", email="soc@bank.example")
    power_token = factory.token(power)
    browser.set_window_size(1440, 1100)

    sign_in(live_server, staff.email, totp_secret=secret)
    _submit(browser, ".mainnav a[href='/exercises']")
    _submit(browser, "#new-exercise")
    assert "EXERCISE" in browser.find_element(By.ID, "exercise-banner").text
    browser.find_element(By.ID, "name").send_keys("Winter drill")
    browser.find_element(By.ID, "description").send_keys("Ransomware spreading from banks to energy.")
    Select(browser.find_element(By.ID, "participants")).select_by_value(bank.slug)
    browser.find_element(By.CSS_SELECTOR, "#sector-choice input[value='energy']").click()
    start = (utcnow() - timedelta(minutes=5)).replace(second=0, microsecond=0, tzinfo=None)
    type_datetime_local(browser.find_element(By.ID, "starts_at"), start)
    fields = {"injects-0-offset_minutes": "0", "injects-0-title": "C2 beaconing from payment hosts",
              "injects-0-description": "Several hosts beacon every 60 s to the address below.",
              "injects-0-observables": "198.51.100.23\n8.8.8.8"}
    for name, value in fields.items():
        browser.find_element(By.ID, name).send_keys(value)
    assert not browser.find_element(By.ID, "inject-2").is_displayed(), "blank fieldsets stay folded"
    browser.find_element(By.ID, "add-inject").click()
    second = {"injects-1-offset_minutes": "600", "injects-1-title": "Partner asks for logs",
              "injects-1-partner_name": "CERT Exampleland", "injects-1-description": "Send what you saw."}
    for name, value in second.items():
        browser.find_element(By.ID, name).send_keys(value)
    Select(browser.find_element(By.ID, "injects-1-kind")).select_by_value("cooperation")
    Select(browser.find_element(By.ID, "injects-1-tlp")).select_by_value("amber")
    Select(browser.find_element(By.ID, "injects-1-expect")).select_by_value("report")
    screenshot("exercise-form")
    _submit(browser, "#create-exercise")

    # 8.8.8.8 is a real address: refused next to the observables, what was typed kept.
    error = wait_for(browser, EC.presence_of_element_located((By.ID, "injects-0-observables-errors")))
    assert "documentation ranges" in error.text
    assert browser.find_element(By.ID, "injects-1-title").get_attribute("value") == "Partner asks for logs"
    screenshot("exercise-form-error")
    observables = browser.find_element(By.ID, "injects-0-observables")
    observables.clear()
    observables.send_keys("198.51.100.23\nc2.evil.example")
    if not browser.find_element(By.ID, "starts_at").get_attribute("value"):
        type_datetime_local(browser.find_element(By.ID, "starts_at"), start)
    _submit(browser, "#create-exercise")
    flash = wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".flash-success")))
    assert "Winter drill" in flash.text
    assert "not yet" in browser.find_element(By.ID, "inject-row-1").text
    with app.app_context():
        exercise = db.session.execute(select(Exercise)).scalar_one()
        exercise_id, collection_id = exercise.id, exercise.collection_id

    # run-exercises: inject 1 is due (the start was 5 minutes ago), inject 2 is not.
    with app.app_context():
        run_exercises(db.session, utcnow())
        db.session.commit()
    fetched = app.test_client().get(f"{API}collections/{collection_id}/objects/",
                                    headers={**auth(power_token), "Accept": TAXII})
    assert fetched.status_code == 200 and "[EXERCISE] C2 beaconing" in fetched.get_data(as_text=True)
    _sign_out(browser)

    # The participant: the inject's page, then Acknowledge.
    sign_in(live_server, analyst.email)
    _submit(browser, ".mainnav a[href='/exercises']")
    _submit(browser, f"#exercise-row-{exercise_id} a")
    injects = browser.find_element(By.ID, "inject-table").text
    assert "C2 beaconing" in injects and "Partner asks for logs" not in injects
    _submit(browser, "#inject-row-1 td a")
    assert browser.find_element(By.ID, "inject-title").text.startswith("[EXERCISE] ")
    assert "c2.evil.example" in browser.find_element(By.ID, "inject-observables").text
    assert browser.find_element(By.ID, "file-report").get_attribute("href").endswith(
        f"/incidents/new?exercise={exercise_id}&inject=1")
    screenshot("exercise-inject-participant")
    _submit(browser, "#acknowledge-form button[type=submit]")
    assert "acknowledged" in browser.find_element(By.CSS_SELECTOR, ".flash-success").text
    assert browser.find_element(By.ID, "acknowledged").is_displayed()
    _sign_out(browser)

    # Staff read the results: First Bank fetched nothing but acknowledged; Volt Power fetched only.
    sign_in(live_server, staff.email, totp_secret=secret)
    browser.get(f"{live_server.url}/exercises/{exercise_id}")
    bank_row = browser.find_element(By.ID, f"result-{bank.slug}-1").text
    power_row = browser.find_element(By.ID, f"result-{power.slug}-1").text
    assert bank_row.endswith("fetch"), bank_row
    assert power_row.endswith("acknowledge"), power_row
    assert browser.find_element(By.ID, "chart-responses").get_attribute("src").startswith("data:image/svg+xml")
    screenshot("exercise-results")
