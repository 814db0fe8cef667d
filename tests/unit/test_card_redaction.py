"""The net under every echo of input: a full card number is reduced to its BIN and last four
digits in any text, and the identifiers that merely hold long runs of digits are left alone."""
from __future__ import annotations

import pytest

from cert_share.stix import card_redaction
from cert_share.stix.card_redaction import card_in_observable, holds_card, redact, redact_cards, redact_stix


@pytest.mark.parametrize("text,shown", [
    ("4111 1111 1111 1111", "411111******1111"),
    ("4111-1111-1111-1111", "411111******1111"),
    ("4111.1111.1111.1111", "411111******1111"),
    ("'4111111111111111' is not a valid IPv4 address", "'411111******1111' is not a valid IPv4 address"),
    ("card4111111111111111 and 5500 0000 0000 0004.", "card411111******1111 and 550000******0004."),
    ("https://pay.example/?pan=4111111111111111&x=1", "https://pay.example/?pan=411111******1111&x=1"),
    # Groups around the card: which are its own is unclear, so none is shown.
    ("ref 4111 1111 1111 1111 0042", "ref [card number removed]"),
    ("NO12 4111 1111 1111 1111", "NO[card number removed]"),  # IBAN-shaped, but no IBAN's length
])
def test_a_card_number_is_reduced_to_its_bin_and_last_four(text, shown):
    assert holds_card(text)
    assert redact_cards(text) == shown


@pytest.mark.parametrize("text", [
    "4111 1111 1111 1112",  # fails the Luhn check: no card
    "0084 912 345 678 1234",  # starts with 0: no card number does
    "DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "GB82 WEST 1234 5698 7654 32",  # IBANs
    "DE89 3704 0044 0532 0130 01",  # a mistyped IBAN (its groups hold a Luhn-valid run) is still one
    "0x52908400098527886E0F7030069857D2E4169EE7",  # an Ethereum address with 17 digits in a row
    "4111111111111111" + "ab" * 8,  # an MD5 digest
    "41111111111111111111111",  # 23 digits: no card's length
    "2026-11-30T12:00:00.000Z", "+84 912 345 678", "411111******1111",
])
def test_identifiers_that_are_no_card_are_left_alone(text):
    assert not holds_card(text)
    assert redact_cards(text) == text


def test_nested_error_bodies_are_redacted_keys_included():
    body = {"observables": {"0": {"value": ["'4111111111111111' is wrong"]}}, "4111111111111111": ["Unknown field."]}
    assert redact(body) == {"observables": {"0": {"value": ["'411111******1111' is wrong"]}},
                            "411111******1111": ["Unknown field."]}


def test_only_free_form_types_can_hide_a_card_number():
    assert card_in_observable("url", "https://pay.example/?pan=4111111111111111")
    assert card_in_observable("email-addr", "4111111111111111@mail.example")
    assert not card_in_observable("url", "https://pay.example/?order=4111111111111112")
    assert not card_in_observable("bank-account", "BFTVVNVX/4111111111111111")  # an account's own digits


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("text", [
    "https://pay.example/?c=4111%201111%201111%201111",  # URL-encoded spaces
    "https://pay.example/?c=4111%25201111%25201111%25201111",  # encoded twice
    "https://pay.example/4111/1111/1111/1111",  # path segments
    "card " + "4111111111111111".translate(ARABIC_INDIC),  # Arabic-Indic digits
    "card " + "4111 1111 1111 1111".translate(FULL_WIDTH),
    "4111－1111－1111－1111",  # full-width hyphens (NFKC)
    "4111\u00a01111\u00a01111\u00a01111", "4111\u202f1111\u202f1111\u202f1111",  # non-breaking spaces
    "4111\t1111\t1111\t1111", "4111  1111  1111  1111", "4111--1111--1111--1111", "4111 - 1111 - 1111 - 1111",
    "4111_1111_1111_1111", "4111,1111,1111,1111",
])
def test_a_card_number_in_other_spellings_is_found_and_masked(text):
    assert holds_card(text)
    shown = redact_cards(text)
    assert "411111******1111" in shown
    digits = "".join(str(int(ch)) for ch in shown if ch.isdecimal())
    assert "4111111111111111" not in digits
    assert not holds_card(shown)


@pytest.mark.parametrize("text", [
    "Seen from 76.93.76.46, 95.232.63.28",  # two IPv4 addresses whose 16 digits pass the Luhn check
    "76.93.76.46,95.232.63.28", "76.93.76.46 / 95.232.63.28", "7693, 7646--9523, 2632",
])
def test_groups_joined_by_unlike_wide_separators_are_no_card(text):
    assert not holds_card(text)
    assert redact_cards(text) == text


def test_a_card_number_hidden_by_encoding_in_a_url_is_refused_as_an_observable():
    assert card_in_observable("url", "http://evil.example/pay?c=4111%201111%201111%201111")
    assert card_in_observable("url", "http://evil.example/4111/1111/1111/1111")
    assert card_in_observable("url", "http://evil.example/?c=" + "4111111111111111".translate(ARABIC_INDIC))
    assert not card_in_observable("url", "http://evil.example/2026/11/30/report%201.html")


def _counted(monkeypatch) -> dict[str, int]:
    """Counts of the scan's steps: groups read, Luhn checks made."""
    counts = {"groups": 0, "luhn": 0}
    real_groups, real_luhn = card_redaction._groups, card_redaction.luhn_valid

    def groups(run):
        for group in real_groups(run):
            counts["groups"] += 1
            yield group

    def luhn(digits):
        counts["luhn"] += 1
        return real_luhn(digits)

    monkeypatch.setattr(card_redaction, "_groups", groups)
    monkeypatch.setattr(card_redaction, "luhn_valid", luhn)
    return counts


def test_a_megabyte_of_digit_groups_is_read_once(monkeypatch):
    """The scan is linear: each group of one long run of groups ("1234 1234 …", 1 MB, one line of
    a form) is read once and costs at most a few Luhn checks, whatever the run's length. (It once
    copied the rest of the run for each group: 27 s for 400 KB, bench/card_scan.py.)"""
    counts = _counted(monkeypatch)
    groups = 200_000
    text = "1234 " * groups + "4111 1111 1111 1111"
    assert len(text) > 1_000_000
    assert holds_card(text)
    assert counts["groups"] == groups + 4
    assert counts["luhn"] <= 4 * (groups + 4)  # suffixes of at least 13 and at most 19 digits


def test_a_long_run_without_a_card_is_read_once_too(monkeypatch):
    counts = _counted(monkeypatch)
    assert not holds_card("1234 " * 100_000)
    assert counts["groups"] == 100_000


def test_the_strings_of_a_stix_object_are_masked_but_not_its_ids_refs_or_pattern():
    obj = {"type": "note", "id": "note--4111111111111111", "content": "PAN 4111111111111111",
           "object_refs": ["incident--4111-1111-1111-1111"], "x_notes": [{"text": "4111 1111 1111 1111"}],
           "pattern": "[x:value = '4111111111111111']", "created_by_ref": "identity--4111111111111111"}
    assert redact_stix(obj) == {**obj, "content": "PAN 411111******1111", "x_notes": [{"text": "411111******1111"}]}
