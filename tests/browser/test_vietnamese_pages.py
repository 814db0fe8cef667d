"""In a real browser, in Vietnamese: a bank's SOC analyst who chose Vietnamese on the account page
reads the home page, reports an incident (the form's errors in Vietnamese), reads the report and
the warnings; CERT staff who chose Vietnamese read a case and the metrics. The browser itself asks
for English (--lang=en-US): the person's own choice wins. Screenshots: tests/artifacts/.

The expected words are the catalog's (gettext under force_locale), so the test follows the
translators' wording; tests/unit/test_i18n_catalogs.py keeps the catalog complete, and the
asserts below check that what the browser shows is that Vietnamese and not the English source."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale, gettext
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Incident, User
from tests.browser.conftest import leave_page, type_datetime_local, wait_for
from tests.browser.test_layout import _NAV_ITEMS, PHONE, _viewport
from tests.integration.staff_login import enrol
from tests.integration.warning_world import ATTACKER_IP, report

pytestmark = pytest.mark.browser


def _choose_vietnamese(app, *users) -> None:
    with app.app_context():
        for user in users:
            db.session.get(User, user.id).locale = "vi"
        db.session.commit()


def _vi(app, message: str, **variables) -> str:
    with app.test_request_context("/"), force_locale("vi"):
        text = gettext(message, **variables)
    assert text != message % variables if variables else text != message, f"{message!r} is not translated"
    return text


def _text(browser) -> str:
    return browser.find_element(By.ID, "main").text


def test_analyst_reads_and_reports_in_vietnamese(app, factory, live_server, browser, sign_in, screenshot):
    factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    analyst = factory.user(bank, "analyst", email="soc@firstbank.example")
    _choose_vietnamese(app, analyst)
    sign_in(live_server, analyst.email)

    page = _text(browser)
    assert _vi(app, "Reporting deadlines") in page and "Reporting deadlines" not in page
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    screenshot("1-home-vi")

    browser.find_element(By.LINK_TEXT, _vi(app, "Report an incident")).click()
    wait_for(browser, EC.presence_of_element_located((By.ID, "title")))
    browser.find_element(By.ID, "title").send_keys("Lừa đảo qua SMS giả danh ngân hàng")
    Select(browser.find_element(By.ID, "classification")).select_by_value("fraud/phishing")
    Select(browser.find_element(By.ID, "severity")).select_by_value("high")
    Select(browser.find_element(By.ID, "timezone")).select_by_value("Asia/Ho_Chi_Minh")
    hanoi_now = utcnow().astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).replace(second=0, microsecond=0, tzinfo=None)
    type_datetime_local(browser.find_element(By.ID, "detected_at"), hanoi_now - timedelta(hours=1))
    browser.find_element(By.ID, "observables").send_keys("203.0.113.7\n999.1.1.1")
    leave_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, ".report-form button[type=submit]").click())
    errors = wait_for(browser, EC.presence_of_element_located((By.ID, "observables-errors"))).text
    assert "999.1.1.1" in errors and "not a valid IPv4 address" not in errors, errors
    screenshot("2-report-form-errors-vi")
    with app.app_context():
        assert db.session.query(Incident).count() == 0

    observables = browser.find_element(By.ID, "observables")
    observables.clear()
    observables.send_keys("203.0.113.7")
    leave_page(browser, lambda: browser.find_element(By.CSS_SELECTOR, ".report-form button[type=submit]").click())
    wait_for(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "#observables")))
    page = _text(browser)
    assert "Lừa đảo qua SMS giả danh ngân hàng" in page
    assert "TLP:" in page  # TLP labels are FIRST's, in every language
    with app.app_context():
        incident = db.session.query(Incident).one()
        # Machine values never change with the language of the form.
        assert (incident.classification, incident.severity, incident.source) == ("fraud/phishing", "high", "web")
    screenshot("3-report-vi")

    browser.get(live_server.url + "/warnings")
    wait_for(browser, EC.presence_of_element_located((By.ID, "main")))
    assert browser.find_element(By.TAG_NAME, "h1").text == _vi(app, "Early warnings")
    screenshot("4-warnings-vi")


def test_staff_read_a_case_and_the_metrics_in_vietnamese(app, factory, live_server, browser, sign_in, screenshot):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    grid = factory.org("Grid Energy", sector="energy")
    staff = factory.user(cert, "cert-analyst", email="duty@cert.example")
    _choose_vietnamese(app, staff)
    secret = enrol(app, staff)
    case = report(app, bank, [("ipv4-addr", ATTACKER_IP)], tlp="amber", title="Mule accounts phishing")
    report(app, grid, [("ipv4-addr", ATTACKER_IP)], tlp="green", title="Phishing kit seen at the grid")
    browser.set_window_size(1440, 1100)
    sign_in(live_server, staff.email, totp_secret=secret)

    browser.get(f"{live_server.url}/incidents/{case}")
    wait_for(browser, EC.presence_of_element_located((By.ID, "triage-form")))
    page = _text(browser)
    assert "Mule accounts phishing" in page
    assert _vi(app, "Triage") in page and "Triage" not in page.replace(_vi(app, "Triage"), "")
    screenshot("1-case-vi")

    browser.get(live_server.url + "/metrics")
    wait_for(browser, EC.presence_of_element_located((By.ID, "chart-sectors")))
    assert browser.find_element(By.TAG_NAME, "h1").text == _vi(app, "Metrics")
    with app.app_context():
        total = db.session.execute(select(db.func.count(Incident.id))).scalar_one()
    assert browser.find_element(By.ID, "m-total").text == str(total)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    screenshot("2-metrics-vi")


# The header at widths where English fits on one row: the Vietnamese labels are longer.
_HEADER_FITS = """
const out = [];
for (const el of document.querySelectorAll('.topbar a, .topbar button, .topbar input[name=q]')) {
  const box = el.getBoundingClientRect();
  if (box.width === 0) continue;  // folded behind "Menu"
  if (box.right > window.innerWidth + 1 || box.left < -1) out.push(el.textContent.trim() || el.name || el.tagName);
}
return out;
"""


def test_the_header_fits_every_width_in_vietnamese(app, factory, live_server, browser, sign_in, screenshot):
    cert = factory.cert()
    staff = factory.user(cert, "cert-admin", email="admin@cert.example")
    _choose_vietnamese(app, staff)
    sign_in(live_server, staff.email, totp_secret=enrol(app, staff))
    for width in (PHONE[0], 1200, 1366, 1475, 1600, 1920):
        _viewport(browser, width, 900)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width, width
        assert browser.execute_script(_HEADER_FITS) == [], width
        if width >= 1200:  # unfolded: every navigation item on one line and not covered
            assert all(lines == 1 and seen for _, lines, seen in browser.execute_script(_NAV_ITEMS)), width
    _viewport(browser, 1475, 900)
    screenshot("header-1475-vi", as_laid_out=True)
