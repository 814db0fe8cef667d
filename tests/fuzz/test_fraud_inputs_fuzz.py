"""Properties of the fraud identifiers' intake, over generated values: near-misses of bank
accounts, phone numbers, wallets and masked cards, random digit soup, and full card numbers
(Luhn-valid, grouped or not, alone or inside other text). Through the report form, the JSON API
and a TAXII push:

* no answer is a 5xx;
* no answer — error message, re-rendered form, TAXII status — ever holds a full card number that
  was sent, and none is stored.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Observable, StixObject
from cert_share.stix.fraud import luhn_valid
from cert_share.stix.observables import OPENCTI_SCO_EXTENSION, TYPES
from tests.conftest import auth
from tests.integration.web_login import login, page_token

from .profiles import examples, seeded


def _with_check_digit(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


# Full card numbers: 13-19 digits, not starting with 0, Luhn-valid.
pans = st.builds(lambda first, rest: _with_check_digit(str(first) + rest),
                 st.integers(1, 9), st.text("0123456789", min_size=11, max_size=17))


@st.composite
def written_pans(draw) -> tuple[str, str]:
    """(the card number's digits, the card as written: grouped by 4 with a separator, or not)."""
    digits = draw(pans)
    separator = draw(st.sampled_from(["", " ", "-", "."]))
    return digits, separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))


# Text around a card: no hex letters glued to it, so it stays a card and not part of a digest.
_AFFIX = "ghijklmnopqrstuvwxyz:/?=&@_+*()GHIJKLMNOPQRSTUVWXYZ"
near_misses = st.one_of(
    st.sampled_from(["DE89 3704 0044 0532 0130 0", "DE89370400440532013001", "+84 912 345", "+84 (0) 912 345 678 9",
                     "0x52908400098527886E0F7030069857D2E4169Ee7", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5md",
                     "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "411111******111", "4111**1111", "BFTVVNVX/",
                     "IBAN:", "tel:", "bitcoin:?amount=1", "ethereum:0x", "AS4294967296", "00", "+"]),
    st.text("0123456789 +-.()*Xx/:", max_size=40),
    st.text(max_size=40),
)


@st.composite
def values_with_a_card(draw) -> tuple[str, str]:
    """(card digits, a value holding the card: alone, or glued to or beside other text)."""
    digits, written = draw(written_pans())
    prefix = draw(st.text(_AFFIX, max_size=12))
    suffix = draw(st.text(_AFFIX, max_size=12))
    # Letters glued before the digits could make an IBAN ("NO" + 13 digits): text before is apart.
    glue = draw(st.sampled_from([" ", ", ", "="]))
    value = draw(st.sampled_from([written, f"{prefix}{glue}{written}", f"{written}{suffix}", f"{written}{glue}{suffix}",
                                  f"https://pay.example/{prefix}?card={written}&{suffix}"]))
    return digits, value


def _compact(text: str) -> str:
    return re.sub(r"[\s\-.]", "", text)


def _assert_no_card(text: str, digits: str) -> None:
    assert digits not in _compact(text), f"the card number {digits} came back"


def _report(*observables: dict) -> dict:
    return {"title": "Fraud report", "classification": "fraud/phishing", "severity": "high", "tlp": "amber",
            "detected_at": (utcnow() - timedelta(hours=1)).isoformat(), "observables": list(observables)}


def test_the_api_never_fails_and_never_repeats_or_stores_a_card_number(app, client, factory):
    token = factory.token(factory.org("Fuzz Bank", sector="financial-services"))

    @seeded
    @settings(max_examples=examples(60))
    @given(card=values_with_a_card(), other=near_misses, type_=st.sampled_from(TYPES),
           other_type=st.sampled_from(TYPES))
    def post(card, other, type_, other_type):
        digits, value = card
        response = client.post("/api/v1/incidents", headers=auth(token),
                               json=_report({"type": other_type, "value": other}, {"type": type_, "value": value}))
        assert response.status_code == 400, response.get_data(as_text=True)[:2000]
        _assert_no_card(response.get_data(as_text=True), digits)
        event(f"{type_}: refused")

    post()
    with app.app_context():
        assert db.session.query(Observable).count() == 0


def test_the_api_answers_near_misses_with_a_201_or_a_400(client, factory):
    token = factory.token(factory.org("Fuzz Bank", sector="financial-services"))

    @seeded
    @settings(max_examples=examples(60))
    @given(value=near_misses, type_=st.sampled_from(["bank-account", "phone-number", "cryptocurrency-wallet",
                                                     "payment-card", *TYPES]))
    def post(value, type_):
        response = client.post("/api/v1/incidents", headers=auth(token),
                               json=_report({"type": type_, "value": value}))
        assert response.status_code in (200, 201, 400), response.get_data(as_text=True)[:2000]
        event(f"{type_}: {response.status_code}")

    post()


def test_the_report_form_never_fails_and_never_shows_a_card_number_again(app, factory):
    org = factory.org("Fuzz Bank", sector="financial-services")
    client = app.test_client()
    assert login(client, factory.user(org, "analyst", email="fuzz@bank.example").email).status_code == 302

    @seeded
    @settings(max_examples=examples(30))
    @given(card=values_with_a_card(), others=st.lists(near_misses, max_size=3), position=st.integers(0, 3))
    def submit(card, others, position):
        digits, value = card
        lines = list(others)
        lines.insert(min(position, len(lines)), value)
        data = {"title": "Fraud report", "classification": "fraud/phishing", "severity": "high", "tlp": "amber",
                "timezone": "UTC", "detected_at": (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                "observables": "\n".join(lines), "csrf_token": page_token(client, "/incidents/new")}
        response = client.post("/incidents/new", data=data)
        assert response.status_code == 400, response.status_code
        _assert_no_card(response.get_data(as_text=True), digits)

    submit()
    with app.app_context():
        assert db.session.query(Observable).count() == 0


def test_a_taxii_push_never_fails_and_never_repeats_or_stores_a_card_number(app, taxii):
    sent: list[str] = []

    @seeded
    @settings(max_examples=examples(40))
    @given(card=values_with_a_card(), shape=st.sampled_from(["card_number", "value", "pattern", "phone", "url"]))
    def push(card, shape):
        digits, value = card
        sent.append(digits)
        ident = str(uuid.uuid4())
        if shape == "pattern":
            obj = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{ident}",
                   "created": "2026-01-10T08:00:00.000Z", "modified": "2026-01-10T08:00:00.000Z",
                   "valid_from": "2026-01-10T08:00:00.000Z", "pattern_type": "stix",
                   "pattern": "[payment-card:card_number = '" + value.replace("\\", "\\\\").replace("'", "\\'") + "']"}
        else:
            kind = {"card_number": "payment-card", "value": "payment-card", "phone": "phone-number",
                    "url": "url"}[shape]
            obj = {"type": kind, "spec_version": "2.1", "id": f"{kind}--{ident}",
                   "card_number" if shape == "card_number" else "value": value,
                   "extensions": {OPENCTI_SCO_EXTENSION: {"extension_type": "new-sco"}}}
        response = taxii.post("bank", "intake", json.dumps({"objects": [obj]}))
        assert response.status_code < 500, response.get_data(as_text=True)[:2000]
        _assert_no_card(response.get_data(as_text=True), digits)
        if response.status_code == 202:
            assert response.get_json()["success_count"] == 0, response.get_json()
        event(f"{shape}: {response.status_code}")

    push()
    with app.app_context():
        stored = _compact(" ".join(o.body for o in db.session.query(StixObject)))
    assert sent and not [digits for digits in sent if digits in stored]


# Other spellings of a card number: any script's digits, wider separators, URL encoding.
_SCRIPTS = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "０１２３４５６７８９", "०१२३४५६७८९"]
_WIDE_SEPARATORS = ["", " ", "  ", "\t", "\u00a0", "\u202f", "-", "--", " - ", "_", ",", "/", ".", "%20", "－"]


@st.composite
def spelled_pans(draw) -> tuple[str, str]:
    """(the card number's ASCII digits, the card in some spelling inside some text)."""
    digits = draw(pans)
    script = draw(st.sampled_from(_SCRIPTS))
    separator = draw(st.sampled_from(_WIDE_SEPARATORS))
    size = draw(st.sampled_from([3, 4, 5, 6]))
    in_script = digits.translate(str.maketrans("0123456789", script))
    written = separator.join(in_script[i:i + size] for i in range(0, len(digits), size))
    prefix = draw(st.text(_AFFIX, max_size=12))
    suffix = draw(st.text(_AFFIX, max_size=12))
    return digits, draw(st.sampled_from([written, f"{prefix} {written} {suffix}",
                                         f"https://pay.example/{prefix}?card={written}&{suffix}"]))


def _ascii_text(text: str) -> str:
    return "".join(str(int(ch)) if ch.isdecimal() else ch for ch in text)


@seeded
@settings(max_examples=examples(200))
@given(card=spelled_pans())
def test_a_card_number_in_any_spelling_is_found_and_masked(card):
    from cert_share.stix.card_redaction import holds_card, redact_cards
    digits, text = card
    assert holds_card(text)
    shown = redact_cards(text)
    assert digits not in re.sub(r"[^0-9]", "", _ascii_text(shown)), shown
    assert not holds_card(shown)
