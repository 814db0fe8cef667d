"""What the platform emits as STIX: would another CERT's tooling accept it as is?"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import stix2
from stix2validator import validate_string

from cert_share.stix import build, markings
from cert_share.stix.observables import normalize

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
OFFICIAL_TLP = {  # FIRST TLP 2.0 marking definitions (extension-definition--60a3c5c5-…)
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
VALUES = [("ipv4-addr", "203.0.113.7"), ("ipv6-addr", "2001:db8::1"), ("domain-name", "bücher.example"),
          ("url", "http://evil.example/it's"), ("email-addr", "ceo@bank.example"),
          ("file:md5", "d41d8cd98f00b204e9800998ecf8427e"), ("file:sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
          ("file:sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
          ("file:sha512", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0"
                          "d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
          ("autonomous-system", "AS64500"), ("ipv4-addr", "198.51.100.0/24")]


def org():
    return SimpleNamespace(name="First Bank", sector="financial-services", created_at=T0 - timedelta(days=30),
                           stix_id="identity--2b7c1a50-2f1c-4d2e-9a7e-7a3b6a8d9c01")


def incident(tlp="amber", **kw):
    values = dict(stix_id="incident--6d0f6b55-9a5e-4f57-8d0b-3c1b1c2f0a11", title="Ransomware on file servers",
                  description="Encrypted shares.", classification="malicious-code/infected-system",
                  severity="high", tlp=tlp, status="new", detected_at=T0 - timedelta(hours=2),
                  started_at=T0 - timedelta(hours=5), created_at=T0, stix_modified=T0,
                  affected_services="File shares", impact="Two servers down", cross_border=["FI", "LV"])
    values.update(kw)
    return SimpleNamespace(**values)


def observables():
    out = []
    for i, (type_, value) in enumerate(VALUES):
        obs = normalize(type_, value)
        out.append(SimpleNamespace(type=obs.type, value=obs.value,
                                   indicator_id=f"indicator--00000000-0000-4000-8000-{i:012d}"))
    return out


def report_bundle(inc=None) -> dict:
    inc = inc or incident()
    return build.bundle([build.identity(org())] + build.incident_objects(inc, org(), observables()))


def test_bundle_passes_stix2_validator_without_errors():
    result = validate_string(json.dumps(report_bundle()))
    assert result.is_valid, [str(e) for e in result.errors]
    assert not result.errors


@pytest.mark.parametrize("tlp", list(OFFICIAL_TLP))
def test_every_tlp_level_yields_a_valid_bundle_with_the_official_marking(tlp):
    bundle = report_bundle(incident(tlp=tlp))
    assert validate_string(json.dumps(bundle)).is_valid
    marked = [o for o in bundle["objects"] if o["type"] not in {"identity", "marking-definition"}]
    assert {ref for o in marked for ref in o["object_marking_refs"]} == {OFFICIAL_TLP[tlp]}
    definitions = [o for o in bundle["objects"] if o["type"] == "marking-definition"]
    assert [d["id"] for d in definitions] == [OFFICIAL_TLP[tlp]]
    assert markings.marking_id(tlp) == OFFICIAL_TLP[tlp]


def test_stix2_parses_every_object():
    for obj in report_bundle()["objects"]:
        parsed = stix2.parse(obj, allow_custom=False)
        assert parsed.id == obj["id"]


def test_sco_ids_are_the_deterministic_ids_stix2_computes():
    scos = [o for o in report_bundle()["objects"] if o["type"] in {
        "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file", "autonomous-system"}]
    assert len(scos) == len(VALUES)
    for sco in scos:
        contributing = {k: v for k, v in sco.items() if k not in {"id", "object_marking_refs"}}
        assert stix2.parse(contributing).id == sco["id"]


def test_each_observable_has_indicator_sighting_and_relationship_to_the_incident():
    objects = report_bundle()["objects"]
    by_type = {}
    for obj in objects:
        by_type.setdefault(obj["type"], []).append(obj)
    assert len(by_type["indicator"]) == len(by_type["sighting"]) == len(by_type["relationship"]) == len(VALUES)
    inc = by_type["incident"][0]
    assert {r["source_ref"] for r in by_type["relationship"]} == {inc["id"]}
    assert {s["where_sighted_refs"][0] for s in by_type["sighting"]} == {org().stix_id}
    core = inc["extensions"][build.INCIDENT_CORE_EXTENSION]
    assert core["criticality"] == 75 and core["determination"] == "suspected"
    assert 'rsit:malicious-code="infected-system"' in inc["labels"]
    assert "cross-border:FI" in inc["labels"]


def test_a_phase_update_keeps_every_id_and_bumps_modified():
    first = report_bundle(incident())["objects"]
    later = report_bundle(incident(stix_modified=T0 + timedelta(days=1)))["objects"]
    assert [o["id"] for o in first] == [o["id"] for o in later]
    before = next(o for o in first if o["type"] == "incident")
    after = next(o for o in later if o["type"] == "incident")
    assert after["created"] == before["created"]
    assert after["modified"] > before["modified"]
    assert after["modified"].startswith("2026-03-03T09:30:00")


def test_derived_ids_are_stable_and_uuid4_shaped():
    a = build.derived_id("sighting", "indicator--x")
    assert a == build.derived_id("sighting", "indicator--x") != build.derived_id("sighting", "indicator--y")
    assert a.split("--")[1][14] == "4"


@pytest.mark.parametrize("microsecond", [0, 1, 100, 120_000, 123_000, 123_456, 999_999])
def test_version_timestamps_are_written_as_stix2_writes_them(microsecond):
    # Two phase updates a few microseconds apart are two versions: the digits must survive.
    at = T0.replace(microsecond=microsecond)
    expected = stix2.v21.Identity(id=org().stix_id, created=at, modified=at, name="x").serialize()
    assert json.loads(expected)["modified"] == build.version_timestamp(at)
    identity = build.identity(SimpleNamespace(**{**vars(org()), "created_at": at}))
    assert identity["created"] == build.version_timestamp(at)


def test_updates_a_microsecond_apart_are_distinct_versions():
    first = build.incident_objects(incident(stix_modified=T0 + timedelta(microseconds=1)), org(), [])[0]
    second = build.incident_objects(incident(stix_modified=T0 + timedelta(microseconds=2)), org(), [])[0]
    assert first["modified"] != second["modified"]


@pytest.mark.parametrize("parts", [("indicator--x",), ("indicator--a", "incident--b"), ("report", "é|ü", "org:7"),
                                   ("",)])
def test_derived_ids_are_uuid5_in_our_namespace_with_version_4(parts):
    import uuid

    digest = uuid.uuid5(build.CERT_SHARE_NAMESPACE, "|".join(parts))
    assert build.derived_id("sighting", *parts) == f"sighting--{uuid.UUID(bytes=digest.bytes, version=4)}"
