"""STIX bundles → reports: which observables does a pattern yield, and which bundles are refused?"""
from __future__ import annotations

import uuid

import pytest

from cert_share.stix.drafts import ImportFormatError
from cert_share.stix.parse import PatternError, bundle_to_drafts, pattern_comparisons

TS = "2026-01-05T10:00:00.000Z"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"


@pytest.mark.parametrize("pattern,expected", [
    ("[ipv4-addr:value = '203.0.113.7']", [("ipv4-addr", "203.0.113.7")]),
    ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", [("ipv4-addr", "198.51.100.0/24")]),
    ("[domain-name:value = 'evil.example' OR domain-name:value = 'bad.example']",
     [("domain-name", "evil.example"), ("domain-name", "bad.example")]),
    ("[url:value = 'http://x.example/it\\'s'] OR [file:hashes.'SHA-256' = '" + "ab" * 32 + "']",
     [("url", "http://x.example/it's"), ("file:sha256", "ab" * 32)]),
    ("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']", [("file:md5", "d41d8cd98f00b204e9800998ecf8427e")]),
    ("[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
     [("file:sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709")]),
    ("[autonomous-system:number = 64500]", [("autonomous-system", "64500")]),
    ("[email-addr:value = 'ceo@evil.example']", [("email-addr", "ceo@evil.example")]),
    ("[ipv6-addr:value = '2001:db8::1']", [("ipv6-addr", "2001:db8::1")]),
    ("[process:name = 'evil.exe']", []),
    # Not the fast path: AND, qualifiers, negation, other operators.
    ("[file:name = 'a.exe' AND file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
     [("file:md5", "d41d8cd98f00b204e9800998ecf8427e")]),
    ("[network-traffic:dst_ref.value = '203.0.113.7' AND network-traffic:dst_port = 443]",
     [("ipv4-addr", "203.0.113.7")]),
    ("[email-message:from_ref.value = 'ceo@evil.example']", [("email-addr", "ceo@evil.example")]),
    ("[ipv4-addr:value = '203.0.113.7'] FOLLOWEDBY [domain-name:value = 'evil.example'] WITHIN 60 SECONDS",
     [("ipv4-addr", "203.0.113.7"), ("domain-name", "evil.example")]),
    ("[ipv4-addr:value == '203.0.113.7']", [("ipv4-addr", "203.0.113.7")]),
    ("[ipv4-addr:value != '203.0.113.7']", []),
    ("[domain-name:value LIKE '%.evil.example']", []),
])
def test_observables_out_of_patterns(pattern, expected):
    assert sorted(pattern_comparisons(pattern)) == sorted(expected)


@pytest.mark.parametrize("pattern", ["[ipv4-addr:value = '1.2.3.4'", "ipv4-addr:value = '1.2.3.4'",
                                     "[ipv4-addr:value = ]", "[ipv4-addr:value = '1.2.3.4'] AND", ""])
def test_invalid_patterns_raise(pattern):
    with pytest.raises(PatternError):
        pattern_comparisons(pattern)


def sid(kind: str) -> str:
    return f"{kind}--{uuid.uuid4()}"


def indicator(pattern: str, *, marking=GREEN, **kw) -> dict:
    obj = {"type": "indicator", "spec_version": "2.1", "id": sid("indicator"), "created": TS, "modified": TS,
           "pattern": pattern, "pattern_type": "stix", "valid_from": TS}
    if marking:
        obj["object_marking_refs"] = [marking]
    obj.update(kw)
    return obj


def bundle(*objects) -> dict:
    return {"type": "bundle", "id": sid("bundle"), "objects": list(objects)}


def test_incident_gets_the_indicators_and_scos_related_to_it_others_go_to_a_second_report():
    inc = {"type": "incident", "spec_version": "2.1", "id": sid("incident"), "created": TS, "modified": TS,
           "name": "Phishing wave", "labels": ['rsit:fraud="phishing"', "severity:critical"],
           "object_marking_refs": [GREEN]}
    tied = indicator("[domain-name:value = 'login-bank.example']")
    sco = {"type": "ipv4-addr", "spec_version": "2.1", "id": sid("ipv4-addr"), "value": "203.0.113.7",
           "object_marking_refs": [TLP1_AMBER]}
    loose = indicator("[url:value = 'http://other.example/x']", marking=None)
    rels = [{"type": "relationship", "spec_version": "2.1", "id": sid("relationship"), "created": TS,
             "modified": TS, "relationship_type": "related-to", "source_ref": inc["id"], "target_ref": t["id"]}
            for t in (tied, sco)]
    drafts = bundle_to_drafts(bundle(inc, tied, sco, loose, *rels), file_name="feed.json")
    assert len(drafts) == 2
    report, rest = drafts
    assert report.title == "Phishing wave" and report.external_id == inc["id"]
    assert report.classification == "fraud/phishing" and report.severity == "critical"
    assert {(o.type, o.value) for o in report.observables} == {("domain-name", "login-bank.example"),
                                                               ("ipv4-addr", "203.0.113.7")}
    assert report.tlp == "amber"  # the SCO's TLP 1.0 amber is stricter than the incident's green
    assert rest.title == "Imported indicators from feed.json"
    assert [(o.type, o.value) for o in rest.observables] == [("url", "http://other.example/x")]
    assert rest.tlp == "amber+strict"  # unmarked: fail closed


def test_loose_indicators_take_the_strictest_marking_and_a_stable_external_id():
    objs = [indicator("[ipv4-addr:value = '203.0.113.7']"), indicator("[ipv4-addr:value = '203.0.113.8']", marking=RED)]
    first = bundle_to_drafts(bundle(*objs), file_name="a.json")[0]
    again = bundle_to_drafts(bundle(*objs), file_name="a.json")[0]
    assert first.tlp == "red"
    assert first.external_id == again.external_id  # a new bundle id does not make it new


def test_invalid_values_and_foreign_pattern_types_are_counted_not_fatal():
    objs = [indicator("[ipv4-addr:value = '999.1.1.1']"), indicator("alert tcp any any", pattern_type="snort"),
            indicator("[process:name = 'x.exe']"), indicator("[ipv4-addr:value = '203.0.113.7']")]
    draft = bundle_to_drafts(bundle(*objs), file_name="f.json")[0]
    assert [o.value for o in draft.observables] == ["203.0.113.7"]
    assert len(draft.invalid) == 1 and "999.1.1.1" in draft.invalid[0]
    assert draft.skipped == {"indicator with pattern_type snort": 1,
                             "indicator without a supported observable in its pattern": 1}


@pytest.mark.parametrize("document,message", [
    ([1, 2], "not a STIX bundle"),
    ({"type": "report"}, "not a STIX bundle"),
    ({"type": "bundle", "id": "bundle--nope", "objects": []}, "bundle id"),
    ({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "spec_version": "2.0", "objects": []}, "2.0"),
    ({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": {}}, "must be a list"),
    (bundle("x"), "not a JSON object"),
    (bundle({"type": "indicator", "id": "indicator--1"}), "invalid id"),
    (bundle({"type": "indicator", "id": f"malware--{uuid.uuid4()}"}), "invalid id"),
    (bundle(indicator("[ipv4-addr:value = '1.2.3.4']", spec_version="2.0")), "spec_version"),
    (bundle(indicator("[ipv4-addr:value = '1.2.3.4']", created="yesterday")), "created"),
    (bundle(indicator("[ipv4-addr:value = '1.2.3.4']", valid_from=None)), "valid_from"),
    (bundle(indicator("")), "pattern"),
    (bundle(indicator("[ipv4-addr:value = '1.2.3.4'")), "invalid STIX pattern"),
])
def test_invalid_bundles_are_refused_with_a_message(document, message):
    with pytest.raises(ImportFormatError, match=message):
        bundle_to_drafts(document, file_name="bad.json")
