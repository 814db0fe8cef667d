"""No English left on the main pages for a person who reads Vietnamese: each page is drawn for
every role in both languages, and the common English words of its English text must not remain
in its Vietnamese text (data people typed and what the platform writes into STIX, such as a
warning's generated title, stay as they are and are taken out first). Reads the shipped
Vietnamese catalog (`make i18n`)."""
from __future__ import annotations

import html as html_text
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share.actor import Actor, actor_for_user
from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.models import EarlyWarning, Incident, OutboxMessage, User
from cert_share.services import cooperation, intake, triage
from tests.integration.exercise_rows import make_exercise
from tests.integration.staff_login import enrol, sign_in
from tests.integration.warning_world import ATTACKER_IP, report
from tests.integration.web_login import choose_language, login

# English words a page's own wording uses; none may remain on a Vietnamese page. Words that read
# the same in Vietnamese ("to", "an", "do", "in", "can" are Vietnamese words too) are not here.
COMMON = frozenset("""
the and of for with from by was were this that your our report reports reported warning warnings save due
status phase new open all internal note published draft request requests via version overdue
deadline deadlines none never search sign download add edit delete cancel apply show filter page next
previous back details description title severity classification organization organizations members
sector country countries time date week after before most month months hours minutes days detection
assignee unassigned timeline cooperation exercise audit account password language mail
immediately digest role users tokens kind state received sent pending closed acknowledged answered
""".split())
TEXT_DATA = "Bộ công cụ giả mạo trang đăng nhập"  # what the member typed: no English of its own


def _visible(page: str) -> str:
    """What a person reads: text and the attributes read aloud, without code, scripts or form values."""
    page = re.sub(r"(?is)<(script|style|code|pre|textarea)\b.*?</\1>", " ", page)
    page = re.sub(r'(?is)<select[^>]*name="(?:countr[a-z_]*|timezone)".*?</select>', " ", page)  # names
    said = " ".join(re.findall(r'\b(?:title|placeholder|aria-label|alt)="([^"]*)"', page))
    return html_text.unescape(re.sub(r"(?s)<[^>]+>", " ", page) + " " + said)


def _words(text: str, data: list[str]) -> set[str]:
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    # Machine values (addresses, slugs, ids, times, actors like user:x@y) are not words.
    tokens = [t for t in text.split() if not re.search(r"[\d@/:=_]|\w-\w|\w\.\w", t)]
    return {w.lower() for t in tokens for w in re.findall(r"[A-Za-z]+", t)}


@pytest.fixture
def world(app, factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    bank2 = factory.org("Second Bank", sector="financial-services")
    partner = factory.org("CERT Abroad", sector="government-national", kind="partner", country="FI",
                          contact_email="duty@cert-abroad.example")
    roles = ("analyst", "member-admin", "cert-analyst", "cert-admin")
    users = {role: factory.user(cert if role.startswith("cert") else bank, role) for role in roles}
    secrets = {role: enrol(app, user) for role, user in users.items() if role.startswith("cert")}
    with app.app_context():  # staff's mail about the draft is written in their language
        for user in users.values():
            db.session.get(User, user.id).locale = "vi"
        db.session.commit()
    first = report(app, bank, [("ipv4-addr", ATTACKER_IP)], title=TEXT_DATA, description=TEXT_DATA)
    report(app, bank2, [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict", title=TEXT_DATA, description=TEXT_DATA)
    with app.app_context():
        staff = actor_for_user(db.session.get(User, users["cert-analyst"].id), "127.0.0.1")
        incident = db.session.get(Incident, first)
        intake.add_phase_update(db.session, incident=incident, phase="final-report", summary=TEXT_DATA,
                                details=None, actor=Actor(label=f"test:{bank.slug}", org=incident.organization))
        triage.add_note(db.session, db.session.get(Incident, first), TEXT_DATA, actor=staff)
        warning_id = db.session.execute(select(EarlyWarning.id)).scalar_one()
        lifecycle.publish_reviewed(db.session, warning_id, staff, tlp="green", targets=["all-members"])
        lifecycle.publish_warnings(db.session)
        cooperation.open_requests(db.session, staff, db.session.get(Incident, first), cooperation.RequestInput(
            partners=[partner.slug], kind="assistance", message=TEXT_DATA, due_at=utcnow() + timedelta(days=2),
            tlp="green"))
        db.session.commit()
        warning = db.session.get(EarlyWarning, warning_id)
        # What the platform writes into the warning (STIX, English for every reader) and mail subjects.
        data = [warning.title, warning.description or "", warning.recommended_action or "", TEXT_DATA,
                *db.session.execute(select(OutboxMessage.subject)).scalars()]
    make_exercise(app, [bank], injects=(("acknowledge", True),))
    return users, secrets, {"incident": first, "warning": warning_id}, [d for d in data if d]


def _client(app, user, secret):
    client = app.test_client()
    response = sign_in(client, user.email, secret) if secret else login(client, user.email)
    assert response.status_code == 302
    return client



MEMBER_PAGES = ("/", "/incidents", "/incidents/{incident}", "/warnings", "/warnings/{warning}", "/account/mail",
                "/account/language", "/account/security", "/account/password", "/account/key", "/exercises")
STAFF_PAGES = ("/", "/incidents", "/incidents/{incident}", "/warnings", "/warnings/{warning}", "/metrics",
               "/cooperation", "/operations", "/account/mail", "/exercises")
ADMIN_PAGES = ("/admin/audit", "/admin/organizations", "/admin/users")


def test_a_vietnamese_reader_finds_no_english_words_on_the_main_pages(app, world):
    users, secrets, ids, data = world
    plan = {"analyst": MEMBER_PAGES, "member-admin": ("/organization/users", "/tokens"),
            "cert-analyst": STAFF_PAGES, "cert-admin": ADMIN_PAGES}
    left = {}
    for role, paths in plan.items():
        user = users[role]
        client = _client(app, user, secrets.get(role))
        for template in paths:
            path = template.format(**ids)
            choose_language(app, user.id, None)
            english = client.get(path, headers={"Accept-Language": "en"})
            choose_language(app, user.id, "vi")
            vietnamese = client.get(path, headers={"Accept-Language": "en"})  # the person's choice wins
            assert english.status_code == vietnamese.status_code == 200, (role, path)
            english_words = _words(_visible(english.get_data(as_text=True)), data) & COMMON
            assert english_words, (role, path)  # the English page does use them: the check bites
            remaining = _words(_visible(vietnamese.get_data(as_text=True)), data) & english_words
            if remaining:
                text = _visible(vietnamese.get_data(as_text=True))
                left[f"{role} {path}"] = [m.group(0) for w in sorted(remaining)
                                          for m in [re.search(rf".{{0,60}}\b{w}\b.{{0,30}}", text, re.I | re.S)] if m]
    assert not left, left
