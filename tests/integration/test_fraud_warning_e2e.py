"""A smishing number, end to end: a telecom reports the number that smished its customers, a bank
reports the same number as the sender of a fraud. One warning reaches both sectors over TAXII,
carrying the number's keyed hash and never the number; a member holding the number finds the
warning through the lookup; a member of another sector learns nothing about it. CERT staff may
publish the number in clear (audited), and a key rotation gives members a version under the new
key while lookups under the old one keep working."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select
from taxii2client.v21 import Collection as TaxiiCollection

from cert_share.early_warning.lifecycle import publish_warnings
from cert_share.extensions import db
from cert_share.models import AuditEntry, EarlyWarning, OutboxMessage, StixObject
from cert_share.stix.keyed_hash import keyed_hash
from cert_share.store.collections import by_alias
from tests.conftest import auth
from tests.integration.fraud_world import SMISHING_NUMBER, UNREPORTED_NUMBER, number_spellings
from tests.integration.incident_bodies import incident_body
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import csrf_token, login, without_csrf

# Two keys as a CERT hands them out (base64 of 32+ bytes); k1 first, then k2 put in front of it.
K1 = "k1:Y2VydC1zaGFyZSB0ZXN0IGtleSBvbmUsIG5vdCBhIHNlY3JldCE="
K2 = "k2:Y2VydC1zaGFyZSB0ZXN0IGtleSB0d28sIG5vdCBhIHNlY3JldCE="
SPELLINGS = number_spellings(SMISHING_NUMBER)


def key(setting: str) -> tuple[str, bytes]:
    import base64

    key_id, _, secret = setting.partition(":")
    return key_id, base64.b64decode(secret)


def hash_under(setting: str, number: str = SMISHING_NUMBER) -> str:
    return keyed_hash("phone-number", number, *key(setting))


def assert_no_number(text: str, where: str) -> None:
    leaked = [s for s in SPELLINGS if s in text]
    assert not leaked, f"{where} shows the number as {leaked}"


@pytest.fixture
def world(app, factory, orgs):
    app.config["PHONE_DEFAULT_REGION"] = "VN"
    app.config["OBSERVABLE_HASH_KEYS"] = K1
    grid = factory.org("GridCo", sector="energy")
    everyone = {**orgs, "grid": grid}
    staff = factory.user(orgs["cert"], "cert-analyst", email="duty@cert.example")
    return {"orgs": everyone, "tokens": {name: factory.token(org) for name, org in everyone.items()},
            "users": {name: factory.user(org, "analyst", email=f"soc@{org.slug}.example")
                      for name, org in everyone.items() if name != "cert"},
            "staff": staff, "secret": enrol(app, staff)}


def file_reports(client, world) -> None:
    """The telecom's smishing report and the bank's fraud report, both AMBER, over the API, each
    writing the number its own way."""
    telco = incident_body(title="Smishing campaign: fake parcel fees", classification="fraud/phishing",
                          tlp="amber", description="SMS with a payment link sent from one number.",
                          observables=[{"type": "phone-number", "value": "+84 912 345 678"}])
    bank = incident_body(title="Customers defrauded by a caller posing as the bank", classification="fraud/masquerade",
                         tlp="amber", description="Customers were called and texted from this number.",
                         observables=[{"type": "phone-number", "value": "0912-345-678"}])
    for who, body in (("telco", telco), ("bank", bank)):
        response = client.post("/api/v1/incidents", json=body, headers=auth(world["tokens"][who]))
        assert response.status_code == 201, response.json


def publish(app) -> None:
    with app.app_context():
        publish_warnings(db.session)


def the_warning(app) -> EarlyWarning:
    with app.app_context():
        [warning] = db.session.execute(select(EarlyWarning)).scalars().all()
        db.session.expunge(warning)
        return warning


def taxii_envelope(app, live_server, alias: str, world, who: str) -> dict:
    with app.app_context():
        url = f"{live_server.url}/taxii2/api/collections/{by_alias(db.session, alias).id}/"
    org = world["orgs"][who]
    return TaxiiCollection(url, user=org.slug, password=world["tokens"][who]).get_objects()


def indicators(envelope: dict) -> list[dict]:
    return [o for o in envelope.get("objects", []) if o["type"] == "indicator"]


def latest_pattern(app, live_server, world, who: str, alias: str) -> str:
    found = indicators(taxii_envelope(app, live_server, alias, world, who))
    return max(found, key=lambda o: o["modified"])["pattern"]


def lookup(client, world, who: str, value: str):
    return client.get("/api/v1/observables", query_string={"value": value}, headers=auth(world["tokens"][who]))


def without_query(response) -> tuple[int, dict]:
    body = dict(response.json)
    query = body.pop("query")
    return response.status_code, {**body, "query": {k: query[k] for k in ("kind", "observable_type")}}


def staff_client(app, world):
    client = app.test_client()
    assert sign_in(client, world["staff"].email, world["secret"]).status_code == 302
    return client


def test_a_number_reported_by_a_telecom_and_a_bank_warns_both_sectors_by_its_hash_only(app, world, client,
                                                                                       live_server):
    file_reports(client, world)
    warning = the_warning(app)
    # One observable, one warning, for both sectors.
    assert (warning.observable_type, warning.observable_value) == ("phone-number", SMISHING_NUMBER)
    assert warning.reporter_count == 2 and warning.tlp == "amber"
    assert sorted(warning.targets) == ["sector-financial-services", "sector-telecommunications"]
    publish(app)
    digest = hash_under(K1)
    expected = f"[phone-number:x_cert_share_value_hmac = '{digest}']"
    # TAXII: the second bank (a reader of its sector, not a reporter) and the telecom get it.
    for who, alias in (("bank2", "sector-financial-services"), ("telco", "sector-telecommunications")):
        envelope = taxii_envelope(app, live_server, alias, world, who)
        assert [i["pattern"] for i in indicators(envelope)] == [expected], who
        assert_no_number(json.dumps(envelope, ensure_ascii=False), f"TAXII envelope of {alias} for {who}")
    # The energy company gets nothing of it.
    assert not indicators(taxii_envelope(app, live_server, "all-members", world, "grid"))

    # The member API and the warning page: the hash, never the number.
    member = auth(world["tokens"]["bank2"])
    got = client.get(f"/api/v1/warnings/{warning.id}", headers=member)
    assert got.status_code == 200 and got.json["observable"]["value"] == digest
    assert got.json["observable"]["value_hmac"] == digest
    assert_no_number(got.get_data(as_text=True), "the member API's warning")
    assert_no_number(client.get("/api/v1/warnings", headers=member).get_data(as_text=True), "the member API's list")
    web = app.test_client()
    assert login(web, world["users"]["bank2"].email).status_code == 302
    for path in (f"/warnings/{warning.id}", "/warnings", "/", f"/warnings/{warning.id}/stix"):
        page = web.get(path)
        assert page.status_code == 200, path
        assert_no_number(page.get_data(as_text=True), f"the member's page {path}")
    assert digest in web.get(f"/warnings/{warning.id}").get_data(as_text=True)
    # No mail to a member names the number.
    with app.app_context():
        member_mail = db.session.execute(select(OutboxMessage).where(
            OutboxMessage.recipient_org_id != world["orgs"]["cert"].id)).scalars().all()
        for message in member_mail:
            assert_no_number(f"{message.subject}\n{message.text}\n{message.html}", f"mail to {message.to}")
    # CERT staff see the number.
    staff_page = staff_client(app, world).get(f"/warnings/{warning.id}").get_data(as_text=True)
    assert "+84 912 345 678" in staff_page or SMISHING_NUMBER in staff_page

    # A member holding the number finds the warning, answered with its hash.
    for value in ("+84912345678", "0912 345 678", digest):
        found = lookup(client, world, "bank2", value)
        assert found.status_code == 200
        assert [(w["id"], w["observable"]["value"], w["observable"]["value_hmac"])
                for w in found.json["warnings"]["items"]] == [(warning.id, digest, digest)], value
        assert_no_number(json.dumps(found.json["warnings"]), "the lookup's warnings")
    by_hash = lookup(client, world, "bank2", digest)
    assert by_hash.json["query"] == {"text": digest, "kind": "hmac", "value": digest, "observable_type": None}
    assert_no_number(by_hash.get_data(as_text=True), "the answer to a lookup by hash")

    # A member of another sector: the same answer as for a number nobody reported.
    for reported, unreported in ((SMISHING_NUMBER, UNREPORTED_NUMBER), ("0912 345 678", "0987 654 321"),
                                 (digest, hash_under(K1, UNREPORTED_NUMBER))):
        seen, unseen = lookup(client, world, "grid", reported), lookup(client, world, "grid", unreported)
        assert without_query(seen) == without_query(unseen), reported
        assert seen.json["warnings"]["items"] == [] and seen.json["reports"]["items"] == []
    assert_no_number(lookup(client, world, "grid", digest).get_data(as_text=True), "another sector's lookup")
    grid_web = app.test_client()
    assert login(grid_web, world["users"]["grid"].email).status_code == 302
    seen_page = grid_web.get("/search", query_string={"q": digest}).get_data(as_text=True)
    unseen = hash_under(K1, UNREPORTED_NUMBER)
    unseen_page = grid_web.get("/search", query_string={"q": unseen}).get_data(as_text=True)
    hashes = re.compile(r"hmac-sha256:k1:[0-9a-f]+")  # the query, also cut short in the page's title
    assert hashes.sub("HASH", without_csrf(seen_page)) == hashes.sub("HASH", without_csrf(unseen_page))


def test_cert_staff_publish_the_number_in_clear_and_it_is_audited(app, world, client, live_server):
    file_reports(client, world)
    publish(app)
    warning = the_warning(app)
    staff = staff_client(app, world)
    page = staff.get(f"/warnings/{warning.id}").get_data(as_text=True)
    assert hash_under(K1) in page and 'id="publish-clear-form"' in page
    # A member may not make that choice, by the API or the page.
    member = auth(world["tokens"]["bank"])
    assert client.patch(f"/api/v1/warnings/{warning.id}", json={"publish_clear": True},
                        headers=member).status_code == 403
    response = staff.post(f"/warnings/{warning.id}/publish-clear", data={"csrf_token": csrf_token(page), "clear": "1"})
    assert response.status_code == 302
    with app.app_context():
        [entry] = db.session.execute(select(AuditEntry).where(AuditEntry.action == "warning.publish-clear")).scalars()
        assert (entry.actor_user_id, entry.target_type, entry.target_id) == (world["staff"].id, "warning",
                                                                             str(warning.id))
        assert entry.at is not None and SMISHING_NUMBER not in json.dumps(entry.details)
    publish(app)
    history = staff.get(f"/warnings/{warning.id}").get_data(as_text=True)
    assert "Value published in clear" in history and "changed: keyed hash or value" in history
    clear = "[phone-number:value = '+84912345678']"
    assert latest_pattern(app, live_server, world, "bank2", "sector-financial-services") == clear
    found = lookup(client, world, "bank2", "0912345678").json["warnings"]["items"]
    assert [(w["observable"]["value"], w["observable"]["value_hmac"]) for w in found] == [
        (SMISHING_NUMBER, hash_under(K1))]
    # Back to the hash over the API, audited too; an address has no hash to go back to.
    cert = auth(world["tokens"]["cert"])
    edited = client.patch(f"/api/v1/warnings/{warning.id}", json={"publish_clear": False}, headers=cert)
    assert edited.status_code == 200 and edited.json["publish_clear"] is False
    publish(app)
    assert latest_pattern(app, live_server, world, "bank2", "sector-financial-services") == (
        f"[phone-number:x_cert_share_value_hmac = '{hash_under(K1)}']")
    with app.app_context():
        assert db.session.execute(select(AuditEntry.actor).where(
            AuditEntry.action == "warning.publish-hashed")).scalar_one().startswith("token:")


def test_a_key_rotation_gives_members_the_new_hash_and_the_old_one_still_finds_it(app, world, client, live_server,
                                                                                 runner):
    file_reports(client, world)
    publish(app)
    warning = the_warning(app)
    old, new = hash_under(K1), hash_under(K2)
    app.config["OBSERVABLE_HASH_KEYS"] = f"{K2},{K1}"  # the CERT puts the new key first
    result = runner.invoke(args=["warnings", "rehash"])
    assert result.exit_code == 0 and result.output.startswith("1 published warning(s)"), result.output
    assert runner.invoke(args=["warnings", "rehash"]).output.startswith("0 published warning(s)")
    publish(app)
    for who, alias in (("bank2", "sector-financial-services"), ("telco", "sector-telecommunications")):
        assert latest_pattern(app, live_server, world, who, alias) == (
            f"[phone-number:x_cert_share_value_hmac = '{new}']")
    # During the rotation both keys find it; the answer carries the new hash.
    for value in (old, new, SMISHING_NUMBER):
        items = lookup(client, world, "telco", value).json["warnings"]["items"]
        assert [(w["id"], w["observable"]["value"]) for w in items] == [(warning.id, new)], value
    # Once the old key is withdrawn, a hash under it is refused, whoever asks.
    app.config["OBSERVABLE_HASH_KEYS"] = K2
    for who in ("telco", "grid"):
        refused = lookup(client, world, who, old)
        assert refused.status_code == 400 and "k1" in refused.json["message"], refused.json


@pytest.mark.parametrize("publish_clear", [False, True])
def test_an_alert_mail_to_a_member_names_a_number_only_as_the_warning_does(app, world, publish_clear):
    """The owner of a warning hears of it by mail: a personal value appears there as the warning
    carries it (its hash unless the CERT published it in clear)."""
    from datetime import datetime, timezone

    from cert_share.mail import messages

    app.config["BASE_URL"] = "https://cert.example"
    moment = datetime(2026, 11, 2, tzinfo=timezone.utc)
    with app.app_context():
        warning = EarlyWarning(id=7, observable_type="phone-number", observable_value=SMISHING_NUMBER,
                               observable_display="+84 912 345 678", title="Fraud: phone number in your assets",
                               description="Reported by 2 organizations.", recommended_action="Block it.",
                               tlp="amber+strict", valid_until=moment, report_id="report--x",
                               publish_clear=publish_clear)
        bank = world["orgs"]["bank"]
        message = messages.asset_warning(warning, bank, messages.Recipient("admin@first-bank.example", None,
                                                                            messages.MEMBER_ADMIN, bank.name))
    text = f"{message.subject}\n{message.text}\n{message.html}"
    if publish_clear:
        assert "+84 912 345 678" in text
    else:
        assert hash_under(K1) in text
        assert_no_number(text, "the alert mail")


def test_the_api_document_says_how_to_look_up_a_hashed_value_and_publish_one_in_clear(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    lookup_doc = doc["paths"]["/api/v1/observables"]["get"]
    assert "hmac-sha256:<key id>:<64 hex>" in lookup_doc["description"]
    assert "full card number" in lookup_doc["responses"]["400"]["description"]
    schemas = doc["components"]["schemas"]
    assert "publish_clear" in schemas["WarningEdit"]["properties"]
    assert "publish_clear" in schemas["Warning"]["properties"]
    assert "value_hmac" in schemas["Warning"]["properties"]["observable"]["description"]


def test_going_back_to_the_hash_removes_the_clear_versions_from_every_taxii_route(app, world, client):
    """Published hashed, then in clear, then hashed again: the clear version leaves every
    collection, so no TAXII read (all versions, one object's versions, the manifest) names the
    number any more; the hashed versions stay."""
    import base64

    file_reports(client, world)
    publish(app)
    warning = the_warning(app)
    cert = auth(world["tokens"]["cert"])
    clear = "[phone-number:value = '+84912345678']"
    hashed = f"[phone-number:x_cert_share_value_hmac = '{hash_under(K1)}']"
    for choice in (True, False):
        assert client.patch(f"/api/v1/warnings/{warning.id}", json={"publish_clear": choice},
                            headers=cert).status_code == 200
        publish(app)
        if choice:  # members could fetch it meanwhile
            with app.app_context():
                assert db.session.execute(select(func.count()).select_from(StixObject).where(
                    StixObject.stix_id == warning.indicator_id, StixObject.body.contains(clear))).scalar() == 2

    def reads(who: str, alias: str) -> dict[str, str]:
        with app.app_context():
            base = f"/taxii2/api/collections/{by_alias(db.session, alias).id}"
        org = world["orgs"][who]
        headers = {"Accept": "application/taxii+json;version=2.1", "Authorization": "Basic " + base64.b64encode(
            f"{org.slug}:{world['tokens'][who]}".encode()).decode()}
        every = {"match[version]": "all"}
        answers = {}
        for path, query in ((f"{base}/objects/", every), (f"{base}/objects/", {"match[version]": "first"}),
                            (f"{base}/objects/{warning.indicator_id}/", every),
                            (f"{base}/objects/{warning.report_id}/", every),
                            (f"{base}/objects/{warning.indicator_id}/versions/", {}),
                            (f"{base}/manifest/", every)):
            response = client.get(path, query_string=query, headers=headers)
            assert response.status_code == 200, (path, response.get_data(as_text=True))
            answers[f"{path}?{query}"] = response.get_data(as_text=True)
        return answers

    for who, alias in (("bank2", "sector-financial-services"), ("telco", "sector-telecommunications")):
        answers = reads(who, alias)
        for where, text in answers.items():
            assert_no_number(text, f"{where} for {who}")
        objects = json.loads(next(t for w, t in answers.items() if w.endswith("/objects/?{'match[version]': 'all'}")))
        patterns = [o["pattern"] for o in objects["objects"] if o["type"] == "indicator"]
        assert patterns == [hashed, hashed], who  # the first hashed version and the last: same hash
        versions = json.loads(next(t for w, t in answers.items() if "/versions/" in w))["versions"]
        assert len(versions) == 2, versions
    with app.app_context():
        # The reporters' own reports in intake keep the number (theirs to read); the warning's rows do not.
        assert db.session.execute(select(func.count()).select_from(StixObject).where(
            StixObject.stix_id.in_([warning.indicator_id, warning.report_id]),
            StixObject.body.contains(SMISHING_NUMBER))).scalar() == 0
        [entry] = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == "warning.clear-versions-removed")).scalars()
        assert entry.target_id == str(warning.id) and SMISHING_NUMBER not in json.dumps(entry.details)
        assert entry.details["collections"] == ["sector-financial-services", "sector-telecommunications"]
    # The member API and pages show the hashed version, and CERT staff still see the whole story.
    got = client.get(f"/api/v1/warnings/{warning.id}", headers=auth(world["tokens"]["bank2"]))
    assert got.status_code == 200 and got.json["observable"]["value"] == hash_under(K1)
    history = staff_client(app, world).get(f"/warnings/{warning.id}").get_data(as_text=True)
    assert "Value published in clear" in history


@pytest.mark.parametrize("rotation", ["SECRET_KEY", "same key id"])
def test_a_new_key_under_the_same_setting_is_caught_by_rehash(app, world, client, live_server, runner, rotation):
    """SECRET_KEY changes while the derived key is in use, or a CERT puts a new secret under an id
    it used before: rehash compares the whole hash, so members get a version under the new key."""
    if rotation == "SECRET_KEY":
        app.config["OBSERVABLE_HASH_KEYS"] = ""
    file_reports(client, world)
    publish(app)
    before = latest_pattern(app, live_server, world, "bank2", "sector-financial-services")
    if rotation == "SECRET_KEY":
        app.config["SECRET_KEY"] = "a-brand-new-secret-key-after-rotation-0123456789"
    else:
        app.config["OBSERVABLE_HASH_KEYS"] = "k1:" + K2.partition(":")[2]
    with app.app_context():
        from cert_share.stix.keyed_hash import current_hash

        new = current_hash("phone-number", SMISHING_NUMBER)
    assert new not in before
    result = runner.invoke(args=["warnings", "rehash"])
    assert result.exit_code == 0 and result.output.startswith("1 published warning(s)"), result.output
    assert runner.invoke(args=["warnings", "rehash"]).output.startswith("0 published warning(s)")
    publish(app)
    for who, alias in (("bank2", "sector-financial-services"), ("telco", "sector-telecommunications")):
        assert latest_pattern(app, live_server, world, who, alias) == (
            f"[phone-number:x_cert_share_value_hmac = '{new}']")
    items = lookup(client, world, "bank2", SMISHING_NUMBER).json["warnings"]["items"]
    assert [w["observable"]["value_hmac"] for w in items] == [new]
