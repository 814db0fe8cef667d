"""What arrives in a mailbox: every kind of alert mail, received by a real SMTP server and read
with the standard library's email parser, has the layout a recipient relies on (the TLP label
first, a summary, the facts, the one action, why they get it), and every link in it opens for
that recipient once signed in."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.mail.delivery import deliver_outbox
from cert_share.mail.outbox import enqueue
from cert_share.models import User
from cert_share.services.mail_keys import register_key
from tests.integration import mail_messages as world_mail
from tests.integration.mail_helpers import SmtpServer
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import login

KINDS = world_mail.KINDS


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    server.handler.reject.add(world_mail.GONE)
    yield server
    server.stop()


@pytest.fixture
def inbox(app, orgs, factory, smtp):
    """Every kind delivered in clear text (no encryption required), by kind."""
    app.config.update(smtp.config(MAIL_REQUIRE_ENCRYPTION_FROM="off", BASE_URL=app.config["BASE_URL"]))
    world = world_mail.build(app, orgs, factory)
    world_mail.deliver_all(app, world["late"])
    return {"world": world, "by_kind": world_mail.received_by_kind(smtp.handler.messages)}


def _one(inbox, kind, to=None):
    found = [r for r in inbox["by_kind"].get(kind, []) if to is None or r.to == to]
    assert found, f"no {kind} mail{' to ' + to if to else ''}: got {sorted(inbox['by_kind'])}"
    return found[0]


def test_every_kind_of_alert_mail_arrives(app, inbox):
    assert set(KINDS) <= set(inbox["by_kind"]), sorted(inbox["by_kind"])


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_the_tlp_label_summary_facts_action_and_footer(app, inbox, kind):
    received = _one(inbox, kind)
    message = received.message
    assert message.is_multipart() and message.get_content_type() == "multipart/alternative"
    text, html = world_mail.parts(message)
    tlp = str(message["X-Cert-Share-TLP"])
    label = f"TLP:{tlp}"
    # FIRST TLP 2.0 for e-mail: the label in the subject, and before the information in the body.
    assert str(message["Subject"]).startswith(f"[{label}] ")
    assert text.startswith(f"{label} - ")
    assert 'class="tlp-banner"' in html and html.index(label) < html.index('class="summary"')
    assert 'class="summary"' in html and '<table class="facts"' in html and "<th scope=\"row\"" in html
    # The one action: a button in the HTML part, the same address in the text part.
    action = [href for href in world_mail.links(message)[1] if f'class="action" href="{href}"' in html]
    assert len(action) == 1 and action[0] in text
    # Why the recipient gets it, and where to change that.
    assert "You get this because" in text and "You get this because" in html
    assert f"{app.config['BASE_URL']}/account/mail" in text


def test_the_facts_read_as_a_person_reads_them(app, inbox):
    text, html = world_mail.parts(_one(inbox, "critical-report", world_mail.ANALYST).message)
    assert "Organization:   TelcoNet (telconet)" in text and "Sector:         Telecommunications" in text
    assert "Classification: Fraud / Phishing" in text
    reminder, _ = world_mail.parts(_one(inbox, "deadline-reminder", world_mail.TELCO_ADMIN).message)
    assert "Incident notification" in reminder and "Organization:" not in reminder  # not told their own name
    assert "a member admin of TelcoNet" in reminder


def test_the_dead_letter_report_names_the_refused_address(app, inbox):
    received = _one(inbox, "dead-letters")
    assert received.to == world_mail.HEAD
    text, html = world_mail.parts(received.message)
    assert world_mail.GONE in text and world_mail.GONE in html and "554" in text


def _client_for(app, factory_people, address):
    """A test client signed in as ``address`` (CERT staff with their second factor)."""
    client = app.test_client()
    user = factory_people[address]
    if user.role.startswith("cert-"):
        response = sign_in(client, address, enrol(app, user))
    else:
        response = login(client, address)
    assert response.status_code == 302, response.status_code
    return client


def test_every_link_in_every_message_opens_for_its_recipient(app, inbox):
    base = app.config["BASE_URL"]
    clients: dict[str, object] = {}
    followed = 0
    for kind, received in sorted(inbox["by_kind"].items()):
        for mail in received:
            if mail.to not in inbox["world"]["people"]:
                continue
            client = clients.get(mail.to) or clients.setdefault(
                mail.to, _client_for(app, inbox["world"]["people"], mail.to))
            text_links, html_links = world_mail.links(mail.message)
            assert text_links and html_links, kind
            assert sorted(set(text_links)) == sorted(set(html_links)), kind  # the two parts agree
            for link in set(text_links):
                assert link.startswith(base + "/"), (kind, link)
                parts = urlsplit(link)
                response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
                assert response.status_code == 200, (kind, mail.to, link, response.status_code)
                if parts.fragment:  # the part of the page the link points at is there
                    assert f'id="{parts.fragment}"' in response.get_data(as_text=True), (kind, link)
                followed += 1
    assert followed >= 2 * len(KINDS)


def test_a_digest_folds_held_back_mail_under_one_footer(app, inbox):
    text, _ = world_mail.parts(_one(inbox, "digest", world_mail.ANALYST).message)
    assert "Overdue: Incident notification for report #" in text  # CERT staff get reminders in the digest
    assert text.count("You get this because") == 1


def test_a_notice_sent_in_place_of_amber_mail_links_to_it(app, orgs, factory, smtp):
    """Without an OpenPGP key, TLP:AMBER+STRICT mail arrives as a notice (MAIL_REQUIRE_ENCRYPTION_FROM
    =amber): in the same layout, and its link opens what it stands for."""
    app.config.update(smtp.config(MAIL_REQUIRE_ENCRYPTION_FROM="amber", BASE_URL=app.config["BASE_URL"]))
    world = world_mail.build(app, orgs, factory)
    world_mail.deliver_all(app, world["late"])
    [notice] = [m for m in smtp.handler.messages
                if str(m["To"]) == world_mail.BANK_ADMIN and str(m["X-Cert-Share-Kind"]) == "asset-warning"]
    text, html = world_mail.parts(notice)
    assert "192.0.2.77" not in text + html and "TLP:AMBER+STRICT" in str(notice["Subject"])
    client = _client_for(app, world["people"], world_mail.BANK_ADMIN)
    text_links, html_links = world_mail.links(notice)
    assert text_links and set(text_links) == set(html_links)
    for link in set(text_links):
        assert client.get(urlsplit(link).path).status_code == 200, link


def _in_the_layout(app, message, label: str) -> str:
    """The checks every message passes, for a message labelled ``label``: the label first in the
    subject and the body, a summary, facts, one action, why the recipient gets it. Returns the
    action's link."""
    text, html = world_mail.parts(message)
    assert str(message["Subject"]).startswith(f"[TLP:{label}] ")
    assert text.startswith(f"TLP:{label} - ")
    assert 'class="tlp-banner"' in html and html.index(f"TLP:{label}") < html.index('class="summary"')
    assert '<table class="facts"' in html
    [action] = [href for href in world_mail.links(message)[1] if f'class="action" href="{href}"' in html]
    assert action in text
    assert "You get this because" in text and "You get this because" in html
    assert f"{app.config['BASE_URL']}/account/mail" in text
    return action


def _follow(app, client, message) -> int:
    """Open every link of ``message`` as ``client``: each answers 200. Returns how many."""
    base = app.config["BASE_URL"]
    text_links, html_links = world_mail.links(message)
    assert text_links and sorted(set(text_links)) == sorted(set(html_links))
    for link in set(text_links):
        assert link.startswith(base + "/"), link
        parts = urlsplit(link)
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert response.status_code == 200, (link, response.status_code)
    return len(set(text_links))


def test_every_kind_sent_as_a_notice_has_the_layout_and_links_that_open(app, orgs, factory, smtp):
    """A recipient without a key gets a notice in place of marked mail (every kind, when the policy
    says TLP:CLEAR and up): labelled TLP:CLEAR (it holds nothing of the content), in the same
    layout, with the footer, and every link opens for that recipient."""
    app.config.update(smtp.config(MAIL_REQUIRE_ENCRYPTION_FROM="clear", BASE_URL=app.config["BASE_URL"]))
    world = world_mail.build(app, orgs, factory)
    world_mail.deliver_all(app, world["late"])
    notices = [m for m in smtp.handler.messages if "is waiting for you" in str(m["Subject"])]
    assert set(KINDS) <= {str(m["X-Cert-Share-Kind"]) for m in notices}
    clients: dict[str, object] = {}
    for message in notices:
        to = str(message["To"])
        _in_the_layout(app, message, "CLEAR")
        text, html = world_mail.parts(message)
        assert "192.0.2.77" not in text + html and "Scanning" not in text + html  # none of the content
        client = clients.get(to) or clients.setdefault(to, _client_for(app, world["people"], to))
        _follow(app, client, message)


def test_the_mail_about_an_expired_key_has_the_layout_and_its_link_opens(app, factory, smtp, pgp_keys):
    app.config.update(smtp.config())
    user = factory.user(factory.org("First Bank"), "member-admin", email="soon@first-bank.example")
    later = utcnow() + timedelta(days=2)  # the key ran out a day ago
    with app.app_context():
        register_key(db.session, db.session.get(User, user.id), pgp_keys["soon"].public, actor=CLI)
        enqueue(db.session, to=user.email, subject="Early warning", text="details", tlp="amber", kind="asset-warning",
                recipient_user_id=user.id, action_url=f"{app.config['BASE_URL']}/warnings", now=later)
        db.session.commit()
        deliver_outbox(db.session, app.config, now=later)
        deliver_outbox(db.session, app.config, now=later + timedelta(minutes=1))
    [mail] = [m for m in smtp.handler.messages if str(m["X-Cert-Share-Kind"]) == "pgp-key"]
    assert _in_the_layout(app, mail, "CLEAR") == f"{app.config['BASE_URL']}/account/key"
    text, _ = world_mail.parts(mail)
    assert pgp_keys["soon"].fingerprint in text and "a member admin of First Bank" in text
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    assert _follow(app, client, mail) >= 2  # the key page and the preferences page
