"""The report form's errors in the reader's language: the project's own messages (the schema's,
the form's) and marshmallow's own, for an analyst who chose Vietnamese; English for everyone else,
as they always read (issue 15). Reads the shipped Vietnamese catalog (`make i18n`)."""
from __future__ import annotations

import html
import re

import pytest

from cert_share.extensions import db
from cert_share.models import Incident
from tests.integration.test_web_incidents import form
from tests.integration.web_login import page_token, signed_in_new_user


@pytest.fixture
def analyst(app, factory, orgs):
    def sign_in(locale: str | None):
        return signed_in_new_user(app, factory, orgs["telco"], locale)
    return sign_in


def errors(client, **overrides) -> dict[str, str]:
    """The form sent with ``overrides``: the messages shown under each field."""
    token = page_token(client, "/incidents/new")
    response = client.post("/incidents/new", data={"csrf_token": token, **form(**overrides)})
    assert response.status_code in (200, 400, 422), response.status_code
    page = response.get_data(as_text=True)
    shown = {name: html.unescape(body) for name, body in
             re.findall(r'<ul class="field-errors" id="([\w-]+)-errors">(.*?)</ul>', page, re.S)}
    shown["page"] = html.unescape(page)  # a drill's fields, not on this organization's form, are said above it
    return shown


BROKEN = {"title": "", "severity": "", "exercise_inject": "abc", "timezone": "Mars/Olympus",
          "observables": "203.0.113.7\nthis is not an observable\n"}


def test_a_vietnamese_reader_sees_the_form_errors_in_vietnamese(app, analyst):
    shown = errors(analyst("vi"), **BROKEN)
    assert "không được để trống" in shown["title"]  # the project's own (schemas/fields.Text)
    assert "must not be blank" not in shown["title"]
    assert "Trường này là bắt buộc." in shown["severity"]  # marshmallow's "Missing data for required field."
    assert "This field is required." not in shown["severity"]
    assert "Không phải số nguyên hợp lệ." in shown["page"]  # marshmallow's "Not a valid integer."
    assert "múi giờ 'Mars/Olympus' không xác định" in shown["timezone"]
    assert "dòng 2: không nhận dạng được 'this is not an observable'; mỗi dòng cần một giá trị" in shown["observables"]
    assert "line 2" not in shown["observables"]
    with app.app_context():
        assert db.session.query(Incident).count() == 0


def test_a_schema_choice_is_refused_with_the_labels_in_vietnamese(analyst):
    shown = errors(analyst("vi"), tlp="white", classification="fraud/nope")
    assert "<li>hãy chọn một trong: TLP:CLEAR, TLP:GREEN" in shown["tlp"]
    assert "phân loại RSIT 'fraud/nope' không xác định" in shown["classification"]


@pytest.mark.parametrize("locale", [None, "en"])
def test_everyone_else_reads_the_errors_in_english_as_before(app, analyst, locale):
    shown = errors(analyst(locale), **BROKEN)
    assert "must not be blank" in shown["title"]
    assert "This field is required." in shown["severity"]
    assert "Not a valid integer." in shown["page"]
    assert "unknown time zone 'Mars/Olympus'" in shown["timezone"]
    assert "line 2: cannot recognise 'this is not an observable'; expected one value per line" in shown["observables"]
    assert "dòng" not in shown["observables"]
