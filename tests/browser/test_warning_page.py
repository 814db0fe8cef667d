"""One early warning's page in a real browser: CERT staff edit it, revoke it, read who fetched it
over TAXII, and choose where it goes with a picker that says before the click which targets the
chosen TLP allows (with and without JavaScript). Screenshots are kept under tests/artifacts/."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.models import EarlyWarning
from cert_share.store.collections import by_alias
from tests.browser.conftest import leave_page, wait_for
from tests.conftest import auth
from tests.integration.staff_login import enrol
from tests.integration.taxii_world import API
from tests.integration.warning_world import ATTACKER_IP, report

pytestmark = pytest.mark.browser


@pytest.fixture
def world(app, factory):
    orgs = {"cert": factory.cert(), "bank": factory.org("First Bank", sector="financial-services"),
            "bank2": factory.org("Second Bank", sector="financial-services"),
            "telco": factory.org("TelcoNet", sector="telecommunications"),
            "grid": factory.org("Grid Energy", sector="energy")}
    staff = factory.user(orgs["cert"], "cert-analyst", email="duty@cert.example")
    return {"orgs": orgs, "staff": staff, "secret": enrol(app, staff),
            "member": factory.user(orgs["bank"], "analyst", email="soc@first-bank.example")}


def _publish(app):
    with app.app_context():
        lifecycle.publish_warnings(db.session)


def _sector_warning(app, orgs) -> int:
    """TLP:AMBER, to the financial sector: both banks reported the address, one as AMBER."""
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="amber")
    _publish(app)
    with app.app_context():
        return db.session.execute(select(EarlyWarning.id)).scalar_one()


def _draft_warning(app, orgs) -> int:
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict")
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    with app.app_context():
        return db.session.execute(select(EarlyWarning.id).where(EarlyWarning.state == "draft")).scalar_one()


def _warning(app, warning_id):
    with app.app_context():
        warning = db.session.get(EarlyWarning, warning_id)
        db.session.expunge(warning)
        return warning


def _submit(browser, css):
    """Submit a form and wait for the next page (the page it leaves may show the same flash)."""
    leave_page(browser, browser.find_element(By.CSS_SELECTOR, css).click)


def _open(browser, live_server, warning_id):
    browser.get(f"{live_server.url}/warnings/{warning_id}")
    wait_for(browser, EC.presence_of_element_located((By.ID, "warning-title")))


def _no_console_errors(browser):
    """No script error, no CSP violation (a refused form's 400 is the network's, and expected)."""
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and e.get("source") != "network"]
    assert errors == [], errors


def test_staff_edit_a_published_warning_and_see_who_fetched_it(app, factory, world, live_server, browser,
                                                                sign_in, screenshot):
    orgs = world["orgs"]
    warning_id = _sector_warning(app, orgs)
    with app.app_context():
        collection_id = by_alias(db.session, "sector-financial-services").id
    # First Bank's SOC polls its sector's collection after the warning went out; TelcoNet polls its own.
    for who, coll in (("bank", collection_id), ("telco", None)):
        if coll is None:
            with app.app_context():
                coll = by_alias(db.session, "sector-telecommunications").id
        response = app.test_client().get(f"{API}collections/{coll}/objects/", headers={
            **auth(factory.token(orgs[who])), "Accept": "application/taxii+json;version=2.1"})
        assert response.status_code == 200

    sign_in(live_server, world["staff"].email, totp_secret=world["secret"])
    _open(browser, live_server, warning_id)
    consumers = browser.find_element(By.ID, "consumers")
    assert "First Bank" in consumers.text and "TelcoNet" not in consumers.text
    assert "Warnings for the financial-services sector" in consumers.text  # the collection's title, not its alias
    assert "sector-financial-services" not in consumers.text
    assert "at or after" in consumers.text  # the page says what "fetched" means
    sources = browser.find_element(By.ID, "sources").text
    assert "First Bank" in sources and "Second Bank" in sources
    screenshot("1-published-warning")

    title = browser.find_element(By.ID, "title")
    title.clear()
    title.send_keys("Phishing server: block 198.51.100.23")
    browser.find_element(By.ID, "recommended_action").send_keys(" Report any hit to the CERT.")
    _submit(browser, "#save-warning")
    flash = wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".flash-success")))
    assert f"Warning #{warning_id} saved." in flash.text
    assert browser.find_element(By.ID, "warning-title").text == "Phishing server: block 198.51.100.23"
    assert "goes out with the next publish run" in browser.find_element(By.ID, "warning-state-panel").text
    warning = _warning(app, warning_id)
    assert warning.recommended_action.endswith("Report any hit to the CERT.") and warning.state == "pending"

    _publish(app)
    _open(browser, live_server, warning_id)
    history = browser.find_element(By.ID, "history").text
    assert "Warning edited" in history and "duty@cert.example" in history
    assert "changed: title, recommended action" in history
    # Fetched means since the latest version went out: First Bank has not fetched this one yet.
    assert "No organization has fetched it since" in browser.find_element(By.ID, "consumers").text
    screenshot("2-after-edit-and-publish")
    _no_console_errors(browser)


def test_staff_revoke_a_warning_and_the_member_reads_that_it_was_withdrawn(app, world, live_server, browser,
                                                                           sign_in, screenshot):
    warning_id = _sector_warning(app, world["orgs"])
    sign_in(live_server, world["staff"].email, totp_secret=world["secret"])
    _open(browser, live_server, warning_id)
    assert not browser.find_elements(By.ID, "discard-form")  # published: revoke, not discard
    _submit(browser, "#revoke-form button[type=submit]")
    flash = wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".flash-success")))
    assert f"Warning #{warning_id} revoked" in flash.text
    assert browser.find_element(By.ID, "warning-state").text == "Revoked"
    assert not browser.find_elements(By.ID, "warning-form")  # nothing left to edit
    screenshot("1-revoked")
    _publish(app)
    _open(browser, live_server, warning_id)
    history = browser.find_element(By.ID, "history").text
    assert "Warning revoked" in history and "changed: revoked" in history

    browser.delete_all_cookies()
    sign_in(live_server, world["member"].email)
    _open(browser, live_server, warning_id)
    assert browser.find_element(By.ID, "revoked-flag").is_displayed()
    assert "stop acting on it" in browser.find_element(By.ID, "as-published").text
    assert not browser.find_elements(By.ID, "history")
    screenshot("2-member-sees-revoked")


def test_publish_to_says_where_the_chosen_tlp_may_go_before_the_click(app, world, live_server, browser,
                                                                      sign_in, screenshot):
    warning_id = _draft_warning(app, world["orgs"])
    sign_in(live_server, world["staff"].email, totp_secret=world["secret"])
    _open(browser, live_server, warning_id)
    groups = {key: browser.find_element(By.ID, f"targets-{key}") for key in ("all-members", "sectors", "organizations")}

    def refused(key):
        return "not-allowed" in groups[key].get_attribute("class")

    # AMBER+STRICT (the draft's level): single organizations only.
    assert refused("all-members") and refused("sectors") and not refused("organizations")
    tlp = Select(browser.find_element(By.ID, "tlp"))
    tlp.select_by_value("amber")
    assert refused("all-members") and not refused("sectors") and not refused("organizations")
    assert "may not go to all-members" in groups["all-members"].text
    assert "TLP:AMBER may go to these collections." in groups["sectors"].text
    tlp.select_by_value("green")
    assert not any(refused(key) for key in groups)
    assert "chosen" in browser.find_element(By.CSS_SELECTOR, "#tlp-targets tr[data-tlp='green']").get_attribute("class")
    assert "sector-energy · 1 member organization" in groups["sectors"].text
    screenshot("1-green-goes-everywhere")
    tlp.select_by_value("amber+strict")
    assert refused("sectors")

    # A choice the TLP does not allow is refused by the server too, with the form kept.
    browser.find_element(By.CSS_SELECTOR, "#targets-all-members input[value='all-members']").click()
    _submit(browser, "#publish-warning")
    errors = browser.find_element(By.ID, "warning-errors").text
    assert "may only go to organization collections" in errors
    assert _warning(app, warning_id).state == "draft"

    # Single organizations are found by a search, then ticked.
    browser.find_element(By.ID, "org-q").send_keys("grid")
    _submit(browser, "#targets-organizations button[type=submit]")
    assert "1 of 5 organizations match" in browser.find_element(By.ID, "org-search-result").text
    browser.find_element(By.CSS_SELECTOR, "#targets-organizations input[value='org-grid-energy']").click()
    _submit(browser, "#publish-warning")
    flash = wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".flash-success")))
    assert f"Warning #{warning_id} approved" in flash.text
    warning = _warning(app, warning_id)
    assert (warning.state, warning.targets, warning.tlp) == ("pending", ["org-grid-energy"], "amber+strict")
    screenshot("2-approved")
    _no_console_errors(browser)


@pytest.mark.parametrize("browser", [{"javascript": False}], indirect=True)
def test_publish_to_works_without_javascript(app, world, live_server, browser, sign_in, screenshot):
    warning_id = _draft_warning(app, world["orgs"])
    sign_in(live_server, world["staff"].email, totp_secret=world["secret"])
    _open(browser, live_server, warning_id)
    # The server says where the saved TLP may go, and the table says it for every level.
    assert "not-allowed" in browser.find_element(By.ID, "targets-sectors").get_attribute("class")
    row = browser.find_element(By.CSS_SELECTOR, "#tlp-targets tr[data-tlp='amber']").text
    assert row.split()[1:] == ["not", "allowed", "allowed", "allowed"]
    browser.find_element(By.ID, "org-q").send_keys("first")
    _submit(browser, "#targets-organizations button[type=submit]")
    browser.find_element(By.CSS_SELECTOR, "#targets-organizations input[value='org-first-bank']").click()
    _submit(browser, "#publish-warning")
    flash = wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".flash-success")))
    assert f"Warning #{warning_id} approved" in flash.text
    assert _warning(app, warning_id).targets == ["org-first-bank"]
    screenshot("1-approved-without-javascript")
