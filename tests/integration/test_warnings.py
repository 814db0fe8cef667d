"""Early warnings: who gets what (TLP routing), source protection, versions, revocation, expiry, mail."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from stix2validator import validate_string

from cert_share.actor import CLI, Actor
from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.models import Collection, EarlyWarning, Incident, Observable, Organization, OutboxMessage, StixObject
from tests.integration.warning_world import ATTACKER_IP, report


def warnings(app):
    with app.app_context():
        rows = db.session.execute(select(EarlyWarning).order_by(EarlyWarning.id)).scalars().all()
        for w in rows:
            db.session.expunge(w)
        return rows


def publish(app, now=None):
    with app.app_context():
        return lifecycle.publish_warnings(db.session, now)


def stored(app, alias, type_=None):
    """Objects in a collection, as parsed JSON."""
    with app.app_context():
        coll = db.session.execute(select(Collection).where(Collection.alias == alias)).scalar_one()
        query = select(StixObject.body).where(StixObject.collection_id == coll.id).order_by(StixObject.pk)
        if type_:
            query = query.where(StixObject.type == type_)
        return [json.loads(b) for b in db.session.execute(query).scalars()]


def cert_actor(app, user=None):
    with app.app_context():
        cert = db.session.execute(select(Organization).where(Organization.kind == "cert")).scalar_one()
        db.session.expunge(cert)
    return Actor(label="test:cert", org=cert, role="cert-admin", user=user)


def test_two_banks_reporting_the_same_green_ip_warn_all_members(app, orgs):
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    assert warnings(app) == []  # one organization is not a correlation
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    [w] = warnings(app)
    assert (w.state, w.tlp, w.targets, w.audience) == ("pending", "green", ["all-members"], "community")
    assert w.reporter_count == 2

    assert publish(app).startswith("publish-warnings: 1 published")
    [rep] = stored(app, "all-members", "report")
    [ind] = stored(app, "all-members", "indicator")
    cert_identity = orgs["cert"].stix_id
    assert rep["created_by_ref"] == ind["created_by_ref"] == cert_identity
    assert rep["object_refs"][0] == ind["id"]
    assert ind["pattern"] == f"[ipv4-addr:value = '{ATTACKER_IP}']"
    assert "early-warning" in rep["labels"] and 'rsit:fraud="phishing"' in rep["labels"]
    assert ind["valid_until"] > ind["valid_from"]
    assert rep["object_marking_refs"] == ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]  # GREEN
    assert "Recommended action: Block the address at the perimeter" in ind["description"]
    assert "Recommended action" in rep["description"]
    # The CERT's indicator is its own object, not one of the members' indicators.
    with app.app_context():
        member_indicators = set(db.session.execute(select(Observable.indicator_id)).scalars())
    assert ind["id"] not in member_indicators
    # Nothing went to the sector or organization collections.
    assert stored(app, "sector-financial-services", "report") == []
    assert stored(app, "org-first-bank", "report") == []


def test_published_warning_is_a_valid_stix_bundle(app, orgs):
    from cert_share.stix.build import bundle

    report(app, orgs["bank"], [("domain-name", "login-firstbank.example.net")])
    report(app, orgs["telco"], [("domain-name", "login-firstbank.example.net")])
    publish(app)
    objects = [o for o in stored(app, "all-members") if o["type"] != "marking-definition"]
    result = validate_string(json.dumps(bundle(objects)))
    assert result.is_valid, [str(e) for e in result.errors]


def test_any_amber_source_sends_the_warning_to_the_reporters_sector_collections(app, orgs):
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)], tlp="amber")
    [w] = warnings(app)
    assert (w.tlp, w.targets) == ("amber", ["sector-financial-services", "sector-telecommunications"])
    publish(app)
    for alias in ("sector-financial-services", "sector-telecommunications"):
        [rep] = stored(app, alias, "report")
        assert rep["object_marking_refs"] == ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]  # AMBER
    assert stored(app, "all-members", "report") == []


def test_an_ip_in_a_members_range_warns_only_that_member_amber_strict(app, orgs):
    report(app, orgs["telco"], [("ipv4-addr", "192.0.2.77")], tlp="green")
    [w] = warnings(app)
    assert (w.audience, w.tlp, w.targets, w.state) == (f"org:{orgs['bank'].id}", "amber+strict",
                                                        ["org-first-bank"], "pending")
    assert "192.0.2.0/24" in w.description
    publish(app)
    [rep] = stored(app, "org-first-bank", "report")
    assert "constituency-match" in rep["labels"]
    assert rep["object_marking_refs"] == ["marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"]  # A+S
    for alias in ("all-members", "sector-financial-services", "sector-telecommunications", "org-telconet",
                  "org-second-bank"):
        assert stored(app, alias, "report") == [], alias


@pytest.mark.parametrize("obs", [("domain-name", "vpn.firstbank.example"), ("domain-name", "firstbank.example"),
                                 ("url", "https://mail.firstbank.example/login"),
                                 ("email-addr", "ceo@firstbank.example")])
def test_a_domain_or_subdomain_of_a_members_domain_is_a_constituency_match(app, orgs, obs):
    report(app, orgs["telco"], [obs])
    [w] = warnings(app)
    assert w.targets == ["org-first-bank"] and w.tlp == "amber+strict"


def test_an_autonomous_system_match_warns_its_owner(app, orgs):
    report(app, orgs["bank"], [("autonomous-system", "AS64500")])
    [w] = warnings(app)
    assert w.targets == ["org-telconet"]


def test_no_match_for_lookalike_domains_or_neighbouring_addresses(app, orgs):
    report(app, orgs["telco"], [("domain-name", "notfirstbank.example"), ("ipv4-addr", "192.0.3.1"),
                                ("ipv4-addr", "192.0.1.255")])
    assert warnings(app) == []


def test_a_member_reporting_its_own_address_gets_no_warning_about_it(app, orgs):
    report(app, orgs["bank"], [("ipv4-addr", "192.0.2.10")])
    assert warnings(app) == []


def test_amber_strict_or_red_source_makes_a_draft_that_is_never_published_automatically(app, orgs):
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict")
    report(app, orgs["telco"], [("ipv4-addr", "192.0.2.5")], tlp="red")  # in First Bank's range
    ws = warnings(app)
    assert [(w.state, w.tlp) for w in ws] == [("draft", "amber+strict"), ("draft", "red")]
    publish(app)
    with app.app_context():
        assert db.session.execute(select(StixObject).where(StixObject.type == "report")).first() is None

    # A CERT analyst reviews: lowers to AMBER for the financial sector and publishes.
    actor = cert_actor(app)
    with app.app_context():
        lifecycle.review_warning(db.session, ws[0].id, actor, tlp="amber", targets=["sector-financial-services"],
                                 title="Phishing infrastructure targeting banks")
        lifecycle.approve_warning(db.session, ws[0].id, actor)
    publish(app)
    [rep] = stored(app, "sector-financial-services", "report")
    assert rep["name"] == "Phishing infrastructure targeting banks"


def test_red_warning_cannot_be_sent_to_a_collection_and_members_cannot_review(app, orgs, factory):
    from cert_share.errors import InputError, PermissionDenied
    from cert_share.models import Incident, User
    from cert_share.services import case_access

    report(app, orgs["telco"], [("ipv4-addr", "192.0.2.5")], tlp="red")
    [w] = warnings(app)
    # A warning raised from a RED report is reviewed by the CERT staff named on that report's case.
    analyst = factory.user(orgs["cert"], "cert-analyst")
    with app.app_context():
        red = db.session.execute(select(Incident).where(Incident.tlp == "red")).scalar_one()
        case_access.name_staff(db.session, red, analyst.id, actor=CLI)
        reviewer = cert_actor(app, user=db.session.get(User, analyst.id))
        with pytest.raises(PermissionDenied):
            lifecycle.approve_warning(db.session, w.id, cert_actor(app))  # a CERT token: named on nothing
        db.session.rollback()
        with pytest.raises(InputError, match="RED"):
            lifecycle.approve_warning(db.session, w.id, reviewer)
        db.session.rollback()
        with pytest.raises(PermissionDenied):
            lifecycle.discard_warning(db.session, w.id, Actor(label="m", org=orgs["bank"], role="member-admin"))
        db.session.rollback()
        lifecycle.discard_warning(db.session, w.id, reviewer)
    assert warnings(app)[0].state == "discarded"


def test_no_reporter_identity_or_free_text_appears_in_anything_published(app, orgs):
    secret_title = "Compromise of treasury workstation TX-0042"
    secret_text = "Jane Doe from treasury clicked the link; personal data of 12 clients exposed"
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP), ("ipv4-addr", "192.0.2.9")],
           title=secret_title, description=secret_text)
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], title="Second Bank internal case 77",
           description="Seen at Second Bank branch Riga")
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)], tlp="amber")
    publish(app)
    with app.app_context():
        cert = db.session.get(Organization, orgs["cert"].id)
        published = db.session.execute(
            select(StixObject.body).join(Collection, Collection.id == StixObject.collection_id)
            .where(Collection.kind != "intake")).scalars().all()
        texts = [w.title + w.description + w.recommended_action
                 for w in db.session.execute(select(EarlyWarning)).scalars()]
        mails = [m.subject + m.text for m in db.session.execute(select(OutboxMessage)).scalars()
                 if not m.to.endswith("national-cert.example")]
    assert published, "something must have been published for this test to mean anything"
    blob = "\n".join(published + texts + mails).lower()
    forbidden = [secret_title, secret_text, "Second Bank internal case 77", "Seen at Second Bank branch Riga"]
    for org in (orgs["bank"], orgs["bank2"], orgs["telco"]):
        forbidden += [org.name, org.slug, org.stix_id]
    with app.app_context():
        forbidden += list(db.session.execute(select(Incident.stix_id)).scalars())
    for needle in forbidden:
        assert needle.lower() not in blob, needle
    assert '"sighting"' not in blob and "where_sighted_refs" not in blob
    assert cert.stix_id in blob


def test_later_sightings_make_a_new_version_of_the_same_warning_and_reruns_add_nothing(app, orgs):
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    publish(app)
    first = stored(app, "all-members")
    assert publish(app).startswith("publish-warnings: 0 published")
    assert stored(app, "all-members") == first  # publishing again stores nothing new

    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)])
    [w] = warnings(app)  # still one warning
    assert w.reporter_count == 3 and w.state == "pending"
    publish(app)
    reports = stored(app, "all-members", "report")
    assert len(reports) == 2 and reports[0]["id"] == reports[1]["id"]
    assert reports[1]["modified"] > reports[0]["modified"]
    assert reports[1]["confidence"] > reports[0]["confidence"]


def test_reports_outside_the_correlation_window_do_not_correlate(app, orgs):
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    with app.app_context():
        old = utcnow() - timedelta(days=15)
        db.session.execute(update(Observable).values(created_at=old))
        db.session.commit()
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    assert warnings(app) == []


def test_false_positive_source_revokes_the_published_warning(app, orgs):
    first = report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    publish(app)
    with app.app_context():
        incident = db.session.get(Incident, first)
        incident.status = "false-positive"
        lifecycle.revoke_for_incident(db.session, incident, cert_actor(app))
        db.session.commit()
    [w] = warnings(app)
    assert w.state == "revoked" and w.publish_due
    assert "1 revoked" in publish(app)
    reports = stored(app, "all-members", "report")
    assert reports[-1]["revoked"] is True and reports[-1]["id"] == reports[0]["id"]
    assert stored(app, "all-members", "indicator")[-1]["revoked"] is True
    # A new sighting does not bring a revoked warning back.
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)])
    assert warnings(app)[0].state == "revoked"


def test_withdrawn_source_with_enough_others_keeps_the_warning(app, orgs):
    first = report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)], tlp="amber")
    with app.app_context():
        lifecycle.revoke_for_incident(db.session, db.session.get(Incident, first), cert_actor(app))
        db.session.commit()
    [w] = warnings(app)
    assert w.state == "pending" and w.reporter_count == 2


def test_reopening_a_false_positive_counts_the_report_again(app, orgs):
    from cert_share.models import AuditEntry, WarningSource
    from cert_share.services import triage

    first = report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)])
    with app.app_context():
        incident = db.session.get(Incident, first)
        triage.set_status(db.session, incident, "false-positive", actor=cert_actor(app))
        db.session.commit()
    [w] = warnings(app)
    assert w.reporter_count == 2 and w.state != "revoked"
    modified = w.modified
    with app.app_context():
        triage.set_status(db.session, db.session.get(Incident, first), "acknowledged", actor=cert_actor(app))
        db.session.commit()
        source = db.session.execute(select(WarningSource).where(WarningSource.incident_id == first)).scalar_one()
        assert source.withdrawn is False
        assert db.session.query(AuditEntry).filter_by(action="warning.restore-source").count() == 1
    [w] = warnings(app)
    assert w.reporter_count == 3 and w.modified > modified  # a new version that counts it again


def test_reopening_does_not_unrevoke_a_revoked_warning(app, orgs):
    from cert_share.services import triage

    first = report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    publish(app)
    with app.app_context():
        triage.set_status(db.session, db.session.get(Incident, first), "false-positive", actor=cert_actor(app))
        db.session.commit()
        triage.set_status(db.session, db.session.get(Incident, first), "acknowledged", actor=cert_actor(app))
        db.session.commit()
    assert warnings(app)[0].state == "revoked"  # STIX revocation is final


def test_warnings_expire_and_a_new_sighting_revives_them(app, orgs):
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    publish(app)
    later = utcnow() + timedelta(days=31)
    assert "1 expired" in publish(app, later)
    assert warnings(app)[0].state == "expired"
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)])
    w = warnings(app)[0]
    assert w.state == "pending" and w.valid_until > utcnow() + timedelta(days=29)


def test_mail_cert_staff_about_drafts_and_critical_reports_and_owners_about_their_assets(app, orgs, factory):
    staff = factory.user(orgs["cert"], "cert-analyst", email="duty@national-cert.example")
    factory.user(orgs["bank"], "member-admin", email="admin@first-bank.example")
    factory.user(orgs["bank"], "analyst", email="analyst@first-bank.example")
    factory.user(orgs["telco"], "member-admin", email="admin@telconet.example")
    report(app, orgs["telco"], [("ipv4-addr", "192.0.2.77")], tlp="green", severity="critical")
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict")
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    publish(app)
    with app.app_context():
        mails = [(m.to, m.subject)
                 for m in db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()]
        draft = db.session.execute(select(EarlyWarning).where(EarlyWarning.state == "draft")).scalar_one()
        draft_mail = db.session.execute(select(OutboxMessage).where(OutboxMessage.to == staff.email,
                                                                    OutboxMessage.subject.contains("Draft"))).scalar_one()
        assert f"/warnings/{draft.id}" in draft_mail.text
    to_staff = [s for to, s in mails if to == staff.email]
    assert any(s.startswith("[TLP:GREEN] Critical report from TelcoNet") for s in to_staff)
    assert any(s.startswith("[TLP:AMBER+STRICT] Draft early warning to review") for s in to_staff)
    to_bank_admin = [s for to, s in mails if to == "admin@first-bank.example"]
    assert len(to_bank_admin) == 1 and to_bank_admin[0].startswith("[TLP:AMBER+STRICT] Early warning about your assets")
    assert not [to for to, _ in mails if to in {"analyst@first-bank.example", "admin@telconet.example"}]
