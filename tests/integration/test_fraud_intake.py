"""Bank accounts, phone numbers, crypto-currency wallets and payment cards through every intake
channel but MISP: the report form, the JSON API, TAXII pushes, `cert-share import` (and so the
partner feeds, which map bundles with the importer's rules). Each type is accepted in the ways
analysts and tools write it, refused with a message when its checksum or length is wrong, and a
full card number is refused everywhere without ever being repeated, stored or logged."""
from __future__ import annotations

import html
import json
import logging
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Incident, Observable, Organization, PhaseUpdate, StixObject, TaxiiStatus
from cert_share.services import importer
from cert_share.stix import markings
from cert_share.stix.observables import OPENCTI_SCO_EXTENSION, normalize, sco_dict
from tests.conftest import auth
from tests.integration.taxii_world import API, build_world
from tests.integration.web_login import login, page_token

PAN = "4111 1111 1111 1111"  # Visa's test number: passes the Luhn check
PAN_DIGITS = PAN.replace(" ", "")
CREATED = "2026-01-10T08:00:00.000Z"
TAXII = "application/taxii+json;version=2.1"

# (type, as typed, normalized value) in the forms analysts and tools write them.
VALID = [
    ("bank-account", "DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ("bank-account", "de89370400440532013000", "DE89370400440532013000"),
    ("bank-account", "IBAN: GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
    ("bank-account", "BFTVVNVX/0071000123456", "BFTVVNVX/0071000123456"),
    ("phone-number", "+84 912 345 678", "+84912345678"),
    ("phone-number", "0084-912-345-678", "+84912345678"),
    ("phone-number", "tel:+84912345678", "+84912345678"),
    ("phone-number", "(+84) 912.345.678", "+84912345678"),
    ("cryptocurrency-wallet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
    ("cryptocurrency-wallet", "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
     "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
    ("cryptocurrency-wallet", "0x52908400098527886E0F7030069857D2E4169EE7",
     "0x52908400098527886e0f7030069857d2e4169ee7"),
    ("cryptocurrency-wallet", "bitcoin:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2?amount=0.1",
     "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
    ("payment-card", "411111******1111", "411111******1111"),
    ("payment-card", "4111 11XX XXXX 1111", "411111******1111"),
]
# (type, value, what the message says): wrong checksum, wrong length, wrong shape.
INVALID = [
    ("bank-account", "DE89 3704 0044 0532 0130 01", "is not a valid IBAN (Invalid checksum digits)"),
    ("bank-account", "DE89 3704 0044 0532 0130", "is not a valid IBAN (Invalid IBAN length)"),
    ("phone-number", "+84 12", "is not a valid phone number (wrong length"),
    ("phone-number", "+84 912 345 678 999", "is not a valid phone number (wrong length"),
    ("cryptocurrency-wallet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "base58check checksum is wrong"),
    ("cryptocurrency-wallet", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5md", "checksum or length is wrong"),
    ("cryptocurrency-wallet", "0x52908400098527886E0F7030069857D2E4169Ee7", "EIP-55 mixed-case checksum"),
    ("payment-card", "411111******111", "is not a truncated card number"),
]
CHAINS = {"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2": "bitcoin", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq": "bitcoin",
          "0x52908400098527886e0f7030069857d2e4169ee7": "ethereum"}


def assert_no_pan(text: str) -> None:
    """No full card number, grouped or not, in ``text``."""
    compact = re.sub(r"[\s\-.]", "", text)
    assert PAN_DIGITS not in compact, "a full card number was repeated"


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(db.session.query(m).count() for m in (Incident, Observable, StixObject))


@pytest.fixture
def bank(factory):
    factory.cert()
    return factory.org("First Bank", sector="financial-services")


# --- the report form ---------------------------------------------------------------------------

def _form(observables: str) -> dict:
    return {"title": "Mule accounts and smishing", "description": "", "classification": "fraud/phishing",
            "severity": "high", "tlp": "amber", "timezone": "UTC",
            "detected_at": (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "observables": observables}


@pytest.fixture
def bank_client(app, factory, bank):
    user = factory.user(bank, "analyst", email="soc@firstbank.example")
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


def submit(client, data: dict):
    return client.post("/incidents/new", data={"csrf_token": page_token(client, "/incidents/new"), **data})


def field_errors(page: str) -> str:
    """The observables field's messages, one per line."""
    match = re.search(r'<ul class="field-errors" id="observables-errors">(.*?)</ul>', page, re.S)
    items = re.findall(r"<li>(.*?)</li>", match.group(1), re.S) if match else []
    return "\n".join(html.unescape(item.strip()) for item in items)


def textarea(page: str) -> str:
    match = re.search(r'<textarea[^>]*name="observables"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "no observables box on the page"
    return html.unescape(match.group(1)).removeprefix("\r\n").removeprefix("\n")  # the newline HTML drops


def test_the_form_accepts_every_type_as_analysts_type_it(app, bank_client):
    box = "\n".join(typed for _, typed, _ in VALID)
    response = submit(bank_client, _form(box))
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    with app.app_context():
        incident = db.session.query(Incident).one()
        stored = {(o.type, o.value) for o in incident.observables}
    assert stored == {(type_, value) for type_, _, value in VALID}
    page = bank_client.get(response.headers["Location"]).get_data(as_text=True)
    for type_ in ("bank-account", "phone-number", "cryptocurrency-wallet", "payment-card"):
        assert f'data-type="{type_}"' in page


@pytest.mark.parametrize("type_,value,message", INVALID)
def test_the_form_names_the_line_of_an_invalid_value(app, bank_client, type_, value, message):
    response = submit(bank_client, _form(f"203.0.113.7\n\n{value}"))
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True))
    assert errors.startswith("line 3:") and message in errors, errors
    assert counts(app) == (0, 0, 0)
    # What the analyst typed is still there to correct.
    assert value in textarea(response.get_data(as_text=True))


def test_a_national_phone_number_needs_the_default_region(app, bank_client):
    errors = field_errors(submit(bank_client, _form("0912 345 678")).get_data(as_text=True))
    assert "line 1:" in errors and "PHONE_DEFAULT_REGION" in errors
    app.config["PHONE_DEFAULT_REGION"] = "VN"
    assert submit(bank_client, _form("0912 345 678")).status_code == 302
    with app.app_context():
        assert [(o.type, o.value) for o in db.session.query(Observable)] == [("phone-number", "+84912345678")]


@pytest.mark.parametrize("line", [PAN, "4111-1111-1111-1111", PAN_DIGITS, f"card {PAN} used at the ATM",
                                  f"https://pay.example/checkout?card={PAN_DIGITS}"])
def test_a_full_card_number_in_the_form_is_refused_and_never_shown_again_or_logged(app, bank_client, caplog,
                                                                                    line):
    caplog.set_level(logging.DEBUG)
    response = submit(bank_client, _form(f"198.51.100.7\n{line}\n+84 912 345 678"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    errors = field_errors(page)
    assert errors.startswith("line 2: a full payment card number must never be shared"), errors
    assert "now shows only those digits" in errors
    # The box comes back with the card reduced to its BIN and last 4, the other lines untouched.
    lines = textarea(page).splitlines()
    assert lines[0] == "198.51.100.7" and lines[2] == "+84 912 345 678"
    assert "411111******1111" in lines[1]
    assert_no_pan(page)
    assert_no_pan(" ".join(record.getMessage() for record in caplog.records))
    assert counts(app) == (0, 0, 0)


def test_a_long_number_that_is_no_card_is_refused_without_being_repeated(bank_client):
    errors = field_errors(submit(bank_client, _form("4111 1111 1111 1112")).get_data(as_text=True))
    assert errors.startswith("line 1: a 16-digit number is neither a phone number nor a card"), errors
    assert "4111 1111 1111 1112" not in errors


def test_the_form_lists_the_new_types_with_examples(bank_client):
    page = html.unescape(bank_client.get("/incidents/new").get_data(as_text=True))
    for example in ("DE89 3704 0044 0532 0130 00", "BFTVVNVX/0071000123456", "+84 912 345 678", "bc1",
                    "0x", "411111******1111"):
        assert example in page, example


# --- the JSON API ------------------------------------------------------------------------------

def _body(*observables: dict, **extra) -> dict:
    return {"title": "Mule account", "classification": "fraud/phishing", "severity": "high", "tlp": "amber",
            "detected_at": (utcnow() - timedelta(hours=1)).isoformat(), "observables": list(observables), **extra}


def test_the_api_accepts_every_type_and_gives_a_wallets_chain(app, client, factory, bank):
    token = factory.token(bank)
    body = _body(*({"type": t, "value": typed} for t, typed, _ in VALID))
    response = client.post("/api/v1/incidents", json=body, headers=auth(token))
    assert response.status_code == 201, response.get_json()
    observables = response.get_json()["observables"]
    assert {(o["type"], o["value"]) for o in observables} == {(t, v) for t, _, v in VALID}
    for o in observables:
        assert o["chain"] == CHAINS.get(o["value"]), o
        assert o["stix_id"] == sco_dict(normalize(o["type"], o["value"]))["id"]
    # The same representation when read back.
    again = client.get(f"/api/v1/incidents/{response.get_json()['id']}", headers=auth(token)).get_json()
    assert again["observables"] == observables


@pytest.mark.parametrize("type_,value,message", INVALID)
def test_the_api_refuses_an_invalid_value_with_a_400_naming_it(app, client, factory, bank, type_, value, message):
    response = client.post("/api/v1/incidents", json=_body({"type": "ipv4-addr", "value": "203.0.113.7"},
                                                           {"type": type_, "value": value}),
                           headers=auth(factory.token(bank)))
    assert response.status_code == 400
    body = response.get_json()
    assert message in body["errors"]["observables"]["1"]["value"][0]
    assert "observables.1.value" in body["message"]
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize("observable", [
    {"type": "payment-card", "value": PAN}, {"type": "payment-card", "value": PAN_DIGITS},
    {"type": "phone-number", "value": PAN_DIGITS}, {"type": "bank-account", "value": f"BFTVVNVX/{PAN_DIGITS}x"},
    {"type": PAN_DIGITS, "value": "x"}, {"type": "url", "value": "x", PAN_DIGITS: 1},
    {"type": "url", "value": f"https://pay.example/checkout?card={PAN_DIGITS}"},  # valid URL, refused for the card
])
def test_the_api_never_echoes_a_full_card_number(app, client, factory, bank, caplog, observable):
    caplog.set_level(logging.DEBUG)
    response = client.post("/api/v1/incidents", json=_body(observable, title=f"card {PAN}x", detected_at=PAN),
                           headers=auth(factory.token(bank)))
    assert response.status_code == 400
    assert_no_pan(response.get_data(as_text=True))
    assert_no_pan(" ".join(record.getMessage() for record in caplog.records))
    assert counts(app) == (0, 0, 0)


def test_the_api_refuses_a_full_card_number_saying_why(client, factory, bank):
    response = client.post("/api/v1/incidents", json=_body({"type": "payment-card", "value": PAN}),
                           headers=auth(factory.token(bank)))
    assert response.get_json()["errors"]["observables"]["0"]["value"] == [
        "a full payment card number must never be shared: give only its first 6 digits (the BIN) and its last 4, "
        "e.g. 411111******1111"]


def test_the_openapi_document_lists_the_types_and_the_chain(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    observable_in = schemas["Observable"]["properties"]["type"]
    for type_ in ("bank-account", "phone-number", "cryptocurrency-wallet", "payment-card"):
        assert type_ in observable_in["enum"] and type_ in observable_in["description"]
    assert "full card number is refused" in observable_in["description"]
    chain = schemas["ObservableOut"]["properties"]["chain"]
    assert chain["nullable"] is True and {"bitcoin", "ethereum", "monero"} <= set(chain["enum"])


# --- TAXII pushes ------------------------------------------------------------------------------

@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


def _push(client, world, objects: list[dict]) -> dict:
    response = client.post(f"{API}collections/{world.collection('intake').id}/objects/",
                           data=json.dumps({"objects": objects}),
                           headers={"Authorization": f"Bearer {world.tokens['bank']}", "Accept": TAXII,
                                    "Content-Type": TAXII})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def _incident() -> dict:
    return {"type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}", "created": CREATED,
            "modified": CREATED, "name": "Smishing wave", "labels": ['rsit:fraud="phishing"'],
            "object_marking_refs": [markings.marking_id("amber")]}


def _relate(source: dict, target: dict) -> dict:
    return {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
            "created": CREATED, "modified": CREATED, "relationship_type": "related-to",
            "source_ref": source["id"], "target_ref": target["id"]}


def _sco(type_: str, *, extension: bool = True, **properties) -> dict:
    obj = {"type": type_, "spec_version": "2.1", "id": f"{type_}--{uuid.uuid4()}", **properties}
    if extension:
        obj["extensions"] = {OPENCTI_SCO_EXTENSION: {"extension_type": "new-sco"}}
    return obj


def _indicator(pattern: str) -> dict:
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}", "created": CREATED,
            "modified": CREATED, "pattern": pattern, "pattern_type": "stix", "valid_from": CREATED,
            "object_marking_refs": [markings.marking_id("amber")]}


def _report_observables(app, incident: dict) -> set[tuple[str, str]]:
    with app.app_context():
        report = db.session.execute(select(Incident).where(Incident.external_id == incident["id"])).scalar_one()
        return {(o.type, o.value) for o in report.observables}


def test_pushed_opencti_scos_and_indicators_become_observables_of_the_report(app, client, world):
    incident = _incident()
    related = [
        _sco("bank-account", iban="DE89 3704 0044 0532 0130 00"),
        _sco("bank-account", extension=False, bic="BFTVVNVX", account_number="0071000123456"),
        _sco("phone-number", value="+84 912 345 678"),
        _sco("cryptocurrency-wallet", extension=False, value="0x52908400098527886E0F7030069857D2E4169EE7"),
        _sco("payment-card", card_number="411111******1111", value="411111******1111"),
        _indicator("[phone-number:value = '+442079460958'] OR [cryptocurrency-wallet:value = "
                   "'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq']"),
        _indicator("[bank-account:bic = 'DEUTDEFF' AND bank-account:account_number = '1234567']"),
        # Our own SCOs, as a member's export gives them, go back in as they are.
        sco_dict(normalize("payment-card", "550000******0004")),
        # A warning's keyed hash passed on: stored, but no value to observe.
        _indicator("[phone-number:x_cert_share_value_hmac = 'hmac-sha256:k0:" + "ab" * 32 + "']"),
    ]
    objects = [incident, *related, *(_relate(incident, o) for o in related)]
    status = _push(client, world, objects)
    assert (status["success_count"], status["failure_count"]) == (len(objects), 0), status.get("failures")
    assert _report_observables(app, incident) == {
        ("bank-account", "DE89370400440532013000"), ("bank-account", "BFTVVNVX/0071000123456"),
        ("phone-number", "+84912345678"), ("cryptocurrency-wallet", "0x52908400098527886e0f7030069857d2e4169ee7"),
        ("payment-card", "411111******1111"), ("phone-number", "+442079460958"),
        ("cryptocurrency-wallet", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        ("bank-account", "DEUTDEFF/1234567"), ("payment-card", "550000******0004")}


@pytest.mark.parametrize("type_,value,message", INVALID)
def test_an_invalid_pushed_sco_or_indicator_is_refused_on_its_own_with_the_reason(app, client, world, type_, value,
                                                                                 message):
    prop = {"bank-account": "iban", "payment-card": "card_number"}.get(type_, "value")
    bad_sco = _sco(type_, **{prop: value})
    bad_indicator = _indicator(f"[{type_}:{prop} = '{value}']")
    good = _sco("phone-number", value="+84912345678")
    status = _push(client, world, [bad_sco, bad_indicator, good])
    assert [s["id"] for s in status["successes"]] == [good["id"]]
    failures = {f["id"]: f["message"] for f in status["failures"]}
    assert set(failures) == {bad_sco["id"], bad_indicator["id"]}
    for text in failures.values():
        assert text.startswith(f"invalid {type_}:") and message in text, text


@pytest.mark.parametrize("bad", [
    _sco("payment-card", card_number=PAN), _sco("payment-card", extension=False, value=PAN_DIGITS),
    _sco("payment-card", card_number="411111******1111", value=PAN),
    _sco("payment-card", card_number="411111******1111", cvv="123"),
    _sco("phone-number", value=PAN_DIGITS),
    _indicator(f"[payment-card:card_number = '{PAN_DIGITS}']"),
    _indicator(f"[payment-card:card_number = '{PAN}' OR ipv4-addr:value = '203.0.113.9']"),
])
def test_a_pushed_full_card_number_is_refused_never_stored_and_never_echoed(app, client, world, caplog, bad):
    caplog.set_level(logging.DEBUG)
    incident = _incident()
    status = _push(client, world, [incident, bad, _relate(incident, bad)])
    [failure] = status["failures"]
    assert failure["id"] == bad["id"]
    assert "full payment card number must never be shared" in failure["message"] or "CVV" in failure["message"]
    assert_no_pan(json.dumps(status))
    with app.app_context():
        assert db.session.query(StixObject).filter(StixObject.stix_id == bad["id"]).count() == 0
        assert_no_pan(" ".join(o.body for o in db.session.query(StixObject)))
        assert_no_pan(json.dumps([s.failures for s in db.session.query(TaxiiStatus)]))
    assert_no_pan(" ".join(record.getMessage() for record in caplog.records))
    assert not any(t == "payment-card" and "411111" not in v for t, v in _report_observables(app, incident))


# --- STIX import (and the partner feeds, which map bundles with the same rules) ----------------

def _bundle(*objects: dict) -> dict:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def _import(app, tmp_path, bank, document: dict) -> importer.ImportResult:
    path = tmp_path / "opencti-export.json"
    path.write_text(json.dumps(document))
    with app.app_context():
        result = importer.import_file(db.session, str(path), org=db.session.get(Organization, bank.id))
        result.text = result.summary()
        return result


def test_imported_bundles_map_the_new_types_and_skip_invalid_values_saying_why(app, tmp_path, bank, caplog):
    caplog.set_level(logging.DEBUG)
    incident = _incident()
    related = [
        _sco("bank-account", iban="GB82WEST12345698765432"),
        _sco("phone-number", extension=False, value="0084 912 345 678"),
        _sco("cryptocurrency-wallet", value="1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        _sco("payment-card", card_number="4111 11** **** 1111"),
        _indicator("[bank-account:iban = 'DE89370400440532013000']"),
        # Refused values: a wrong IBAN checksum, a wrong phone length, a full card number.
        _sco("bank-account", iban="DE89370400440532013001"),
        _sco("phone-number", value="+84 12"),
        _sco("payment-card", card_number=PAN),
    ]
    document = _bundle(incident, *related, *(_relate(incident, o) for o in related))
    result = _import(app, tmp_path, bank, document)
    with app.app_context():
        report = db.session.query(Incident).one()
        assert {(o.type, o.value) for o in report.observables} == {
            ("bank-account", "GB82WEST12345698765432"), ("phone-number", "+84912345678"),
            ("cryptocurrency-wallet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
            ("payment-card", "411111******1111"), ("bank-account", "DE89370400440532013000")}
    assert "3 invalid value(s) skipped" in result.text
    assert "Invalid checksum digits" in result.text and "wrong length" in result.text
    assert "full payment card number must never be shared" in result.text
    assert_no_pan(result.text)
    assert_no_pan(" ".join(record.getMessage() for record in caplog.records))


def test_a_stix_export_with_the_new_types_imports_with_the_same_observables(app, client, factory, bank, tmp_path):
    telco = factory.org("TelcoNet", sector="telecommunications")
    token = factory.token(bank)
    created = client.post("/api/v1/incidents", json=_body(*({"type": t, "value": v} for t, v, _ in VALID)),
                          headers=auth(token)).get_json()
    exported = client.get(f"/api/v1/incidents/{created['id']}/stix", headers=auth(token)).get_json()
    result = _import(app, tmp_path, telco, exported)
    assert [r.created for r in result.reports] == [True]
    with app.app_context():
        imported = db.session.query(Incident).filter_by(org_id=telco.id).one()
        assert {o.stix_id for o in imported.observables} == {o["stix_id"] for o in created["observables"]}


def test_an_invalid_pattern_holding_a_card_number_is_refused_without_quoting_it(app, tmp_path, bank):
    bad = _indicator(f"[payment-card:card_number = '{PAN_DIGITS}' AND ]")
    with pytest.raises(Exception) as caught:
        _import(app, tmp_path, bank, _bundle(bad))
    assert "invalid STIX pattern" in str(caught.value)
    assert_no_pan(str(caught.value))
    assert counts(app) == (0, 0, 0)


def test_a_real_taxii_client_pushes_fraud_scos_and_reads_the_refusal(app, live_server, world):
    from taxii2client.v21 import Collection

    from tests.integration.taxii_world import basic

    user, password = basic(world, "telco")
    collection = Collection(f"{live_server.url}{API}collections/{world.collection('intake').id}/", user=user,
                            password=password)
    incident = _incident()
    phone = _sco("phone-number", value="+84 912 345 678")
    card = _sco("payment-card", card_number=PAN)
    status = collection.add_objects({"objects": [incident, phone, card, _relate(incident, phone),
                                                 _relate(incident, card)]})
    assert (status.status, status.success_count, status.failure_count) == ("complete", 4, 1)
    [failure] = status.failures
    assert failure["id"] == card["id"] and "full payment card number must never be shared" in failure["message"]
    assert_no_pan(json.dumps(status.failures))
    assert _report_observables(app, incident) == {("phone-number", "+84912345678")}


def test_a_partner_feed_delivers_fraud_indicators_as_observables(app, factory, tmp_path, monkeypatch):
    from taxii2client.v21 import Collection

    from cert_share.services.feeds import pull_feeds
    from tests.integration import medallion_server

    factory.cert()
    partner = factory.org("Partner CERT", sector="government-national", kind="partner", country="FI")
    upstream, stop = medallion_server.start(tmp_path)
    try:
        feeds = tmp_path / "feeds"
        feeds.mkdir()
        (feeds / "partner.toml").write_text(
            f'name = "partner-taxii"\nkind = "taxii21"\nurl = "{upstream.intake_url}"\n'
            'username_env = "PARTNER_FEED_USER"\npassword_env = "PARTNER_FEED_PASSWORD"\ninterval_minutes = 15\n'
            f'source_org = "{partner.slug}"\ndefault_tlp = "amber"\n')
        monkeypatch.setenv("PARTNER_FEED_USER", medallion_server.USER)
        monkeypatch.setenv("PARTNER_FEED_PASSWORD", medallion_server.PASSWORD)
        app.config.update(FEEDS_DIR=str(feeds))
        indicators = [_indicator("[phone-number:value = '+84912345678']"),
                      _indicator("[bank-account:iban = 'DE89 3704 0044 0532 0130 00']"),
                      _indicator("[cryptocurrency-wallet:value = '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2']"),
                      _indicator("[bank-account:iban = 'DE89 3704 0044 0532 0130 01']"),  # wrong checksum
                      _indicator(f"[payment-card:card_number = '{PAN_DIGITS}']")]
        Collection(upstream.intake_url, user=medallion_server.USER, password=medallion_server.PASSWORD).add_objects(
            {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": indicators})
        with app.app_context():
            result = pull_feeds(db.session, app.config, force=True)
        assert result.outcomes[0].status == "ok", result.summary()
        assert_no_pan(result.summary())
    finally:
        stop()
    with app.app_context():
        [report] = db.session.execute(select(Incident).where(Incident.source == "feed")).scalars().all()
        assert {(o.type, o.value) for o in report.observables} == {
            ("phone-number", "+84912345678"), ("bank-account", "DE89370400440532013000"),
            ("cryptocurrency-wallet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")}


# --- card numbers in free text and in other spellings (security review) -----------------------

ARABIC_PAN = PAN_DIGITS.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
SPELLINGS = (PAN_DIGITS, PAN, "4111-1111-1111-1111", ARABIC_PAN, "4111%201111%201111%201111",
             "4111/1111/1111/1111")


def stored_text(app) -> str:
    """Every value of every row of every table, as text: what the database holds."""
    with app.app_context():
        connection = db.session.connection()
        return "\n".join(str(row) for table in db.metadata.sorted_tables for row in connection.execute(select(table)))


def assert_no_card_stored(app) -> None:
    text = stored_text(app)
    for spelling in SPELLINGS:
        assert spelling not in text, f"{spelling!r} was stored"
    assert PAN_DIGITS not in re.sub(r"[\s\-./_,]|%20", "", text)


def test_a_card_number_in_an_api_reports_text_is_stored_masked(app, client, factory, bank):
    body = _body({"type": "domain-name", "value": "pay-evil.example"}, title="Fraud with card 4111 1111 1111 1111",
                 description=f"Card {PAN_DIGITS} was used, then {ARABIC_PAN}", impact="card 4111%201111%201111%201111",
                 affected_services="cards 4111/1111/1111/1111")
    response = client.post("/api/v1/incidents", json=body, headers=auth(factory.token(bank)))
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["title"] == "Fraud with card 411111******1111"
    assert report["description"] == "Card 411111******1111 was used, then 411111******1111"
    assert_no_pan(response.get_data(as_text=True))
    assert_no_card_stored(app)


@pytest.mark.parametrize("observable", [
    {"type": "bank-account", "value": f"BFTVVNVX/{PAN_DIGITS}"}, {"type": "bank-account", "value": f"BFTVVNVX/{PAN}"},
    {"type": "url", "value": "http://evil.example/pay?c=4111%201111%201111%201111"},
    {"type": "url", "value": "http://evil.example/4111/1111/1111/1111"},
    {"type": "url", "value": f"http://evil.example/?c={ARABIC_PAN}"},
    {"type": "email-addr", "value": "4111_1111_1111_1111@evil.example"},
    {"type": "phone-number", "value": f"+{ARABIC_PAN}"}, {"type": "payment-card", "value": ARABIC_PAN},
])
def test_a_card_number_in_another_spelling_or_as_an_account_is_refused_and_not_echoed(app, client, factory, bank,
                                                                                      observable):
    response = client.post("/api/v1/incidents", json=_body(observable), headers=auth(factory.token(bank)))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert_no_pan(page)
    assert ARABIC_PAN not in page and ARABIC_PAN not in json.loads(page).__repr__()
    assert counts(app) == (0, 0, 0)


def test_an_account_number_that_is_a_card_says_to_give_the_iban(client, factory, bank):
    response = client.post("/api/v1/incidents", json=_body({"type": "bank-account", "value": f"BFTVVNVX/{PAN}"}),
                           headers=auth(factory.token(bank)))
    [message] = response.get_json()["errors"]["observables"]["0"]["value"]
    assert "payment card number" in message and "give its IBAN" in message


def test_a_phone_numbers_extension_is_not_stored(app, client, factory, bank):
    body = _body({"type": "phone-number", "value": f"tel:+84-912-345-678;ext={PAN_DIGITS}"})
    response = client.post("/api/v1/incidents", json=body, headers=auth(factory.token(bank)))
    assert response.status_code == 201, response.get_json()
    assert [o["value"] for o in response.get_json()["observables"]] == ["+84912345678"]
    with app.app_context():
        assert [o.display_value for o in db.session.query(Observable)] == ["+84 912 345 678"]
    assert_no_card_stored(app)


def test_a_masked_card_in_arabic_indic_digits_is_stored_in_ascii_digits(app, client, factory, bank):
    masked = "411111******1111".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    response = client.post("/api/v1/incidents", json=_body({"type": "payment-card", "value": masked}),
                           headers=auth(factory.token(bank)))
    assert response.status_code == 201
    with app.app_context():
        assert [o.value for o in db.session.query(Observable)] == ["411111******1111"]


def test_a_card_number_in_the_forms_text_is_stored_masked(app, bank_client):
    description = f"customer card {ARABIC_PAN}\nand 4111\u00a01111\u00a01111\u00a01111"
    response = submit(bank_client, {**_form("pay-evil.example"), "title": f"Card {PAN} abused",
                                    "description": description})
    assert response.status_code == 302
    with app.app_context():
        report = db.session.query(Incident).one()
        assert report.title == "Card 411111******1111 abused"
        assert report.description == "customer card 411111******1111\nand 411111******1111"
    assert_no_card_stored(app)


def test_a_form_sent_back_shows_no_card_number_in_its_text_either(app, bank_client):
    response = submit(bank_client, {**_form("4111\t1111\t1111\t1111"), "title": f"Card {PAN} abused",
                                    "description": f"customer card {ARABIC_PAN}", "impact": "x" * 6000})
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert_no_pan(page)
    assert ARABIC_PAN not in page and "4111\t1111" not in page
    assert "Card 411111******1111 abused" in page and "customer card 411111******1111" in page


def test_a_megabyte_line_in_the_form_is_refused_unread_and_not_shown_again(app, bank_client):
    response = submit(bank_client, _form("198.51.100.7\n" + "4111 " * 200_000))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "line 2: is longer than 2048 characters, which no observable is; it is not shown again" in field_errors(page)
    assert textarea(page).splitlines() == ["198.51.100.7"]
    assert counts(app) == (0, 0, 0)


def test_card_numbers_in_pushed_text_are_stored_masked_and_an_account_that_is_a_card_refused(app, client, world):
    incident = {**_incident(), "name": "Card 4111-1111-1111-1111 abuse", "description": f"victim card {PAN_DIGITS}",
                "x_victim": {"card": ARABIC_PAN}}
    note = {"type": "note", "spec_version": "2.1", "id": f"note--{uuid.uuid4()}", "created": CREATED,
            "modified": CREATED, "content": "PAN 4111%201111%201111%201111", "object_refs": [incident["id"]]}
    phone = _sco("phone-number", value=f"+84912345678;ext={PAN_DIGITS}")
    account = _sco("bank-account", bic="BFTVVNVX", account_number=PAN_DIGITS)
    url = _sco("url", extension=False, value="http://evil.example/4111/1111/1111/1111")
    status = _push(client, world, [incident, note, phone, account, url,
                                   *(_relate(incident, o) for o in (phone, account, url))])
    assert {f["id"] for f in status["failures"]} == {account["id"], url["id"]}
    assert_no_pan(json.dumps(status))
    with app.app_context():
        bodies = {o.stix_id: json.loads(o.body) for o in db.session.query(StixObject)}
        assert bodies[incident["id"]]["name"] == "Card 411111******1111 abuse"
        assert bodies[incident["id"]]["description"] == "victim card 411111******1111"
        assert bodies[incident["id"]]["x_victim"] == {"card": "411111******1111"}
        assert bodies[note["id"]]["content"] == "PAN 411111******1111"
        report = db.session.execute(select(Incident).where(Incident.external_id == incident["id"])).scalar_one()
        assert (report.title, report.description) == ("Card 411111******1111 abuse", "victim card 411111******1111")
        assert {(o.type, o.value) for o in report.observables} == {("phone-number", "+84912345678")}
    assert_no_card_stored(app)


def test_a_card_number_in_an_imported_bundles_text_is_stored_masked(app, tmp_path, bank):
    incident = {**_incident(), "name": f"Card {PAN} abuse", "description": f"victim card {ARABIC_PAN}"}
    phone = _sco("phone-number", value="+84 912 345 678")
    result = _import(app, tmp_path, bank, _bundle(incident, phone, _relate(incident, phone)))
    assert_no_pan(result.text)
    with app.app_context():
        report = db.session.query(Incident).one()
        assert (report.title, report.description) == ("Card 411111******1111 abuse", "victim card 411111******1111")
    assert_no_card_stored(app)


def test_a_card_number_in_a_phase_update_is_stored_masked(app, client, factory, bank):
    token = factory.token(bank)
    report = client.post("/api/v1/incidents", json=_body({"type": "domain-name", "value": "pay-evil.example"}),
                         headers=auth(token)).get_json()
    response = client.post(f"/api/v1/incidents/{report['id']}/updates", headers=auth(token),
                           json={"phase": "intermediate", "summary": f"Card {PAN} was used again",
                                 "details": {"cards": [ARABIC_PAN], "note": "4111_1111_1111_1111"}})
    assert response.status_code == 201, response.get_json()
    assert_no_pan(response.get_data(as_text=True))
    with app.app_context():
        [update] = db.session.query(PhaseUpdate).all()
        assert update.summary == "Card 411111******1111 was used again"
        assert update.details == {"cards": ["411111******1111"], "note": "411111******1111"}
    assert_no_card_stored(app)
