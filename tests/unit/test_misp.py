"""MISP events → reports, on the real events in ../shared/data/misp/ (counts checked by hand)."""
from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import datetime, timezone

import pytest

from cert_share.stix import misp
from cert_share.stix.drafts import ImportFormatError
from tests.misp_samples import DATA, EXPECTED


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text("utf-8"))


def event(name: str) -> dict:
    return load(name)["response"][0]["Event"]


def draft_of(ev: dict):
    return misp.event_to_draft(ev)


def types(draft) -> Counter:
    return Counter(o.type for o in draft.observables)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_events_give_the_observables_counted_by_hand(name):
    expected_types, expected_skipped, severity = EXPECTED[name]
    draft = draft_of(event(name))
    assert dict(types(draft)) == expected_types
    assert dict(draft.skipped) == expected_skipped
    assert draft.invalid == []
    assert draft.severity == severity
    ev = event(name)
    assert draft.title == ev["info"]
    assert draft.external_id == f"misp:{ev['uuid']}"
    # None of the real events carries a tlp: tag: fail closed.
    assert draft.tlp == "amber+strict"
    assert draft.classification == "other/undetermined"


def test_detected_at_is_the_event_date():
    draft = draft_of(event("mozi.misp-event.json"))
    assert draft.detected_at == datetime(2023, 11, 1, tzinfo=timezone.utc)


def test_description_names_the_source_and_keeps_detections_and_references():
    draft = draft_of(event("misp-turla-crutch-event.json"))
    assert "47b9e2de-7283-4fd3-bf41-dcf9f19d8c62" in draft.description
    assert "Win64/Agent.VX (ESET detection name)" in draft.description
    assert "https://www.welivesecurity.com/2020/12/02/turla-crutch-keeping-back-door-open" in draft.description
    assert 'misp-galaxy:threat-actor="Turla Group"' in draft.description
    assert len(draft.description) <= misp.MAX_DESCRIPTION


def test_domain_ip_composites_give_both_halves():
    ev = event("oceanlotus-wateringhole-2018.misp.event.json")
    composite = next(a for a in ev["Attribute"] if a["type"] == "domain|ip")
    domain, ip = composite["value"].split("|")
    values = {(o.type, o.value) for o in draft_of(ev).observables}
    assert ("domain-name", domain.lower()) in values and ("ipv4-addr", ip) in values


def test_filename_hash_composites_keep_the_hash_only():
    ev = event("oceanlotus.misp.event.json")
    composite = next(a for a in ev["Attribute"] if a["type"] == "filename|sha1")
    filename, sha1 = composite["value"].split("|")
    draft = draft_of(ev)
    assert ("file:sha1", sha1) in {(o.type, o.value) for o in draft.observables}
    assert all(filename not in o.value for o in draft.observables)


def minimal_event(attributes, tags=(), **fields):
    ev = {"uuid": "5c8ff618-0998-4b11-89d4-39d70a0162aa", "info": "Test event", "date": "2026-01-05",
          "threat_level_id": "2", "Attribute": attributes, "Tag": [{"name": t} for t in tags]}
    ev.update(fields)
    return ev


def attr(type_, value, **kw):
    return {"type": type_, "value": value, "category": kw.pop("category", "Network activity"), "to_ids": False, **kw}


def test_port_composites_and_ipv6_and_as_numbers():
    draft = draft_of(minimal_event([attr("ip-dst|port", "203.0.113.9|443"), attr("ip-src", "2001:DB8::1"),
                                    attr("hostname|port", "c2.evil.example|8080"), attr("AS", "AS64500"),
                                    attr("email-src", "ceo@evil.example"), attr("url", "evil.example/gate.php")]))
    assert [(o.type, o.value) for o in draft.observables] == [
        ("ipv4-addr", "203.0.113.9"), ("ipv6-addr", "2001:db8::1"), ("domain-name", "c2.evil.example"),
        ("autonomous-system", "64500"), ("email-addr", "ceo@evil.example"), ("url", "http://evil.example/gate.php")]


def test_invalid_values_are_skipped_and_reported_not_fatal():
    draft = draft_of(minimal_event([attr("ip-dst", "999.1.1.1"), attr("domain", "not a domain"),
                                    attr("sha256", "abc"), attr("ip-dst", "203.0.113.9")]))
    assert [o.value for o in draft.observables] == ["203.0.113.9"]
    assert len(draft.invalid) == 3
    assert "ip-dst '999.1.1.1'" in draft.invalid[0]


def test_deleted_attributes_and_objects_are_ignored():
    ev = minimal_event([attr("ip-dst", "203.0.113.9", deleted=True), attr("ip-dst", "203.0.113.10")])
    ev["Object"] = [{"name": "domain-ip", "deleted": True, "Attribute": [attr("domain", "gone.example")]}]
    assert [o.value for o in draft_of(ev).observables] == ["203.0.113.10"]


@pytest.mark.parametrize("tags,tlp", [
    ([], "amber+strict"),
    (["tlp:white"], "clear"),
    (["tlp:clear"], "clear"),
    (["TLP:GREEN"], "green"),
    (["tlp:amber"], "amber"),
    (["tlp:amber+strict"], "amber+strict"),
    (["tlp:red"], "red"),
    (["tlp:green", "tlp:amber"], "amber"),
    (["tlp:ex:chr", "osint"], "amber+strict"),
])
def test_tlp_comes_from_tags_strictest_wins(tags, tlp):
    assert draft_of(minimal_event([], tags=tags)).tlp == tlp


def test_an_attribute_tagged_red_makes_the_whole_report_red():
    ev = minimal_event([attr("ip-dst", "203.0.113.9", Tag=[{"name": "tlp:red"}])], tags=["tlp:green"])
    assert draft_of(ev).tlp == "red"


@pytest.mark.parametrize("level,severity", [("1", "high"), ("2", "medium"), ("3", "low"), ("4", "low"), (None, "low")])
def test_threat_level_maps_to_severity(level, severity):
    assert draft_of(minimal_event([], threat_level_id=level)).severity == severity


@pytest.mark.parametrize("tags,classification", [
    (['rsit:malicious-code="ransomware"', 'rsit:fraud="phishing"'], "fraud/phishing"),
    (['rsit:availability="ddos"'], "availability/ddos"),
    (['ecsirt:malicious-code="ransomware"'], "malicious-code/infected-system"),
    (['ecsirt:malicious-code="c&c"'], "malicious-code/c2-server"),
    (['ecsirt:fraud="phishing"'], "fraud/phishing"),
    (['ecsirt:availability="something-new"'], "availability/dos"),
    (['ecsirt:fraud="phishing"', 'rsit:intrusions="system-compromise"'], "intrusions/system-compromise"),
    (["osint"], "other/undetermined"),
])
def test_classification_from_rsit_then_ecsirt_tags(tags, classification):
    assert draft_of(minimal_event([], tags=tags)).classification == classification


def test_three_export_shapes_give_the_same_report():
    wrapped = load("misp-turla-crutch-event.json")
    ev = wrapped["response"][0]["Event"]
    shapes = [wrapped, {"Event": copy.deepcopy(ev)}, copy.deepcopy(ev)]
    drafts = [draft_of(misp.events_of(shape)[0]) for shape in shapes]
    assert all(misp.is_misp(shape) for shape in shapes)
    assert len({(d.external_id, tuple(d.observables)) for d in drafts}) == 1


@pytest.mark.parametrize("document", [{"response": []}, {"Event": {"info": 3}}, {"foo": "bar"}, [1, 2]])
def test_what_is_not_an_event_is_refused(document):
    with pytest.raises(ImportFormatError):
        misp.events_of(document)


def test_event_without_uuid_or_date_is_refused():
    with pytest.raises(ImportFormatError, match="uuid"):
        draft_of(minimal_event([], uuid=""))
    with pytest.raises(ImportFormatError, match="date"):
        draft_of(minimal_event([], date="soon", timestamp=None))


def test_control_characters_in_the_title_do_not_break_the_report():
    draft = draft_of(minimal_event([], info="Bad\x00title\x07"))
    assert draft.api_body()["title"] == "Bad title"


# -- fraud identifiers: bank accounts, phone numbers, wallets, payment cards ------------------------

XMR = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
CARD = "4012888888881881"  # a Luhn-valid (test) card number: must never be kept whole


def fraud_attr(type_, value, relation=None):
    extra = {"object_relation": relation} if relation else {}
    return attr(type_, value, category="Financial fraud", **extra)


def misp_object(name, *attributes):
    return {"name": name, "meta-category": "financial", "uuid": "0d8e1d9b-3b4f-4a5e-9a0c-1f9c4e7b2a10",
            "Attribute": list(attributes)}


def observed(draft) -> list[tuple[str, str]]:
    return [(o.type, o.value) for o in draft.observables]


@pytest.mark.parametrize("type_,spellings,expected", [
    ("iban", ["DE89 3704 0044 0532 0130 00", "de89370400440532013000", "IBAN DE89-3704-0044-0532-0130-00"],
     ("bank-account", "DE89370400440532013000")),
    ("iban", ["FR14 2004 1010 0505 0001 3M02 606"], ("bank-account", "FR1420041010050500013M02606")),
    ("phone-number", ["+84 912 345 678", "+84912345678", "0084 912-345-678", "tel:+84-91-234-5678"],
     ("phone-number", "+84912345678")),
    ("btc", [BTC, f"bitcoin:{BTC}?amount=1"], ("cryptocurrency-wallet", BTC)),
    ("btc", ["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ"],
     ("cryptocurrency-wallet", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")),
    ("xmr", [XMR, f"monero:{XMR}"], ("cryptocurrency-wallet", XMR)),
    ("cc-number", [CARD, "4012 8888 8888 1881", "4012-8888-8888-1881", "401288******1881", "40128888XXXX1881"],
     ("payment-card", "401288******1881")),
])
def test_fraud_attributes_in_every_spelling_give_one_observable(type_, spellings, expected):
    draft = draft_of(minimal_event([fraud_attr(type_, s) for s in spellings]))
    assert observed(draft) == [expected]
    assert draft.invalid == [] and not draft.skipped


@pytest.mark.parametrize("type_,value,reason", [
    ("iban", "DE89 3704 0044 0532 0130 01", "checksum"),
    ("iban", "DE89 3704 0044 0532 0130", "IBAN"),  # too short for Germany
    ("iban", "BFTVVNVX/0071000123456", "is not an IBAN"),  # a valid account, but not an IBAN
    ("phone-number", "+84 912 345", "not a valid phone number"),
    ("phone-number", "0912 345 678", "PHONE_DEFAULT_REGION"),  # national, and no region configured
    ("btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "checksum"),
    ("btc", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "test-network"),
    ("btc", XMR, "is not a Bitcoin address (it is a Monero address)"),
    ("btc", ETH, "is not a Bitcoin address (it is an Ethereum address)"),
    ("xmr", BTC, "is not a Monero address (it is a Bitcoin address)"),
    ("xmr", XMR[:-1] + "f", "Monero"),  # checksum
])
def test_invalid_fraud_attributes_are_skipped_with_the_reason(type_, value, reason):
    draft = draft_of(minimal_event([fraud_attr(type_, value), fraud_attr("ip-dst", "203.0.113.9")]))
    assert observed(draft) == [("ipv4-addr", "203.0.113.9")]
    assert len(draft.invalid) == 1
    assert draft.invalid[0].startswith(f"{type_} {value[:80]!r}: ") and reason in draft.invalid[0]


def test_a_national_phone_number_takes_the_configured_region(app):
    app.config["PHONE_DEFAULT_REGION"] = "VN"
    with app.app_context():
        draft = draft_of(minimal_event([fraud_attr("phone-number", "0912 345 678")]))
    assert observed(draft) == [("phone-number", "+84912345678")]


def test_a_bic_alone_is_not_an_account_and_an_account_number_needs_its_bic():
    draft = draft_of(minimal_event([fraud_attr("bic", "BFTVVNVX"), fraud_attr("bank-account-nr", "0071000123456")]))
    assert draft.observables == [] and draft.invalid == []
    assert dict(draft.skipped) == {"bic (no account in the same object)": 1,
                                   "bank-account-nr (no BIC in the same object)": 1}


def test_an_account_number_that_names_its_bank_by_itself_is_taken_as_it_is():
    draft = draft_of(minimal_event([fraud_attr("bank-account-nr", "GB82 WEST 1234 5698 7654 32"),
                                    fraud_attr("bank-account-nr", "BFTVVNVX/0071000123456"),
                                    fraud_attr("bank-account-nr", "GB82 WEST 1234 5698 7654 33")]))
    assert observed(draft) == [("bank-account", "GB82WEST12345698765432"),
                               ("bank-account", "BFTVVNVX/0071000123456")]
    assert len(draft.invalid) == 1 and "checksum" in draft.invalid[0]


def test_a_bic_and_an_account_number_in_one_object_are_one_account():
    # Any object will do (a generic one here); the bank-account object is tested below.
    ev = minimal_event([])
    ev["Object"] = [misp_object("transaction", fraud_attr("bic", "bftv vnvx"),
                                fraud_attr("bank-account-nr", "0071 000 123 456"))]
    draft = draft_of(ev)
    assert observed(draft) == [("bank-account", "BFTVVNVX/0071000123456")]
    assert not draft.skipped and draft.invalid == []


def test_the_bank_account_object_by_its_iban_or_by_bic_and_account():
    ev = minimal_event([])
    ev["Object"] = [
        # MISP/misp-objects bank-account: iban (iban), swift (bic), account (bank-account-nr), text fields.
        misp_object("bank-account", fraud_attr("iban", "FR14 2004 1010 0505 0001 3M02 606", "iban"),
                    fraud_attr("bic", "PSSTFRPPLIL", "swift"), fraud_attr("bank-account-nr", "0500013M026", "account"),
                    fraud_attr("text", "Mule account", "account-name")),
        misp_object("bank-account", fraud_attr("bic", "BFTVVNVX", "swift"),
                    fraud_attr("bank-account-nr", "0071000123456", "account"),
                    fraud_attr("text", "Vietcombank", "institution-name")),
        # Some producers type the relation "text": the template still says what it is.
        misp_object("bank-account", fraud_attr("text", "DE89 3704 0044 0532 0130 00", "iban")),
        misp_object("bank-account", fraud_attr("bic", "BFTVVNVX", "swift"), fraud_attr("bic", "PSSTFRPPLIL", "swift"),
                    fraud_attr("bank-account-nr", "0071000123456", "account")),
        misp_object("bank-account", fraud_attr("bic", "BFTVXXVX", "swift"),
                    fraud_attr("bank-account-nr", "123", "account")),
    ]
    draft = draft_of(ev)
    assert observed(draft) == [("bank-account", "FR1420041010050500013M02606"),
                               ("bank-account", "BFTVVNVX/0071000123456"),
                               ("bank-account", "DE89370400440532013000")]
    assert dict(draft.skipped) == {"bank-account-nr (the IBAN of its object names the account)": 1,
                                   "bank-account-nr (several BICs in its object)": 1, "text": 2}
    assert len(draft.invalid) == 1 and "'BFTVXXVX' is not a valid BIC" in draft.invalid[0]


def test_the_phone_object_gives_its_numbers_and_leaves_the_rest():
    ev = minimal_event([])
    # MISP/misp-objects phone: msisdn (text, the international number without "+"), imsi, imei...
    ev["Object"] = [misp_object("phone", fraud_attr("text", "84912345678", "msisdn"),
                                fraud_attr("text", "452040000000001", "imsi"),
                                fraud_attr("phone-number", "+44 20 7946 0958", "phone-number")),
                    misp_object("phone", fraud_attr("text", "84 912 345", "msisdn"))]
    draft = draft_of(ev)
    assert observed(draft) == [("phone-number", "+84912345678"), ("phone-number", "+442079460958")]
    assert dict(draft.skipped) == {"text": 1}
    assert len(draft.invalid) == 1 and draft.invalid[0].startswith("msisdn '84 912 345': ")


def test_the_coin_address_object_takes_any_known_chain_in_address_crypto():
    ev = minimal_event([])
    ev["Object"] = [misp_object("coin-address", fraud_attr("text", ETH, "address-crypto"),
                                fraud_attr("text", "ETH", "symbol")),
                    misp_object("coin-address", fraud_attr("btc", BTC, "address"))]
    assert observed(draft_of(ev)) == [("cryptocurrency-wallet", ETH.lower()), ("cryptocurrency-wallet", BTC)]


def _everything_in(draft) -> str:
    return " ".join([repr(draft), json.dumps(draft.api_body())])


def test_a_card_number_is_truncated_and_its_full_number_is_nowhere_in_the_report():
    ev = minimal_event([fraud_attr("cc-number", "4012 8888 8888 1881"),
                        attr("text", f"Card {CARD} used at the fake shop", category="Other")],
                       info=f"Carding: {CARD} and 4012-8888-8888-1881")
    ev["Object"] = [misp_object("credit-card", fraud_attr("cc-number", CARD, "card-number"))]
    draft = draft_of(ev)
    assert observed(draft) == [("payment-card", "401288******1881")]
    assert draft.title == "Carding: 401288******1881 and 401288******1881"
    assert "Card 401288******1881 used at the fake shop" in draft.description
    everything = _everything_in(draft)
    assert CARD not in everything and "8888 8888" not in everything and "8888-8888" not in everything


@pytest.mark.parametrize("type_,value,reason", [
    ("cc-number", "4012888888881882", "check digit"),  # Luhn fails
    ("cc-number", "40128888", "12 to 19 digits"),
    ("cc-number", "4012 8888 8888 18x1", "truncated card number"),
    # A full card number sent under another type is refused and never quoted either.
    ("phone-number", CARD, "full payment card number"),
    ("ip-dst", CARD, "full payment card number"),
    ("iban", CARD, "full payment card number"),
    ("btc", CARD, "full payment card number"),
])
def test_a_refused_card_number_is_never_quoted(type_, value, reason):
    draft = draft_of(minimal_event([fraud_attr(type_, value)]))
    assert draft.observables == []
    assert len(draft.invalid) == 1
    assert draft.invalid[0].startswith(f"{type_} (value not shown): ") and reason in draft.invalid[0]
    assert value not in _everything_in(draft) and "88888888" not in _everything_in(draft)


def test_long_numbers_that_are_not_cards_stay_as_they_are_in_the_description():
    # A millisecond timestamp, an order number failing Luhn, digits inside a hash and the event uuid.
    text = "seen 1767225600000, order 4012888888881882, hash ab4012888888881881cd"
    draft = draft_of(minimal_event([attr("text", text, category="Other")]))
    assert text in draft.description and "5c8ff618-0998-4b11-89d4-39d70a0162aa" in draft.description
