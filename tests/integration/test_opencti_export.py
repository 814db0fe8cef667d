"""A report with fraud identifiers, as a member's tooling and OpenCTI get it: the STIX export and
the report's objects in the TAXII intake collection carry OpenCTI's SCOs and the
extension-definition they reference, and the export passes stix2-validator."""
from __future__ import annotations

import json

from stix2validator import ValidationOptions, validate_string

from cert_share.extensions import db
from cert_share.models import StixObject
from tests.conftest import auth
from tests.integration.incident_bodies import incident_body

OPENCTI_SCO = "extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82"
FRAUD = [
    {"type": "bank-account", "value": "DE89 3704 0044 0532 0130 00"},
    {"type": "phone-number", "value": "+84 912 345 678"},
    {"type": "cryptocurrency-wallet", "value": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"},
    {"type": "payment-card", "value": "4111 11** **** 1111"},
]


def fraud_report(client, token) -> dict:
    body = incident_body(title="Mule account and smishing", classification="fraud/phishing", observables=FRAUD)
    resp = client.post("/api/v1/incidents", json=body, headers=auth(token))
    assert resp.status_code == 201, resp.json
    return resp.json


def test_the_export_carries_opencti_s_scos_and_their_extension_definition(client, factory):
    token = factory.token(factory.org("Mekong Bank", sector="financial-services"))
    created = fraud_report(client, token)
    bundle = client.get(f"/api/v1/incidents/{created['id']}/stix", headers=auth(token)).json
    result = validate_string(json.dumps(bundle), ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]
    types = [o["type"] for o in bundle["objects"]]
    assert {"bank-account", "phone-number", "cryptocurrency-wallet", "payment-card"} <= set(types)
    assert [o["id"] for o in bundle["objects"]].count(OPENCTI_SCO) == 1
    for obj in bundle["objects"]:
        if obj["type"] in {"bank-account", "phone-number", "cryptocurrency-wallet", "payment-card"}:
            assert obj["extensions"] == {OPENCTI_SCO: {"extension_type": "new-sco"}}
    card = next(o for o in bundle["objects"] if o["type"] == "payment-card")
    assert card["card_number"] == "411111******1111"


def test_the_intake_collection_holds_the_definition_with_the_report(client, app, factory):
    token = factory.token(factory.org("Mekong Bank", sector="financial-services"))
    created = fraud_report(client, token)
    with app.app_context():
        rows = db.session.query(StixObject).filter_by(incident_id=created["id"]).all()
        by_type = {}
        for row in rows:
            by_type.setdefault(row.type, []).append(row)
    assert [r.stix_id for r in by_type["extension-definition"]] == [OPENCTI_SCO]
    assert len(by_type["phone-number"]) == 1
