"""Administration in a real browser: a CERT admin edits an organization (country chosen by name,
errors beside their fields), deactivates it, resets a password that the user must replace at
sign-in; a member-admin adds a colleague and issues a token whose page says how to use it,
with a copy button (and without JavaScript, text that selects whole). Screenshots under
tests/artifacts/."""
from __future__ import annotations

import pyotp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import leave_page, wait_for
from tests.conftest import PASSWORD, auth
from tests.integration.staff_login import enrol

pytestmark = pytest.mark.browser
NEW_PASSWORD = "my-own-password-1"


def _submit(browser, css):
    """Submit a form and wait for the next page (the page left may show the same flash)."""
    leave_page(browser, browser.find_element(By.CSS_SELECTOR, css).click)


def _sign_in_staff(browser, server, email, secret):
    browser.get(server.url + "/login")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    _submit(browser, "form button[type=submit]")
    browser.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).now())
    _submit(browser, "#totp-form button[type=submit]")
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".account .who-name")))


def _sign_out(browser):
    _submit(browser, ".account form button[type=submit]")


def _error_beside(browser, field_id) -> str:
    """The error text inside the same .field block as the input (not at the top of the page)."""
    box = browser.find_element(By.ID, field_id).find_element(By.XPATH, "./ancestor::div[contains(@class,'field')]")
    return box.find_element(By.CSS_SELECTOR, ".field-errors").text


def test_cert_admin_edits_and_deactivates_an_organization_and_resets_a_password(
        app, factory, live_server, browser, screenshot):
    cert = factory.cert()
    telco = factory.org("TelcoNet", sector="telecommunications")
    admin = factory.user(cert, "cert-admin", email="admin@cert.example")
    factory.user(telco, "analyst", email="soc@telco.example")
    bank = factory.org("First Bank", sector="financial-services")
    factory.user(bank, "analyst", email="soc@bank.example")
    telco_token = factory.token(telco, "noc-feed")
    _sign_in_staff(browser, live_server, admin.email, enrol(app, admin))

    # 1. Edit: the country is chosen by name from ISO 3166; a bad edit shows errors beside fields.
    browser.get(live_server.url + "/admin/organizations")
    browser.find_element(By.LINK_TEXT, "TelcoNet").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "org-edit-form")))
    name = browser.find_element(By.ID, "name")
    name.clear()
    Select(browser.find_element(By.ID, "sector")).select_by_visible_text("— choose —")
    _submit(browser, "#org-edit-form button[type=submit]")
    assert _error_beside(browser, "name")
    assert _error_beside(browser, "sector") == "Choose a sector."
    screenshot("1-errors-beside-fields")
    browser.find_element(By.ID, "name").send_keys("TelcoNet Estonia")
    Select(browser.find_element(By.ID, "sector")).select_by_value("telecommunications")
    Select(browser.find_element(By.ID, "country")).select_by_visible_text("Estonia")
    Select(browser.find_element(By.ID, "regime")).select_by_value("dora")
    _submit(browser, "#org-edit-form button[type=submit]")
    assert "changed" in browser.find_element(By.CSS_SELECTOR, ".flash-success").text
    assert Select(browser.find_element(By.ID, "country")).first_selected_option.text == "Estonia"
    assert browser.find_element(By.ID, "name").get_attribute("value") == "TelcoNet Estonia"
    # An asset that is not one is refused beside its field; a good one is listed.
    browser.find_element(By.ID, "value").send_keys("not an asset!")
    _submit(browser, "#asset-form button[type=submit]")
    assert "is not a CIDR range" in _error_beside(browser, "value")
    value = browser.find_element(By.ID, "value")
    value.clear()
    value.send_keys("AS64500")
    _submit(browser, "#asset-form button[type=submit]")
    assert "AS64500" in browser.find_element(By.CSS_SELECTOR, "#assets .asset-list").text
    browser.get(live_server.url + "/admin/organizations")
    assert "Estonia" in browser.find_element(By.ID, "org-telconet").text  # the name, not "Es"

    # 2. Deactivate: the page says what stops before the button; afterwards the token is refused.
    browser.find_element(By.LINK_TEXT, "TelcoNet Estonia").click()
    effects = wait_for(browser, EC.presence_of_element_located((By.ID, "deactivation-effects"))).text
    assert "1 user(s) can no longer sign in" in effects and "1 token(s) stop working" in effects
    screenshot("2-deactivation-effects")
    _submit(browser, "#deactivate")
    assert "deactivated" in browser.find_element(By.CSS_SELECTOR, ".flash-success").text
    assert browser.find_element(By.ID, "org-state").text == "deactivated"
    assert app.test_client().get("/api/v1/incidents", headers=auth(telco_token)).status_code == 401

    # 3. Users: the roles offered follow the organization chosen.
    browser.get(live_server.url + "/admin/users")
    Select(browser.find_element(By.ID, "org")).select_by_visible_text("First Bank")
    offered = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#role option")
               if o.is_enabled() and o.get_attribute("value")]
    assert offered == ["analyst", "member-admin"]
    Select(browser.find_element(By.ID, "org")).select_by_visible_text("National CERT")
    offered = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#role option")
               if o.is_enabled() and o.get_attribute("value")]
    assert offered == ["cert-analyst", "cert-admin"]

    # 4. Reset a password: shown once, with a copy button; the user must replace it at sign-in.
    row = browser.find_element(By.XPATH, "//tr[td[contains(., 'soc@bank.example')]]")
    leave_page(browser, row.find_element(By.CSS_SELECTOR, "button[aria-label^='Reset the password']").click)
    temporary = browser.find_element(By.ID, "temporary-password").text.strip()
    copy = browser.find_element(By.CSS_SELECTOR, "button[data-copy=temporary-password]")
    assert copy.is_displayed()
    screenshot("3-temporary-password")
    _sign_out(browser)
    browser.get(live_server.url + "/login?next=/incidents")
    browser.find_element(By.ID, "email").send_keys("soc@bank.example")
    browser.find_element(By.ID, "password").send_keys(temporary)
    _submit(browser, "form button[type=submit]")
    assert browser.current_url.endswith("/account/password")
    assert browser.find_element(By.ID, "must-change").is_displayed()
    browser.get(live_server.url + "/incidents")
    assert browser.current_url.endswith("/account/password")  # no other page until it is done
    browser.find_element(By.ID, "current_password").send_keys(temporary)
    browser.find_element(By.ID, "new_password").send_keys(NEW_PASSWORD)
    browser.find_element(By.ID, "confirm_password").send_keys(NEW_PASSWORD)
    _submit(browser, "#password-form button[type=submit]")
    browser.get(live_server.url + "/incidents")
    assert browser.current_url.endswith("/incidents")


def _issue_token_as_member_admin(app, factory, live_server, browser, sign_in):
    bank = factory.org("First Bank", sector="financial-services")
    factory.user(bank, "member-admin", email="admin@bank.example")
    sign_in(live_server, "admin@bank.example")
    browser.get(live_server.url + "/tokens")
    browser.find_element(By.ID, "name").send_keys("soc-pipeline")
    _submit(browser, "#token-form button[type=submit]")
    return browser.find_element(By.ID, "new-token-secret").text.strip()


def test_member_admin_adds_a_colleague_and_a_token_whose_page_says_how_to_use_it(
        app, factory, live_server, browser, sign_in, screenshot):
    secret = _issue_token_as_member_admin(app, factory, live_server, browser, sign_in)
    curl = browser.find_element(By.ID, "curl-example").text
    assert curl == f'curl -H "Authorization: Bearer {secret}" {live_server.url}/api/v1/incidents'
    assert browser.find_element(By.ID, "taxii-discovery").text == f"{live_server.url}/taxii2/"
    assert browser.find_element(By.ID, "taxii-user").text == "first-bank"
    button = browser.find_element(By.CSS_SELECTOR, "button[data-copy=curl-example]")
    assert button.is_displayed()
    button.click()
    # Copied to the clipboard, or (where the browser refuses the clipboard) selected for the person.
    wait_for(browser, lambda b: button.text == "Copied"
             or b.execute_script("return window.getSelection().toString()").strip() == curl)
    screenshot("1-token-usage")

    # A colleague: created here, they choose their own password at first sign-in.
    browser.find_element(By.LINK_TEXT, "Users").click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "user-form")))
    browser.find_element(By.ID, "email").send_keys("soc@bank.example")
    Select(browser.find_element(By.ID, "role")).select_by_value("analyst")
    browser.find_element(By.ID, "password").send_keys("initial-pass-123")
    _submit(browser, "#user-form button[type=submit]")
    assert "soc@bank.example" in browser.find_element(By.ID, "users").text
    screenshot("2-users")
    _sign_out(browser)
    browser.get(live_server.url + "/login")
    browser.find_element(By.ID, "email").send_keys("soc@bank.example")
    browser.find_element(By.ID, "password").send_keys("initial-pass-123")
    _submit(browser, "form button[type=submit]")
    assert browser.current_url.endswith("/account/password")


@pytest.mark.parametrize("browser", [{"javascript": False}], indirect=True)
def test_without_javascript_the_token_text_selects_whole_with_one_click(
        app, factory, live_server, browser, sign_in):
    secret = _issue_token_as_member_admin(app, factory, live_server, browser, sign_in)
    assert not browser.find_element(By.CSS_SELECTOR, "button[data-copy=new-token-secret]").is_displayed()
    browser.find_element(By.ID, "new-token-secret").click()
    assert browser.execute_script("return window.getSelection().toString()").strip() == secret
