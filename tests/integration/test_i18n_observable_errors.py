"""The report form's observable errors in the reader's language: a SOC analyst who chose
Vietnamese reads why a line is refused (bad IPv4 address, IBAN, phone number) naming the line and
the value; a full card number is refused in any language without ever being shown back, on the
form and in the search box (the refusal is known by a marker, not by its English text); the API
answers the same bad observables byte for byte in English whatever Accept-Language says (issue 15).
Reads the shipped Vietnamese catalog (`make i18n`)."""
from __future__ import annotations

import html

import pytest

from cert_share.extensions import db
from cert_share.models import Incident
from tests.integration.incident_bodies import incident_body
from tests.integration.test_i18n_api_unchanged import both, callers  # noqa: F401 - a fixture
from tests.integration.test_i18n_form_errors import errors
from tests.integration.web_login import signed_in_new_user

BAD_LINES = "999.1.1.1\nDE89 3704 0044 0532 0130 01\n+84 123 45\n"
CARD = "4111 1111 1111 1111"
CARD_SPELLINGS = (CARD, "4111111111111111", "4111-1111-1111-1111")


@pytest.fixture
def analyst(app, factory, orgs):
    def sign_in(locale: str | None):
        return signed_in_new_user(app, factory, orgs["telco"], locale)
    return sign_in


def test_a_vietnamese_analyst_reads_why_each_line_is_refused(app, analyst):
    shown = errors(analyst("vi"), observables=BAD_LINES)["observables"]
    assert "dòng 1: '999.1.1.1' không phải là địa chỉ IPv4 hợp lệ" in shown
    assert "dòng 2: 'DE89 3704 0044 0532 0130 01' không phải là IBAN hợp lệ" in shown
    assert "dòng 3: '+84 123 45' không phải là số điện thoại hợp lệ" in shown
    assert "is not a valid" not in shown and "line 1" not in shown
    with app.app_context():
        assert db.session.query(Incident).count() == 0


def test_an_english_analyst_reads_them_as_before(analyst):
    shown = errors(analyst("en"), observables=BAD_LINES)["observables"]
    assert "line 1: '999.1.1.1' is not a valid IPv4 address" in shown
    assert "line 2: 'DE89 3704 0044 0532 0130 01' is not a valid IBAN (" in shown
    assert "line 3: '+84 123 45' is not a valid phone number" in shown


def test_a_masked_card_without_its_mask_gets_a_subject_in_vietnamese(analyst):
    shown = errors(analyst("vi"), observables="411111******11\n")["observables"]
    assert "dòng 1: giá trị này không phải là số thẻ đã được che bớt" in shown


@pytest.mark.parametrize("locale,refusal", [
    ("vi", "tuyệt đối không được chia sẻ số thẻ thanh toán đầy đủ"),
    ("en", "a full payment card number must never be shared"),
])
@pytest.mark.parametrize("card", CARD_SPELLINGS)
def test_a_full_card_is_refused_on_the_form_without_being_shown_back(app, analyst, locale, refusal, card):
    shown = errors(analyst(locale), observables=f"203.0.113.7\n{card}\n", description=f"paid with {card}")
    assert refusal in shown["observables"]
    assert "dòng 2:" in shown["observables"] if locale == "vi" else "line 2:" in shown["observables"]
    page = shown["page"]
    assert "411111******1111" in page
    for spelling in CARD_SPELLINGS:
        assert spelling not in page
    with app.app_context():
        assert db.session.query(Incident).count() == 0


@pytest.mark.parametrize("locale,refusal", [
    ("vi", "tuyệt đối không được chia sẻ số thẻ thanh toán đầy đủ"),
    ("en", "a full payment card number must never be shared"),
])
@pytest.mark.parametrize("card", CARD_SPELLINGS)
def test_a_full_card_is_refused_in_the_search_box_without_being_shown_back(analyst, locale, refusal, card):
    response = analyst(locale).get("/search", query_string={"q": card})
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert refusal in page
    for spelling in CARD_SPELLINGS:
        assert spelling not in page
    assert "41111111" not in response.get_data(as_text=True)


BAD_OBSERVABLES = [
    {"type": "ipv4-addr", "value": "999.1.1.1"},
    {"type": "bank-account", "value": "DE89 3704 0044 0532 0130 01"},
    {"type": "phone-number", "value": "+84 123 45"},
    {"type": "payment-card", "value": "4111111111111111"},
    {"type": "cryptocurrency-wallet", "value": "0x52908400098527886E0F7030069857D2E4169EE8"},
]


def test_the_api_answers_bad_observables_the_same_in_both_languages(callers):  # noqa: F811
    client, member, _cert = callers
    english, vietnamese = both(client, "POST", "/api/v1/incidents",
                               json=incident_body(observables=BAD_OBSERVABLES), headers=member)
    assert english[0] == 400
    assert english == vietnamese
    body = english[1].decode()
    assert "'999.1.1.1' is not a valid IPv4 address" in body
    assert "is not a valid IBAN" in body and "is not a valid phone number" in body
    assert "a full payment card number must never be shared" in body
    assert "4111111111111111" not in body
