"""The pages a member's analyst lives in (home, the report form, the reports list, a report) in
Vietnamese for a person who chose it, and the sign-in page in the browser's language; English
stays as it was for everyone else. Reads the shipped Vietnamese catalog (`make i18n`)."""
from __future__ import annotations

import pytest

from tests.conftest import auth
from tests.integration.incident_bodies import incident_body
from tests.integration.web_login import signed_in_new_user


@pytest.fixture
def analyst(app, factory, orgs):
    """A telco analyst, signed in, and the id of a report the telco filed."""
    def sign_in(locale: str | None):
        return signed_in_new_user(app, factory, orgs["telco"], locale)

    token = factory.token(orgs["telco"])
    response = app.test_client().post("/api/v1/incidents", json=incident_body(), headers=auth(token))
    assert response.status_code == 201, response.json
    return sign_in, response.json["id"]


def page(client, path: str, **kw) -> str:
    response = client.get(path, **kw)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_a_person_who_chose_vietnamese_reads_the_pages_in_vietnamese(analyst):
    sign_in, incident_id = analyst
    client = sign_in("vi")
    # Even a browser asking for English: the person's own choice comes first.
    english_browser = {"Accept-Language": "en"}

    home = page(client, "/", headers=english_browser)
    for text in ("Hạn chót báo cáo", "Cảnh báo mới nhất", "Báo cáo gần đây", "Báo cáo sự cố", "Đăng xuất"):
        assert text in home
    for text in ("Reporting deadlines", "Newest warnings", "Recent reports", "Sign out"):
        assert text not in home
    assert "Mức độ nghiêm trọng" in home and ">Cao<" in home  # the table's heading and the severity badge

    form = page(client, "/incidents/new", headers=english_browser)
    for text in ("Chuyện gì đã xảy ra", "Chia sẻ (TLP 2.0)", "Dấu hiệu quan sát", "— chọn nhóm và loại —", ">Hủy<"):
        assert text in form
    for text in ("What happened", "Sharing (TLP 2.0)", "choose class and type", "Enter wall-clock times"):
        assert text not in form
    assert "TLP:AMBER" in form  # TLP labels are never translated

    listing = page(client, "/incidents", headers=english_browser)
    for text in ("Báo cáo của TelcoNet", "Mới nhất ở trên cùng.", "Tiêu đề hoặc dấu hiệu quan sát", ">Lọc<"):
        assert text in listing
    for text in ("Reports of TelcoNet", "Newest first.", "Title or observable", ">Filter<"):
        assert text not in listing

    detail = page(client, f"/incidents/{incident_id}", headers=english_browser)
    for text in ("Mô tả", "Các giai đoạn báo cáo", "Dấu hiệu quan sát", "Dữ liệu cá nhân", "Đã nhận báo cáo ban đầu."):
        assert text in detail
    for text in ("<h2>Description</h2>", "Reporting phases", "Personal data", "Initial report received."):
        assert text not in detail
    assert "Ransomware on file servers" in detail  # what the member wrote stays as written


def test_the_sign_in_page_speaks_the_browsers_language(client):
    vietnamese = page(client, "/login", headers={"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"})
    assert "<h1>Đăng nhập</h1>" in vietnamese and "Báo cáo sự cố và cảnh báo sớm" in vietnamese
    assert "<h1>Sign in</h1>" not in vietnamese and "Repeated failed attempts" not in vietnamese


def test_english_is_unchanged_by_default(client, analyst):
    login_page = page(client, "/login")
    assert "<h1>Sign in</h1>" in login_page and "Repeated failed attempts from one address" in login_page
    assert "Đăng nhập" not in login_page

    sign_in, incident_id = analyst
    member = sign_in(None)
    home = page(member, "/")
    assert "Reporting deadlines" in home and "Recent reports" in home and "Hạn chót" not in home
    form = page(member, "/incidents/new")
    assert "What happened" in form and "— choose class and type —" in form
    listing = page(member, "/incidents")
    assert "Reports of TelcoNet" in listing and "Newest first." in listing
    detail = page(member, f"/incidents/{incident_id}")
    assert "<h2>Description</h2>" in detail and "Initial report received." in detail and "Mô tả" not in detail
