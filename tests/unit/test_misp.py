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
