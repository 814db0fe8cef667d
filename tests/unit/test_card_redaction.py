"""The net under every echo of input: a full card number is reduced to its BIN and last four
digits in any text, and the identifiers that merely hold long runs of digits are left alone."""
from __future__ import annotations

import pytest

from cert_share.stix.card_redaction import card_in_observable, holds_card, redact, redact_cards


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
