"""Fraud identifiers as observables: bank accounts, phone numbers, wallets and payment cards are
validated by their checksums, normalized so two reporters' spellings meet, recognized in a pasted
line, and a full card number is refused without ever being repeated."""
from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cert_share.stix.fraud import luhn_valid, mask_card
from cert_share.stix.observables import ObservableError, normalize, recognize, sco_dict, wallet_chain

SAME_VALUE = [
    ("bank-account", ["DE89 3704 0044 0532 0130 00", "de89370400440532013000", "IBAN DE89-3704-0044-0532-0130-00"],
     "DE89370400440532013000"),
    ("bank-account", ["BFTVVNVX/0071000123456", "bftvvnvx 0071 000 123 456", "BFTVVNVX: 0071-000-123456"],
     "BFTVVNVX/0071000123456"),
    ("phone-number", ["+84 912 345 678", "+84912345678", "0084 912-345-678", "tel:+84-91-234-5678"], "+84912345678"),
    ("cryptocurrency-wallet", ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                               "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
                               "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"],
     "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
    ("cryptocurrency-wallet", ["bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa?amount=1",
                               "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"],
     "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
    ("payment-card", ["411111******1111", "4111 11XX XXXX 1111", "41111111****1111", "411111...1111", "411111…1111"],
     "411111******1111"),
]


@pytest.mark.parametrize("type_,spellings,value", SAME_VALUE)
def test_spellings_of_one_value_meet_on_one_value_and_one_sco_id(type_, spellings, value):
    observables = [normalize(type_, s) for s in spellings]
    assert {o.value for o in observables} == {value}
    assert len({sco_dict(o)["id"] for o in observables}) == 1
    # The form's one-per-line box finds the type by itself.
    assert {recognize(s).type for s in spellings} == {type_}


@pytest.mark.parametrize("address,chain", [
    ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bitcoin"),  # bech32 (P2WPKH)
    ("bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", "bitcoin"),  # bech32m (taproot)
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "bitcoin"),  # P2SH
    ("0x52908400098527886E0F7030069857D2E4169EE7", "ethereum"),  # EIP-55 all-caps example
    ("4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge", "monero"),
])
def test_wallets_record_their_chain(address, chain):
    assert wallet_chain(normalize("cryptocurrency-wallet", address)) == chain


@pytest.mark.parametrize("type_,raw,reason", [
    ("bank-account", "DE89 3704 0044 0532 0130 01", "checksum"),
    ("bank-account", "DE89 3704 0044 0532 0130", "IBAN"),  # wrong length for Germany
    ("bank-account", "BFTVXXVX/123", "BIC"),
    ("phone-number", "+84 912 345", "not a valid phone number"),
    ("phone-number", "+999 1234 5678", "not a valid phone number"),
    ("phone-number", "0912 345 678", "PHONE_DEFAULT_REGION"),  # national form, no region configured
    ("cryptocurrency-wallet", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "EIP-55"),
    ("cryptocurrency-wallet", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx", "checksum"),
    ("cryptocurrency-wallet", "bc1qAR0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "mixed-case"),
    ("cryptocurrency-wallet", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "checksum"),
    ("cryptocurrency-wallet", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "test-network"),
    ("payment-card", "411111", "truncated"),
    ("payment-card", "4111-1111-1111-1111", "full payment card number"),
])
def test_invalid_values_say_what_is_wrong(type_, raw, reason):
    with pytest.raises(ObservableError, match=re.escape(reason)):
        normalize(type_, raw)


def test_a_national_phone_number_takes_the_configured_region(app):
    app.config["PHONE_DEFAULT_REGION"] = "VN"
    with app.app_context():
        assert normalize("phone-number", "0912 345 678").value == "+84912345678"
        assert recognize("0912 345 678").type == "phone-number"


def _card_numbers():
    def with_check_digit(body: str) -> str:
        for d in "0123456789":
            if luhn_valid(body + d):
                return body + d
        raise AssertionError  # pragma: no cover
    return st.builds(lambda first, rest: with_check_digit(first + rest), st.sampled_from("123456789"),
                     st.text("0123456789", min_size=11, max_size=17))


@given(number=_card_numbers(), sep=st.sampled_from(["", " ", "-"]), typed=st.booleans())
def test_a_full_card_number_is_refused_and_never_repeated(number, sep, typed):
    written = sep.join(number[i:i + 4] for i in range(0, len(number), 4))
    with pytest.raises(ObservableError) as info:
        normalize("payment-card", written) if typed else recognize(written)
    message = str(info.value)
    assert "full payment card number" in message
    # Not the number, nor any run of its digits longer than the last four.
    assert number not in re.sub(r"\D", "", message)
    assert not any(number[i:i + 6] in message for i in range(len(number) - 5))


@pytest.mark.parametrize("type_", ["phone-number", "bank-account", "ipv4-addr", "domain-name", "autonomous-system"])
def test_a_card_number_sent_as_another_type_is_not_repeated_either(type_):
    with pytest.raises(ObservableError) as info:
        normalize(type_, "4111 1111 1111 1111")
    assert "1111 1111" not in str(info.value) and "4111111111111111" not in str(info.value)


def test_foreign_full_numbers_are_truncated_to_bin_and_last_four():
    assert mask_card("4111 1111 1111 1111").value == "411111******1111"


def test_fraud_scos_take_opencti_shapes_and_its_extension():
    iban = sco_dict(normalize("bank-account", "DE89 3704 0044 0532 0130 00"))
    assert iban["iban"] == "DE89370400440532013000" and "account_number" not in iban
    national = sco_dict(normalize("bank-account", "BFTVVNVX/0071000123456"))
    assert (national["bic"], national["account_number"]) == ("BFTVVNVX", "0071000123456")
    card = sco_dict(normalize("payment-card", "411111******1111"))
    assert card["card_number"] == "411111******1111"
    for sco in (iban, national, card, sco_dict(normalize("phone-number", "+84912345678"))):
        assert sco["extensions"] == {"extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82":
                                     {"extension_type": "new-sco"}}


@pytest.mark.parametrize("account", ["4111111111111111", "4111 1111 1111 1111", "5500-0000-0000-0004",
                                     "4111111111111111".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))])
def test_a_card_number_given_as_a_national_account_number_is_refused_without_repeating_it(account):
    with pytest.raises(ObservableError) as info:
        normalize("bank-account", f"BFTVVNVX/{account}")
    message = str(info.value)
    assert "payment card number" in message and "give its IBAN" in message
    assert not re.search(r"\d{6}", re.sub(r"[\s\-]", "", message.replace("DE89 3704 0044 0532 0130 00", "")))


def test_an_account_number_that_no_card_network_starts_with_is_still_an_account():
    # Luhn-valid 16 digits, but 0, 1, 7, 8 or 9 first: no card network's number (the trade-off's limit).
    assert normalize("bank-account", "BFTVVNVX/7000000000000005").value == "BFTVVNVX/7000000000000005"
    assert normalize("bank-account", "BFTVVNVX/0071000123456").value == "BFTVVNVX/0071000123456"


@pytest.mark.parametrize("typed", ["tel:+84-912-345-678;ext=4111111111111111", "+84 912 345 678 ext. 1234",
                                   "+84 912 345 678 x 99"])
def test_a_phone_numbers_extension_is_dropped(typed):
    number = normalize("phone-number", typed)
    assert (number.value, number.display) == ("+84912345678", "+84 912 345 678")


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("type_,typed,value", [
    ("payment-card", "411111******1111".translate(ARABIC_INDIC), "411111******1111"),
    ("payment-card", "4111 11** **** 1111".translate(FULL_WIDTH), "411111******1111"),
    ("phone-number", "+84912345678".translate(ARABIC_INDIC), "+84912345678"),
    ("phone-number", "+84 912 345 678".translate(FULL_WIDTH), "+84912345678"),
    ("bank-account", "DE89 3704 0044 0532 0130 00".translate(ARABIC_INDIC), "DE89370400440532013000"),
    ("bank-account", "BFTVVNVX/0071000123456".translate(FULL_WIDTH), "BFTVVNVX/0071000123456"),
])
def test_digits_of_other_scripts_meet_their_ascii_spelling(type_, typed, value):
    assert normalize(type_, typed).value == value


@pytest.mark.parametrize("type_,typed", [
    ("phone-number", "+" + "4111111111111111".translate(ARABIC_INDIC)),
    ("phone-number", "4111111111111111".translate(FULL_WIDTH)),
    ("payment-card", "4111111111111111".translate(ARABIC_INDIC)),
    ("phone-number", "+84 12 ext. 4111111111111111"),  # invalid, and a card in it
    ("ipv4-addr", "4111\u00a01111\u00a01111\u00a01111"),
    ("domain-name", "4111_1111_1111_1111.example"),
])
def test_a_card_number_in_any_spelling_is_never_repeated_by_an_error(type_, typed):
    with pytest.raises(ObservableError) as info:
        normalize(type_, typed)
    digits = "".join(str(int(ch)) for ch in str(info.value) if ch.isdecimal())
    assert "4111111111111111" not in digits
