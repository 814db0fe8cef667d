"""MISP events carrying fraud identifiers (IBANs, BIC + account numbers, phone numbers, Bitcoin
and Monero wallets, card numbers), through `cert-share import` and a partner's MISP feed: the
right observables are stored, what is left out is said with its reason, and a full card number
is nowhere: not in the database, not in the command's output, not in the logs."""
from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from cert_share.extensions import db
from cert_share.models import AuditEntry, Incident
from cert_share.services.feeds import pull_feeds

XMR = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
CARD = "5555555555554444"  # a Luhn-valid (test) card number
CARD_SPELLINGS = (CARD, "5555 5555 5555 4444", "5555-5555-5555-4444", "55555555")
EVENT_UUID = "6a1f0c5e-2b7d-4c1e-9f3a-8d2e4b6c7a90"

EXPECTED = {
    ("bank-account", "DE89370400440532013000"), ("bank-account", "BFTVVNVX/0071000123456"),
    ("bank-account", "FR1420041010050500013M02606"), ("phone-number", "+84912345678"),
    ("phone-number", "+84987654321"), ("cryptocurrency-wallet", BTC), ("cryptocurrency-wallet", XMR),
    ("payment-card", "555555******4444"),
}


def attribute(type_, value, relation=None, category="Financial fraud"):
    attr = {"type": type_, "category": category, "value": value, "to_ids": False, "deleted": False,
            "timestamp": "1767225600", "comment": ""}
    if relation:
        attr["object_relation"] = relation
    return attr


def fraud_event() -> dict:
    """A MISP export (REST shape) as a bank's MISP would write one after a mule-account case."""
    return {"response": [{"Event": {
        "uuid": EVENT_UUID, "info": f"Mule accounts and smishing numbers, card {CARD} used",
        "date": "2026-11-20", "threat_level_id": "2", "timestamp": "1767225600", "published": True,
        "Orgc": {"name": "First Bank CSIRT"},
        "Tag": [{"name": "tlp:amber"}, {"name": 'rsit:fraud="phishing"'}],
        "Attribute": [
            attribute("iban", "DE89 3704 0044 0532 0130 00"),
            attribute("iban", "DE89 3704 0044 0532 0130 01"),  # wrong checksum
            attribute("bic", "BFTVVNVX"),  # alone: not an account
            attribute("bank-account-nr", "0071000999"),  # no BIC beside it
            attribute("phone-number", "+84 912 345 678", category="Person"),
            attribute("btc", BTC),
            attribute("xmr", XMR),
            attribute("xmr", BTC),  # not a Monero address
            attribute("cc-number", "5555 5555 5555 4444"),
            attribute("cc-number", "5555555555554445"),  # check digit wrong: refused, not quoted
            attribute("text", f"Victim card {CARD} blocked", category="Other"),
        ],
        "Object": [
            {"name": "bank-account", "meta-category": "financial", "uuid": "0b5c0a4e-6f0e-4b8e-8a53-5d0c3f1e2a11",
             "Attribute": [attribute("bic", "BFTVVNVX", "swift"),
                           attribute("bank-account-nr", "0071000123456", "account"),
                           attribute("text", "Mule", "account-name")]},
            {"name": "bank-account", "meta-category": "financial", "uuid": "1c6d1b5f-7a1f-4c9f-9b64-6e1d4a2f3b22",
             "Attribute": [attribute("iban", "FR14 2004 1010 0505 0001 3M02 606", "iban"),
                           attribute("bic", "PSSTFRPPLIL", "swift"),
                           attribute("bank-account-nr", "0500013M026", "account")]},
            {"name": "phone", "meta-category": "misc", "uuid": "2d7e2c6a-8b2a-4daa-8c75-7f2e5b3a4c33",
             "Attribute": [attribute("text", "84987654321", "msisdn"), attribute("text", "452040000000001", "imsi")]},
            {"name": "credit-card", "meta-category": "financial", "uuid": "3e8f3d7b-9c3b-4ebb-9d86-8a3f6c4b5d44",
             "Attribute": [attribute("cc-number", CARD, "card-number")]},
        ],
    }}]}


def stored_text(app) -> list[str]:
    """Every value of every row of every table, as text."""
    with app.app_context():
        texts = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                texts.extend(str(value) for value in row if value is not None)
        return texts


def assert_no_full_card(*texts: str) -> None:
    for text in texts:
        for spelling in CARD_SPELLINGS:
            assert spelling not in text, f"a full card number ({spelling}) in {text[:200]!r}"


@pytest.fixture
def bank(factory):
    return factory.org("First Bank", sector="financial-services")


def test_cli_import_stores_the_fraud_identifiers_and_never_the_full_card_number(
        app, runner, bank, tmp_path, caplog):
    path = tmp_path / "mule-accounts.misp.json"
    path.write_text(json.dumps(fraud_event()))
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(args=["import", str(path), "--org", bank.slug])
    assert result.exit_code == 0, result.output
    with app.app_context():
        incident = db.session.execute(select(Incident)).scalar_one()
        assert {(o.type, o.value) for o in incident.observables} == EXPECTED
        assert (incident.tlp, incident.classification) == ("amber", "fraud/phishing")
        assert incident.title == "Mule accounts and smishing numbers, card 555555******4444 used"
        assert "Victim card 555555******4444 blocked" in incident.description
        audit = db.session.execute(select(AuditEntry).where(AuditEntry.action == "incident.report")).scalar_one()
        assert audit.details["observables"] == len(EXPECTED)
    out = result.output
    assert f"{len(EXPECTED)} observable(s)" in out
    for reason in ("1 bic (no account in the same object)", "1 bank-account-nr (no BIC in the same object)",
                   "1 bank-account-nr (the IBAN of its object names the account)"):
        assert reason in out
    assert "3 invalid value(s) skipped" in out
    assert "iban 'DE89 3704 0044 0532 0130 01'" in out and "is not a Monero address" in out
    assert "cc-number (value not shown): is not a card number (its check digit is wrong)" in out
    stored = stored_text(app)
    assert_no_full_card(out, *stored, *(r.getMessage() for r in caplog.records))
    assert not any("5555555555554445" in text for text in (out, *stored))  # the refused one either


def test_importing_the_event_again_stores_nothing_more(app, runner, bank, tmp_path):
    path = tmp_path / "mule-accounts.misp.json"
    path.write_text(json.dumps(fraud_event()))
    assert runner.invoke(args=["import", str(path), "--org", bank.slug]).exit_code == 0
    before = stored_text(app)
    again = runner.invoke(args=["import", str(path), "--org", bank.slug])
    assert again.exit_code == 0 and "Already imported" in again.output
    assert len(stored_text(app)) == len(before)


def test_a_partner_misp_feed_carries_the_fraud_identifiers_without_the_card_number(app, factory, tmp_path, caplog):
    factory.cert()
    partner = factory.org("Partner CERT", sector="government-national", kind="partner")
    directory = tmp_path / "misp-feed"
    directory.mkdir()
    event = fraud_event()["response"][0]
    (directory / f"{EVENT_UUID}.json").write_text(json.dumps(event))
    (directory / "manifest.json").write_text(json.dumps({EVENT_UUID: {"info": "x", "timestamp": "1767225600"}}))
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "misp.toml").write_text(f'name = "partner-misp"\nkind = "misp"\nurl = "file://{directory}"\n'
                                     f'source_org = "{partner.slug}"\ndefault_tlp = "green"\n')
    app.config["FEEDS_DIR"] = str(feeds)
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        report = pull_feeds(db.session, app.config, force=True)
    assert report.outcomes[0].status == "ok" and report.outcomes[0].reports == 1, report.summary()
    with app.app_context():
        incident = db.session.execute(select(Incident).where(Incident.source == "feed")).scalar_one()
        assert {(o.type, o.value) for o in incident.observables} == EXPECTED
        assert incident.tlp == "amber"  # the event's own tag, not the feed's default
    assert_no_full_card(report.summary(), *stored_text(app), *(r.getMessage() for r in caplog.records))
