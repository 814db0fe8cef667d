"""A person's own language (/account/language): it comes before the browser's Accept-Language,
"automatic" hands the choice back to the browser, nothing but a language shipped is stored, and
one person's choice is theirs alone. The administration pages read in Vietnamese for a CERT
administrator who chose it. Reads the shipped Vietnamese catalog (`make i18n`)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from cert_share.extensions import db
from cert_share.models import User
from cert_share.models.audit import AuditEntry
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import login, page_token

ENGLISH = {"Accept-Language": "en"}
VIETNAMESE = {"Accept-Language": "vi"}


def _locale(app, user_id: int) -> str | None:
    with app.app_context():
        return db.session.get(User, user_id).locale


def _member(app, factory, org):
    user = factory.user(org, "analyst")
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return user, client


def _choose(client, value: str, headers: dict | None = None):
    token = page_token(client, "/account/language")
    return client.post("/account/language", data={"csrf_token": token, "locale": value}, headers=headers or {})


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_choosing_vietnamese_makes_the_next_pages_vietnamese_whatever_the_browser_asks(app, factory, orgs):
    user, client = _member(app, factory, orgs["telco"])
    page = _text(client.get("/account/security", headers=ENGLISH))
    assert 'href="/account/language"' in page and "Choose your language" in page  # linked for members

    form = client.get("/account/language", headers=ENGLISH)
    assert form.status_code == 200
    html = _text(form)
    assert "Automatic (your browser" in html and "Tiếng Việt" in html and "English" in html

    saved = _choose(client, "vi", headers=ENGLISH)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/account/language")
    assert _locale(app, user.id) == "vi"
    after = _text(client.get("/account/language", headers=ENGLISH))
    # The confirmation speaks the language just chosen, and so does the page.
    assert "Ngôn ngữ của bạn hiện là Tiếng Việt." in after
    assert "Tự động (ngôn ngữ của trình duyệt)" in after and "Automatic (your browser" not in after
    assert "Bảo mật tài khoản" in _text(client.get("/account/security", headers=ENGLISH))
    mail = _text(client.get("/account/mail", headers=ENGLISH))
    assert "Bạn nhận gì, và khi nào" in mail and "What you get, and when" not in mail

    with app.app_context():
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "user.locale")).scalar_one()
        assert entry.details == {"from": None, "to": "vi"}


def test_automatic_falls_back_to_the_browsers_language(app, factory, orgs):
    user, client = _member(app, factory, orgs["telco"])
    assert _choose(client, "vi").status_code == 302
    back = _choose(client, "", headers=ENGLISH)
    assert back.status_code == 302
    assert _locale(app, user.id) is None
    english = _text(client.get("/account/security", headers=ENGLISH))
    assert "Pages now follow your browser&#39;s language." in english  # said in the browser's language
    assert "Account security" in english and "Bảo mật tài khoản" not in english
    assert "Bảo mật tài khoản" in _text(client.get("/account/security", headers=VIETNAMESE))
    assert _choose(client, "").status_code == 302
    assert "Nothing changed." in _text(client.get("/account/language", headers=ENGLISH))


@pytest.mark.parametrize("value", ["xx", "../vi", "vi-VN", "VI", " vi", "en\x00", "a" * 500])
def test_a_value_not_offered_is_refused_and_nothing_is_saved(app, factory, orgs, value):
    user, client = _member(app, factory, orgs["telco"])
    assert _choose(client, "vi").status_code == 302
    refused = _choose(client, value, headers=ENGLISH)
    assert refused.status_code == 400
    assert "has-error" in _text(refused)
    assert _locale(app, user.id) == "vi"


def test_an_unknown_value_is_said_beside_the_field(app, factory, orgs):
    _user, client = _member(app, factory, orgs["telco"])
    page = _text(_choose(client, "xx", headers=ENGLISH))
    assert "&#39;xx&#39; is not a language offered here; choose one of en, vi" in page


def test_one_persons_choice_does_not_change_anothers(app, factory, orgs):
    first, first_client = _member(app, factory, orgs["telco"])
    second, second_client = _member(app, factory, orgs["telco"])
    assert _choose(first_client, "vi", headers=ENGLISH).status_code == 302
    assert _locale(app, second.id) is None
    page = _text(second_client.get("/account/security", headers=ENGLISH))
    assert "Account security" in page and "Bảo mật tài khoản" not in page
    assert "Bảo mật tài khoản" in _text(first_client.get("/account/security", headers=ENGLISH))


def test_the_form_needs_its_csrf_token(app, factory, orgs):
    user, client = _member(app, factory, orgs["telco"])
    assert client.post("/account/language", data={"locale": "vi"}).status_code == 400
    assert client.post("/account/language", data={"locale": "vi", "csrf_token": "forged"}).status_code == 400
    assert _locale(app, user.id) is None


def test_signed_out_people_are_sent_to_sign_in(app):
    response = app.test_client().get("/account/language")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cert_administrator_who_chose_vietnamese_reads_the_administration_pages_in_it(app, factory, orgs):
    admin = factory.user(orgs["cert"], "cert-admin")
    client = app.test_client()
    sign_in(client, admin.email, enrol(app, admin))
    assert "Choose your language" in _text(client.get("/account/security"))  # linked for CERT staff
    assert _choose(client, "vi", headers=ENGLISH).status_code == 302
    factory.token(orgs["bank"], "soc-pipeline")

    expected = {
        "/admin/users": (["Người dùng và vai trò", "Thêm người dùng", "Tạo người dùng", "Lần đăng nhập gần nhất",
                          "Nhật ký kiểm tra"], ["Users and roles", "Add a user", "Create user", "Last sign-in"]),
        "/admin/organizations": (["Tổ chức và tài sản", "Thêm tổ chức", "Tạo tổ chức", "Mặc định của lĩnh vực"],
                                 ["Organizations and assets", "Add an organization", "The sector&#39;s default"]),
        f"/admin/organizations/{orgs['bank'].slug}": (["Địa chỉ trực", "Thêm tài sản", "Ngừng hoạt động"],
                                                      ["Duty address", "Add asset", "No assets registered."]),
        "/admin/tokens": (["Token API và TAXII", "Cấp token", "Sử dụng token", "Thu hồi"],
                          ["API and TAXII tokens", "Issue a token", "Using a token", ">Revoke<"]),
        "/admin/audit": (["Nhật ký kiểm tra", "Xuất CSV", "Người thực hiện chứa", ">Lọc<"],
                         ["Export CSV", "Actor contains", ">Filter<"]),
        "/admin/partners": (["CERT đối tác", "Chưa có CERT đối tác nào."], ["No partner CERTs yet."]),
    }
    for path, (present, absent) in expected.items():
        response = client.get(path, headers=ENGLISH)
        assert response.status_code == 200, path
        html = _text(response)
        for text in present:
            assert text in html, (path, text)
        for text in absent:
            assert text not in html, (path, text)
    # Machine values and TLP labels stay as they are.
    assert "/api/v1/incidents" in _text(client.get("/admin/tokens"))


def test_the_administration_pages_stay_english_for_an_english_reader(app, factory, orgs):
    admin = factory.user(orgs["cert"], "cert-admin")
    client = app.test_client()
    sign_in(client, admin.email, enrol(app, admin))
    users = _text(client.get("/admin/users", headers=ENGLISH))
    assert "Users and roles" in users and "Người dùng" not in users
    assert '<optgroup label="Member and Partner CERT"' in users
    audit = _text(client.get("/admin/audit", headers=ENGLISH))
    assert "Export CSV" in audit and "Xuất CSV" not in audit
