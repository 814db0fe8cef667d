"""The one way each kind of client text is read: timestamps (clock.parse_iso), integers and ids
(params), JSON bodies (jsonbody) and streamed bodies (request_limits). Each refuses with the
error its callers catch, never with one they do not expect."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from werkzeug.exceptions import RequestEntityTooLarge

from cert_share.clock import parse_iso
from cert_share.errors import InputError
from cert_share.jsonbody import loads
from cert_share.params import MAX_ID, NO_ROW, RowIdConverter, id_from_text, int_arg, parse_int
from cert_share.request_limits import BoundedStream


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00",
                                  "2026-01-01T00:00:00+24:00", "١٢٣٤-٠١-٠١T00:00:00Z", "2026-02-30", "", " ", None, 7])
def test_parse_iso_refuses_with_value_error_only(text):
    with pytest.raises(ValueError):
        parse_iso(text)


def test_parse_iso_keeps_the_edges_that_utc_can_hold():
    assert parse_iso("9999-12-31T23:59:59+01:00") == datetime(9999, 12, 31, 22, 59, 59, tzinfo=timezone.utc)
    assert parse_iso("0001-01-01T00:00:00-01:00") == datetime(1, 1, 1, 1, 0, tzinfo=timezone.utc)
    assert parse_iso("2026-01-31T14:05:00Z") == datetime(2026, 1, 31, 14, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["١٢", "²", "𝟙", "1_000", " 7", "7 ", "+7", "-7", "0x10", "1e3", "", str(MAX_ID + 1),
                                  "9" * 40])
def test_parse_int_takes_ascii_digits_in_range_only(text):
    with pytest.raises(InputError) as caught:
        parse_int(text, "limit", minimum=0)
    assert caught.value.field == "limit" and "limit" in caught.value.message


def test_int_arg_bounds_and_defaults():
    assert int_arg({}, "limit", default=100) == 100
    assert int_arg({"limit": "1000"}, "limit", maximum=1000) == 1000
    assert parse_int(str(MAX_ID), "before") == MAX_ID
    with pytest.raises(InputError):
        int_arg({"limit": "1001"}, "limit", maximum=1000)
    with pytest.raises(InputError):
        int_arg({"limit": "0"}, "limit")


@pytest.mark.parametrize("text,expected", [("12", 12), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None), ("0", None),
                                           ("١٢", None), ("a@b.example", None), ("", None)])
def test_id_from_text(text, expected):
    assert id_from_text(text) == expected


def test_the_route_converter_reads_ids_no_column_holds_as_an_id_no_row_has():
    converter = RowIdConverter.__new__(RowIdConverter)
    assert converter.to_python("42") == 42
    for text in (str(MAX_ID + 1), "0"):
        assert converter.to_python(text) == NO_ROW


@pytest.mark.parametrize("raw,where", [(b'{"a": "\\ud800"}', "a"), (b'{"a": [1, {"b": "x\\udfffy"}]}', "a[1].b"),
                                       (b'["\\udc00"]', "[0]"), (b'"\\ud800"', "body"),
                                       (b'{"a": {"b": "x\\u0000"}}', "a.b")])
def test_json_with_a_lone_surrogate_or_nul_is_refused_naming_where(raw, where):
    with pytest.raises(InputError) as caught:
        loads(raw)
    assert caught.value.field == where
    assert ("NUL" if b"u0000" in raw else "Unicode") in caught.value.message


def test_json_with_surrogate_pairs_and_escaped_backslashes_is_kept():
    assert loads(b'{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}') == {"a": "\U0001F600", "b": "\\ud800"}


def test_a_streamed_body_one_byte_over_the_limit_is_413_and_at_the_limit_is_whole():
    assert BoundedStream(io.BytesIO(b"x" * 10), 10).read() == b"x" * 10
    with pytest.raises(RequestEntityTooLarge):
        BoundedStream(io.BytesIO(b"x" * 11), 10).read()
    stream = BoundedStream(io.BytesIO(b"x" * 11), 10)
    assert stream.read(10) == b"x" * 10
    with pytest.raises(RequestEntityTooLarge):
        stream.read(1)
