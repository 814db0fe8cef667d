"""Pushed-object validation: the fast path for plain indicators agrees with the stix2 path."""
from __future__ import annotations

import uuid

import pytest
import stix2

from cert_share.stix.validate import MAX_PATTERN_DEPTH, InvalidObject, check_object, pattern_depth, simple_observable

BASE = {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2026-01-05T10:00:00.000Z", "modified": "2026-01-05T10:00:00.000Z",
        "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
        "valid_from": "2026-01-05T10:00:00Z"}

CASES = [
    {},
    {"name": "scanner", "description": "x", "indicator_types": ["malicious-activity"], "confidence": 80},
    {"object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]},
    {"created_by_ref": "identity--1f2a6e8e-2f3c-4c84-9c4e-1b1a6f0f0a01"},
    {"pattern": "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']"},
    {"pattern": "[domain-name:value = 'evil.example']"},
    {"pattern": "[url:value = 'http://x.example/it\\'s']"},
    {"valid_until": "2026-02-01T00:00:00Z"},
    # broken ones
    {"created": "2026-02-30T10:00:00Z"},
    {"modified": "2025-01-01T00:00:00.000Z"},
    {"valid_until": "2026-01-01T00:00:00Z"},
    {"confidence": 101},
    {"confidence": True},
    {"spec_version": "2.0"},
    {"id": "indicator--not-a-uuid"},
    {"id": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
    {"created_by_ref": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
    {"object_marking_refs": ["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]},
    {"labels": "not-a-list"},
    {"name": 5},
    {"revoked": "no"},
    {"valid_from": None},
    {"pattern": "[ipv4-addr:value = '1.2.3.4'"},
]


def _accepts(obj, fast: bool) -> bool:
    try:
        check_object(obj, fast=fast)
        return True
    except InvalidObject:
        return False


VALID = 8  # the first eight CASES are valid STIX 2.1, the rest are not


@pytest.mark.parametrize("index", range(len(CASES)))
def test_the_fast_path_accepts_exactly_what_the_stix2_path_accepts(index):
    obj = {k: v for k, v in {**BASE, **CASES[index]}.items() if v is not None}
    assert _accepts(obj, fast=True) == _accepts(obj, fast=False) == (index < VALID), obj


def test_spec_rules_stix2_alone_would_let_through_are_enforced():
    """stix2.parse accepts these; STIX 2.1 does not, and neither do we."""
    lax = [{"modified": "2025-01-01T00:00:00.000Z"}, {"confidence": 101}, {"name": 5}, {"valid_from": None}]
    for change in lax:
        obj = {k: v for k, v in {**BASE, **change}.items() if v is not None}
        stix2.parse(obj, allow_custom=True, version="2.1")
        assert not _accepts(obj, fast=False)


def test_patterns_are_capped_before_any_parser_runs():
    deep = "(" * (MAX_PATTERN_DEPTH + 1) + "[ipv4-addr:value = '1.2.3.4']" + ")" * (MAX_PATTERN_DEPTH + 1)
    with pytest.raises(InvalidObject, match="nests"):
        check_object({**BASE, "pattern": deep})
    with pytest.raises(InvalidObject, match="longer"):
        check_object({**BASE, "pattern": "[ipv4-addr:value = '" + "1" * 5000 + "']"})


def test_brackets_inside_quoted_strings_do_not_count_as_nesting():
    assert pattern_depth("[url:value = '((((((((((((((((']") == 1


def test_complex_but_valid_patterns_go_through_stix2_patterns():
    pattern = "([ipv4-addr:value = '1.2.3.4'] OR [domain-name:value = 'a.example']) WITHIN 300 SECONDS"
    check_object({**BASE, "pattern": pattern})


def test_simple_observables_are_read_from_patterns():
    assert simple_observable("[ipv4-addr:value = '198.51.100.7']") == ("ipv4-addr", "198.51.100.7")
    assert simple_observable("[file:hashes.MD5 = '" + "a" * 32 + "']") == ("file:md5", "a" * 32)
    assert simple_observable("[ipv4-addr:value = '1.2.3.4'] AND [ipv4-addr:value = '5.6.7.8']") is None


def test_custom_objects_need_the_common_properties():
    ident = f"x-acme-thing--{uuid.uuid4()}"
    check_object({"type": "x-acme-thing", "id": ident, "spec_version": "2.1", "created": BASE["created"],
                  "modified": BASE["modified"], "x_anything": {"nested": [1]}})
    with pytest.raises(InvalidObject):
        check_object({"type": "x-acme-thing", "id": ident, "created": "yesterday", "modified": BASE["modified"]})


def test_a_bundle_is_not_an_object():
    with pytest.raises(InvalidObject, match="bundle"):
        check_object({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": []})
