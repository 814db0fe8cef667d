"""An object's TLP is the strictest of every marking it references; only official TLP definitions count."""
from __future__ import annotations

import json
import uuid

import pytest
import stix2

from cert_share.stix import markings

GREEN, AMBER, STRICT, RED = (markings.marking_id(level) for level in ("green", "amber", "amber+strict", "red"))
TLP1_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
STATEMENT = f"marking-definition--{uuid.uuid4()}"


def granular(ref: str, *selectors: str) -> dict:
    return {"selectors": list(selectors) or ["name"], "marking_ref": ref}


@pytest.mark.parametrize("obj,level", [
    ({"object_marking_refs": [GREEN]}, "green"),
    ({"object_marking_refs": [GREEN], "granular_markings": [granular(RED)]}, "red"),
    ({"object_marking_refs": [GREEN], "granular_markings": [granular(STRICT, "description")]}, "amber+strict"),
    ({"object_marking_refs": [STRICT], "granular_markings": [granular(GREEN)]}, "amber+strict"),
    ({"granular_markings": [granular(AMBER, "name"), granular(GREEN, "description")]}, "amber"),
    ({"object_marking_refs": [GREEN], "granular_markings": [granular(TLP1_RED)]}, "red"),
    ({"object_marking_refs": [GREEN], "granular_markings": [{"selectors": ["name"], "lang": "fr"}]}, "green"),
    ({"object_marking_refs": [GREEN, STATEMENT]}, "green"),
    ({"object_marking_refs": [STATEMENT], "granular_markings": [granular(STATEMENT)]}, None),
    ({}, None),
])
def test_the_level_is_the_strictest_marking_anywhere_in_the_object(obj, level):
    assert markings.tlp_of(obj) == level


@pytest.mark.parametrize("granular_markings", [5, "marking-definition--x", [5, None, {"marking_ref": ["x"]}],
                                               {"marking_ref": RED}, [{"marking_ref": {"a": RED}}]])
def test_a_malformed_granular_marking_never_raises_nor_lowers(granular_markings):
    assert markings.tlp_of({"object_marking_refs": [AMBER], "granular_markings": granular_markings}) == "amber"


def test_red_hidden_among_malformed_entries_still_counts():
    obj = {"object_marking_refs": [GREEN], "granular_markings": [["junk"], granular(RED)]}
    assert markings.tlp_of(obj) == "red"


def test_objects_sharing_a_marking_list_are_answered_from_the_cache():
    markings._tlp_of_refs.cache_clear()
    for _ in range(1000):
        markings.tlp_of({"object_marking_refs": [GREEN], "granular_markings": [granular(STRICT)]})
    info = markings._tlp_of_refs.cache_info()
    assert (info.misses, info.hits) == (1, 999)


def test_marking_refs_lists_object_level_and_granular_references():
    obj = {"object_marking_refs": [GREEN],
           "granular_markings": [granular(STATEMENT), {"selectors": ["x"], "lang": "de"}]}
    assert markings.marking_refs(obj) == [GREEN, STATEMENT]


def _definition(**fields) -> dict:
    return {"type": "marking-definition", "spec_version": "2.1", "id": f"marking-definition--{uuid.uuid4()}",
            "created": "2026-01-01T00:00:00.000Z", **fields}


def test_the_official_definitions_are_not_forged():
    for obj in markings.marking_objects().values():
        assert markings.forged_tlp(obj) is None
    for obj in (stix2.TLP_WHITE, stix2.TLP_GREEN, stix2.TLP_AMBER, stix2.TLP_RED):
        assert markings.forged_tlp(json.loads(obj.serialize())) is None


@pytest.mark.parametrize("fake", [
    _definition(definition_type="tlp", definition={"tlp": "clear"}),
    _definition(definition_type="TLP", definition={"tlp": "white"}),
    _definition(name="TLP:CLEAR", extensions={markings.TLP_EXTENSION_ID: {"extension_type": "property-extension",
                                                                         "tlp_2_0": "clear"}}),
    _definition(name="TLP:RED"),
    _definition(name="tlp amber+strict", definition_type="statement", definition={"statement": "handle with care"}),
    _definition(definition_type="statement", definition={"statement": "x", "tlp": "green"}),
    _definition(extensions={f"extension-definition--{uuid.uuid4()}": {"extension_type": "property-extension",
                                                                     "x_acme_tlp": "clear"}}),
    _definition(extensions={f"extension-definition--{uuid.uuid4()}": {"extension_type": "property-extension",
                                                                     "iep_version": "2.0", "tlp": "red"}}),
    # An official id redefined at another level.
    {**markings.marking_objects()["green"], "name": "TLP:CLEAR",
     "extensions": {markings.TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "clear"}}},
    {key: value for key, value in markings.marking_objects()["red"].items() if key not in ("name", "extensions")},
])
def test_a_definition_that_claims_tlp_but_is_not_the_official_one_is_forged(fake):
    assert markings.forged_tlp(fake)


@pytest.mark.parametrize("honest", [
    _definition(definition_type="statement", definition={"statement": "Copyright 2026 First Bank"}),
    _definition(name="IEP: internal use only", extensions={
        f"extension-definition--{uuid.uuid4()}": {"extension_type": "property-extension", "iep_version": "2.0",
                                                  "permitted_actions": "internal-use-only"}}),
    _definition(name="TLPish custom handling"),
    {"type": "indicator", "name": "TLP:RED", "tlp": "clear"},  # not a marking-definition at all
])
def test_markings_that_say_nothing_about_tlp_are_not_forged(honest):
    assert markings.forged_tlp(honest) is None


def _bundle(*objects) -> dict:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def _incident(**extra) -> dict:
    return {"type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "Outage", **extra}


def test_an_imported_report_takes_the_strictest_marking_granular_ones_included():
    from cert_share.stix.parse import bundle_to_drafts

    incident = _incident(object_marking_refs=[GREEN], granular_markings=[granular(STRICT, "description")],
                         description="staff names")
    assert [d.tlp for d in bundle_to_drafts(_bundle(incident), file_name="x.json")] == ["amber+strict"]


def test_an_imported_bundle_with_a_home_made_tlp_definition_is_refused():
    from cert_share.stix.drafts import ImportFormatError
    from cert_share.stix.parse import bundle_to_drafts

    fake = _definition(definition_type="tlp", definition={"tlp": "white"})
    with pytest.raises(ImportFormatError, match="official"):
        bundle_to_drafts(_bundle(fake, _incident(object_marking_refs=[fake["id"]])), file_name="x.json")
