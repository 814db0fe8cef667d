"""Numbers JSON cannot carry as written are refused, never rounded or turned into null."""
from __future__ import annotations

import re
import uuid

import pytest

from cert_share.errors import InputError
from cert_share.jsonbody import loads
from cert_share.stix.validate import MAX_INTEGER, InvalidObject, check_object, number_problem

CREATED = "2026-01-05T10:00:00.000Z"


def custom(**props) -> dict:
    return {"type": "x-acme-ticket", "spec_version": "2.1", "id": f"x-acme-ticket--{uuid.uuid4()}",
            "created": CREATED, "modified": CREATED, **props}


def test_the_integer_range_is_stix_2_1_section_2_9():
    assert MAX_INTEGER == 9007199254740991


@pytest.mark.parametrize("value,where", [
    (float("nan"), "x_score"), (float("inf"), "x_score"), (float("-inf"), "x_score"),
    (MAX_INTEGER + 1, "x_score"), (-MAX_INTEGER - 1, "x_score"), (2**64, "x_score"),
    ({"a": [1, 2, float("inf")]}, "x_score.a[2]"), ([[MAX_INTEGER + 1]], "x_score[0][0]"),
])
def test_an_object_holding_an_unsafe_number_is_invalid_and_says_where(value, where):
    with pytest.raises(InvalidObject, match=rf"^{re.escape(where)} "):
        check_object(custom(x_score=value))


@pytest.mark.parametrize("value", [MAX_INTEGER, -MAX_INTEGER, 0, 1.5, -0.0, 1e308, 5e-324, True, None, "NaN"])
def test_numbers_within_json_and_stix_pass(value):
    check_object(custom(x_score=value))
    assert number_problem({"x": value}) is None


@pytest.mark.parametrize("raw,field", [
    (b'{"a": NaN}', "a"), (b'{"a": Infinity}', "a"), (b'{"a": -Infinity}', "a"),
    (b'{"a": {"b": [1, 1e400]}}', "a.b[1]"), (b'{"a": -1e999}', "a"),
    (b'{"n": 9007199254740992}', "n"), (b'{"n": -9007199254740992}', "n"),
    (b'{"n": 1' + b"0" * 5000 + b"}", "n"),
])
def test_an_api_body_with_an_unsafe_number_is_a_400_naming_the_field(raw, field):
    with pytest.raises(InputError) as caught:
        loads(raw)
    assert caught.value.field == field
    assert caught.value.message.startswith(field + " ")


def test_an_api_body_keeps_its_safe_numbers_exactly():
    assert loads(b'{"a": 9007199254740991, "b": -9007199254740991, "c": 0.1, "d": 1E2}') == {
        "a": MAX_INTEGER, "b": -MAX_INTEGER, "c": 0.1, "d": 100.0}


def test_taxii_keeps_unsafe_numbers_for_its_per_object_check():
    value = loads(b'{"objects": [{"x": NaN, "y": 1e400, "z": 9007199254740992}]}', keep_unsafe_numbers=True)
    obj = value["objects"][0]
    assert obj["x"] != obj["x"] and obj["y"] == float("inf") and obj["z"] == MAX_INTEGER + 1
    assert number_problem(obj) is not None
