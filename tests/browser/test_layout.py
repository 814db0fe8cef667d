"""Does every page work on a phone and on a wide screen, whoever signs in?

At 390×844 no page of any role scrolls sideways (a wide table scrolls inside its own box, the
navigation folds behind "Menu"); at 1440×900 every navigation item stays on one line. The pages
are read from the app's URL map, so a page added later is checked too: the web blueprint's GET
routes, the ones with parameters filled with the ids of the demo data made here. Screenshots of
every page at both widths go to tests/artifacts/<page>-<role>-<width>.png.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import url_for
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import select

from cert_share.actor import Actor, actor_for_user
from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.models import ApiToken, CooperationRequest, EarlyWarning, Incident, Organization, User
from cert_share.services import cooperation, intake, triage
from cert_share.stix import cooperation as stix_coop
from tests.integration.exercise_rows import make_exercise
from tests.integration.staff_login import enrol
from tests.integration.warning_world import ATTACKER_IP, report

pytestmark = pytest.mark.browser
PHONE, WIDE = (390, 844), (1440, 900)
ROLES = ("analyst", "member-admin", "cert-analyst", "cert-admin")
# A URL as long as the ones phishing reports carry: nothing may make the page wider than a phone.
LONG_URL = "https://login.firstbank-secure-verification.example/" + "a1b2c3d4e5f6" * 12 + "/index.php?session=x"
NOT_A_PAGE = "/this-page-does-not-exist"  # the error page, which every role can reach


def _world(app, factory) -> tuple[dict, dict]:
    """Users of every role (staff with a second factor) and one of each thing a page shows:
    reports, a case with a note, a published warning and a draft, a token. Returns (the e-mail and
    TOTP secret of each role, the value of each URL parameter)."""
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    grid = factory.org("Grid Energy", sector="energy")
    partner = factory.org("CERT Abroad", sector="government-national", kind="partner", country="FI",
                          contact_email="duty@cert-abroad.example")
    users = {role: factory.user(cert if role.startswith("cert") else bank, role) for role in ROLES}
    secrets = {role: enrol(app, user) if role.startswith("cert") else None for role, user in users.items()}
    factory.token(bank, "soc-pipeline")
    first = report(app, bank, [("ipv4-addr", ATTACKER_IP), ("url", LONG_URL)], title="Phishing kit hosted on "
                   "a look-alike of our login page, credentials posted to " + ATTACKER_IP)
    report(app, grid, [("ipv4-addr", ATTACKER_IP), ("domain-name", "login-firstbank.example")],
           tlp="amber+strict", severity="critical")  # a draft for staff to review
    report(app, bank, [("domain-name", "login-firstbank.example")], tlp="amber+strict")
    with app.app_context():
        staff = actor_for_user(db.session.get(User, users["cert-analyst"].id), "127.0.0.1")
        incident = db.session.get(Incident, first)
        intake.add_phase_update(db.session, incident=incident, phase="final-report", summary="Kit taken down.",
                                details=None, actor=Actor(label=f"test:{bank.slug}", org=incident.organization))
        triage.add_note(db.session, db.session.get(Incident, first), "Called the bank's SOC.", actor=staff)
        drafts = db.session.execute(select(EarlyWarning.id).where(EarlyWarning.state == "draft")
                                    .order_by(EarlyWarning.id)).scalars().all()
        assert len(drafts) >= 2, drafts  # one to publish, one left for review
        lifecycle.publish_reviewed(db.session, drafts[0], staff, tlp="green", targets=["all-members"])
        lifecycle.publish_warnings(db.session)
        token_id = db.session.execute(select(ApiToken.id).where(ApiToken.org_id == bank.id)).scalar_one()
        request_id = _cooperation(partner, incident, staff)
    # A drill First Bank takes part in, its first inject sent (its scenario's second one not yet).
    exercise_id = make_exercise(app, [bank], injects=(("acknowledge", True), ("report", False)))
    ids = {"incident_id": first, "warning_id": drafts[0], "slug": bank.slug, "user_id": users["analyst"].id,
           "token_id": token_id, "org_id": bank.id, "request_id": request_id, "exercise_id": exercise_id,
           "number": 1}
    return {role: (user.email, secrets[role]) for role, user in users.items()}, ids


def _cooperation(partner, incident, staff) -> int:
    """A request to a partner CERT about the case (its message a long URL), and one from the
    partner, waiting for an answer; the id of the one from the partner."""
    org = db.session.get(Organization, partner.id)
    org.taxii_url = "https://taxii.cert-abroad.example/api/collections/intake/"
    # A key as /admin/partners shows it: a 40-character fingerprint in a table cell on a phone.
    org.pgp_key, org.pgp_fingerprint = "-----BEGIN PGP PUBLIC KEY BLOCK-----", "A0CEAAC1B" * 4 + "A0CE"
    org.pgp_expires_at = utcnow() + timedelta(days=365)
    cooperation.open_requests(db.session, staff, incident, cooperation.RequestInput(
        partners=[partner.slug], kind="assistance", message="Please take down " + LONG_URL,
        due_at=utcnow() + timedelta(days=2), tlp=incident.tlp))
    note = stix_coop.request_note(
        note_id=stix_coop.new_note_id(), incident_stix_id=incident.stix_id, author_ref=org.stix_id,
        kind="preservation", message="Please preserve the logs of " + LONG_URL, due_at=utcnow() + timedelta(days=1),
        tlp="green", requesting_country="FI", title="Botnet C2", created=utcnow())
    cooperation.receive(db.session, org, [note], Actor(label=f"taxii:{org.slug}", org=org))
    db.session.commit()
    return db.session.execute(select(CooperationRequest.id).where(CooperationRequest.stix_id == note["id"])
                              ).scalar_one()


def _pages(app, ids: dict) -> list[tuple[str, str]]:
    """(name, path) of every page the web blueprint answers a GET with, from the URL map."""
    pages = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if not rule.endpoint.startswith("web.") or "GET" not in rule.methods or rule.endpoint == "web.static":
                continue
            missing = set(rule.arguments) - set(ids)
            assert not missing, f"{rule.rule}: the layout test has no demo value for {missing}; add one to _world"
            name = rule.endpoint.removeprefix("web.").replace("_", "-")
            pages.append((name, url_for(rule.endpoint, **{a: ids[a] for a in rule.arguments})))
    return pages + [("not-found", NOT_A_PAGE)]


# What a GET of the page answers, without following a redirect (a page reached only by redirect,
# a download or a page this role may not see is not this role's page).
_PROBE = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {redirect: "manual", credentials: "same-origin"})
  .then(r => done([r.status, r.headers.get("content-type") || ""]), e => done([0, String(e)]));
"""

# The elements that stick out past the right edge, outermost first, as CSS paths.
_OVERFLOWING = """
const limit = document.documentElement.clientWidth + 0.5;
const path = el => {
  const parts = [];
  for (let e = el; e && e !== document.body && parts.length < 5; e = e.parentElement) {
    parts.unshift(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                  + (e.classList.length ? "." + [...e.classList].join(".") : ""));
  }
  return parts.join(" > ") + " (right edge " + Math.round(el.getBoundingClientRect().right) + "px)";
};
const sticksOut = e => e.getClientRects().length && e.getBoundingClientRect().right > limit;
// Inside a box that scrolls or clips, sticking out is the box's business, not the page's.
const clipped = e => {
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== "visible") return true;
  }
  return false;
};
const out = [...document.body.querySelectorAll("*")].filter(
  e => sticksOut(e) && !clipped(e) && !(e.parentElement && sticksOut(e.parentElement)));
return out.slice(0, 5).map(path);
"""

# Each navigation item: its text, its number of text lines (distinct tops of its text's boxes) and
# whether a person sees it (its middle is on screen and nothing covers it).
_NAV_ITEMS = """
return [...document.querySelectorAll(".mainnav a")].map(a => {
  const range = document.createRange();
  range.selectNodeContents(a);
  const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  const box = a.getBoundingClientRect();
  const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return [a.textContent.trim(), tops.size, Boolean(top && a.contains(top))];
});
"""


def _viewport(browser, width: int, height: int) -> None:
    # The DevTools protocol, not the window: a desktop window has a minimum width wider than a phone.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def _check_page(browser, screenshot, name: str, role: str, problems: list[str]) -> None:
    """The page now loaded: fits a phone, and has one-line navigation items on a wide screen."""
    _viewport(browser, *PHONE)
    inner = browser.execute_script("return window.innerWidth")
    assert inner == PHONE[0], f"the viewport is {inner}px wide, not {PHONE[0]}px"
    scroll = browser.execute_script("return document.documentElement.scrollWidth")
    if scroll > inner:
        culprits = "; ".join(browser.execute_script(_OVERFLOWING)) or "no single element"
        problems.append(f"{name} as {role} at {PHONE[0]}px scrolls sideways ({scroll}px wide): {culprits}")
    header = browser.execute_script("const h = document.querySelector('header'); return h ? h.offsetHeight : 0")
    if header > 80:
        problems.append(f"{name} as {role} at {PHONE[0]}px: the folded header is {header}px tall")
    screenshot(f"{name}-{role}-{PHONE[0]}", as_laid_out=True)
    _viewport(browser, *WIDE)
    for text, lines, seen in browser.execute_script(_NAV_ITEMS):
        if lines != 1 or not seen:
            problems.append(f"{name} as {role} at {WIDE[0]}px: the navigation item {text!r} "
                            + (f"takes {lines} lines" if seen else "is hidden or covered"))
    screenshot(f"{name}-{role}-{WIDE[0]}", as_laid_out=True)


def _check_role(browser, screenshot, server, pages, role: str, problems: list[str]) -> int:
    """Every page this role is shown; returns how many."""
    browser.set_script_timeout(30)
    shown = 0
    for name, path in pages:
        status, kind = browser.execute_async_script(_PROBE, server.url + path)
        if not kind.startswith("text/html") or (status != 200 and path != NOT_A_PAGE):
            continue
        browser.get(server.url + path)
        _check_page(browser, screenshot, name, role, problems)
        shown += 1
    return shown


def test_every_page_fits_a_phone_and_keeps_its_navigation_on_one_line_when_wide(
        app, factory, live_server, browser, screenshot, sign_in):
    accounts, ids = _world(app, factory)
    pages = _pages(app, ids)
    problems: list[str] = []
    browser.get(live_server.url + "/login")
    _check_page(browser, screenshot, "login", "signed-out", problems)
    shown = {}
    for role in ROLES:
        browser.delete_all_cookies()
        _viewport(browser, *WIDE)
        email, secret = accounts[role]
        sign_in(live_server, email, totp_secret=secret)
        assert browser.find_element(By.CSS_SELECTOR, ".mainnav").is_displayed()
        shown[role] = _check_role(browser, screenshot, live_server, pages, role, problems)
    # Each role saw its own pages (a broken sign-in would make this test pass on nothing).
    assert shown["analyst"] >= 5 and shown["cert-admin"] > shown["analyst"], shown
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("browser", [{"javascript": False}], indirect=True)
def test_the_folded_menu_opens_without_javascript(app, factory, live_server, browser, sign_in, screenshot):
    """On a phone the navigation hides behind "Menu"; a tap shows it, with scripts off."""
    accounts, _ = _world(app, factory)
    _viewport(browser, *PHONE)
    email, _ = accounts["analyst"]
    sign_in(live_server, email)
    reports = browser.find_element(By.CSS_SELECTOR, ".mainnav a[href='/incidents']")
    assert not reports.is_displayed()
    assert browser.execute_script("return document.querySelector('header').offsetHeight") <= 80
    menu = browser.find_element(By.CSS_SELECTOR, "label.navtoggle-label")
    menu.click()
    assert reports.is_displayed()
    screenshot(f"menu-open-analyst-{PHONE[0]}", as_laid_out=True)
    menu.click()
    assert not reports.is_displayed()
    # From the keyboard: the menu's checkbox takes the focus and Space opens it.
    browser.execute_script("document.getElementById('navtoggle').focus()")
    ActionChains(browser).send_keys(Keys.SPACE).perform()
    assert reports.is_displayed()
    reports.click()
    assert browser.current_url.endswith("/incidents")
