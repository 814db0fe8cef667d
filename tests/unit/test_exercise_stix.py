"""A drill's injects as STIX: would another CERT's tooling accept them, and could anyone mistake
one for real intelligence?"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib import resources
from types import SimpleNamespace

import jsonschema
import pytest
import stix2
from stix2validator import validate_string

from cert_share.stix import build, exercise, markings, opencti
from cert_share.stix.observables import normalize

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
CERT = SimpleNamespace(name="National CERT", sector="government-national", created_at=T0,
                       stix_id="identity--2b7c1a50-2f1c-4d2e-9a7e-7a3b6a8d9c01")
DRILL = SimpleNamespace(id=7, slug="winter-drill")
VALUES = [("ipv4-addr", "203.0.113.7"), ("ipv6-addr", "2001:db8::1"), ("domain-name", "login-bank.example"),
          ("url", "http://phish.example/login"), ("email-addr", "ceo@bank.example"),
          ("file:sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
DESCRIPTIVE = {"identity", "marking-definition", "extension-definition"}
SCO_TYPES = {"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file", "phone-number"}


def stored(values=VALUES) -> list[dict]:
    observables = [normalize(type_, value) for type_, value in values]
    return [{"type": o.type, "value": o.value, "display": o.display} for o in observables]


def inject(kind="warning", tlp="amber", values=VALUES, **kw):
    fields = dict(number=2, kind=kind, title="Credential phishing against online banking",
                  description="Customers receive mail leading to a fake login page.", observables=stored(values),
                  tlp=tlp, expect="acknowledge", partner_name="CERT-Ruritania" if kind == "cooperation" else None,
                  stix_id=("report" if kind == "warning" else "note") + "--6d0f6b55-9a5e-4f57-8d0b-3c1b1c2f0a11")
    fields.update(kw)
    return SimpleNamespace(**fields)


def published(kind="warning", **kw) -> list[dict]:
    """Everything run-exercises stores for one inject."""
    return exercise.collection_objects(exercise.inject_objects(DRILL, inject(kind, **kw), CERT, sent=T0))


@pytest.mark.parametrize("kind", ["warning", "cooperation"])
def test_every_object_is_valid_stix_2_1(kind):
    objects = published(kind)
    for obj in objects:
        assert stix2.parse(obj, allow_custom=False).id == obj["id"]
    result = validate_string(json.dumps(build.bundle(objects)))
    assert result.is_valid, [str(e) for e in result.errors]


@pytest.mark.parametrize("kind", ["warning", "cooperation"])
def test_every_drill_object_says_it_is_an_exercise_three_ways(kind):
    schema = json.loads(resources.files("cert_share.stix").joinpath("data/exercise-extension.schema.json")
                        .read_text("utf-8"))
    drill_objects = [o for o in published(kind) if o["type"] not in DESCRIPTIVE]
    assert len(drill_objects) == 2 * len(VALUES) + 1  # SCOs, indicators, the report or note
    for obj in drill_objects:
        ext = obj["extensions"][exercise.EXTENSION_ID]
        assert ext == {"extension_type": "property-extension", "exercise_id": 7, "exercise": "winter-drill",
                       "inject": 2}
        jsonschema.validate(ext, schema)
        if obj["type"] in SCO_TYPES:
            continue  # STIX 2.1 gives SCOs neither labels nor names
        assert "exercise" in obj["labels"]
        title = obj.get("name") or obj.get("abstract")
        assert title.startswith("[EXERCISE] "), obj


def test_a_warning_inject_reads_as_an_early_warning_by_the_cert():
    objects = {o["id"]: o for o in published("warning")}
    report = objects[inject().stix_id]
    assert report["type"] == "report" and report["name"] == "[EXERCISE] Credential phishing against online banking"
    assert report["created_by_ref"] == CERT.stix_id and CERT.stix_id in objects
    assert report["labels"] == ["exercise", "early-warning"]
    indicators = [o for o in objects.values() if o["type"] == "indicator"]
    assert sorted(i["pattern"] for i in indicators) == sorted(normalize(t, v).pattern() for t, v in VALUES)
    assert set(report["object_refs"]) == {o["id"] for o in objects.values() if o["type"] in SCO_TYPES | {"indicator"}}
    assert {i["created_by_ref"] for i in indicators} == {CERT.stix_id}


def test_a_cooperation_inject_comes_from_a_fictitious_partner_that_stays_the_same_within_the_drill():
    objects = published("cooperation")
    [note] = [o for o in objects if o["type"] == "note"]
    partner_id = exercise.partner_identity_id(DRILL, "CERT-Ruritania")
    partner = next(o for o in objects if o["id"] == partner_id)
    assert partner["name"] == "[EXERCISE] CERT-Ruritania"
    assert note["created_by_ref"] == partner_id and note["abstract"].startswith("[EXERCISE] ")
    assert note["labels"] == ["exercise", "cooperation-request"]
    assert set(note["object_refs"]) == {o["id"] for o in objects if o["type"] == "indicator"}
    # Another inject of the same drill names the same partner; another drill's partner is another.
    again = exercise.inject_objects(DRILL, inject("cooperation", number=3), CERT, sent=T0)
    assert partner_id in {o["id"] for o in again}
    assert exercise.partner_identity_id(SimpleNamespace(id=8, slug="x"), "CERT-Ruritania") != partner_id


def test_a_cooperation_inject_without_observables_refers_to_its_partner():
    [note] = [o for o in published("cooperation", values=[]) if o["type"] == "note"]
    assert note["object_refs"] == [exercise.partner_identity_id(DRILL, "CERT-Ruritania")]


@pytest.mark.parametrize("tlp", ["clear", "green", "amber"])
def test_drill_objects_carry_the_injects_tlp_and_what_names_them_is_clear(tlp):
    objects = published(tlp=tlp)
    for obj in objects:
        if obj["type"] == "marking-definition":
            continue
        expected = "clear" if obj["type"] in DESCRIPTIVE else tlp
        assert markings.tlp_of(obj) == expected, obj["id"]
    # The definitions of the markings used, and the extension's own objects, go with them.
    ids = {o["id"] for o in objects}
    assert {markings.marking_id(tlp), markings.marking_id("clear"), exercise.EXTENSION_ID} <= ids


def test_the_shipped_extension_definition_names_its_schema_and_its_author():
    identity, definition = exercise.extension_objects()
    schema_text = resources.files("cert_share.stix").joinpath("data/exercise-extension.schema.json").read_text("utf-8")
    assert definition["id"] == exercise.EXTENSION_ID
    assert definition["extension_types"] == ["property-extension"]
    assert definition["schema"] == json.loads(schema_text)["$id"]
    assert definition["created_by_ref"] == identity["id"] == "identity--0d7b3bcb-1d1f-4a43-9a1e-6a1f6a7f5c21"
    # The same cert-share identity as the cooperation extension's: one object, not two versions of one.
    from cert_share.stix import cooperation
    assert identity == cooperation.extension_objects()[0]
    for obj in (identity, definition):
        assert stix2.parse(obj, allow_custom=False).id == obj["id"]
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_text))


def test_the_schema_refuses_an_extension_without_the_exercise():
    schema = json.loads(resources.files("cert_share.stix").joinpath("data/exercise-extension.schema.json")
                        .read_text("utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"extension_type": "property-extension", "inject": 1}, schema)


def test_a_fraud_observable_keeps_opencti_s_extension_beside_the_exercise_one():
    objects = published(values=[("phone-number", "+372 5123 4567")])
    [phone] = [o for o in objects if o["type"] == "phone-number"]
    assert set(phone["extensions"]) == {opencti.EXTENSION_ID, exercise.EXTENSION_ID}
    assert opencti.EXTENSION_ID in {o["id"] for o in objects}


def test_an_unknown_inject_kind_is_refused():
    with pytest.raises(ValueError, match="unknown inject kind"):
        exercise.inject_objects(DRILL, inject(kind="rumour"), CERT, sent=T0)
