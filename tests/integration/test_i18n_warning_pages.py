"""The early warnings (the list and one warning's page) and the cooperation pages in Vietnamese for
a person who chose it: a member's analyst reads the warnings published to it, CERT staff the
warning's working view and the cooperation queue and a request's page. TLP labels, addresses and
names stay as they are; English stays as it was for everyone else. Reads the shipped Vietnamese
catalog (`make i18n`)."""
from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import select

from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.models import EarlyWarning
from tests.integration import cooperation_world
from tests.integration.staff_login import enrol, sign_in
from tests.integration.warning_world import ATTACKER_IP, report
from tests.integration.web_login import choose_language, login


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def _text(html: str) -> str:
    """The words a person reads: tags out, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def warning_world(app, factory, orgs):
    """A TLP:AMBER warning published to the financial sector (both banks reported the address), the
    first bank's analyst and a CERT staff member (two-factor enrolled)."""
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="amber")
    with app.app_context():
        lifecycle.publish_warnings(db.session)
        warning_id = db.session.execute(select(EarlyWarning.id)).scalar_one()
    staff = factory.user(orgs["cert"], "cert-analyst", email="duty@cert.example")
    return {"warning": warning_id, "analyst": factory.user(orgs["bank"], "analyst", email="soc@first-bank.example"),
            "staff": staff, "secret": enrol(app, staff)}


def _member(app, world, locale: str | None):
    choose_language(app, world["analyst"].id, locale)
    client = app.test_client()
    assert login(client, world["analyst"].email).status_code == 302
    return client


def test_a_member_who_chose_vietnamese_reads_the_warnings_in_vietnamese(app, warning_world):
    client = _member(app, warning_world, "vi")
    warning_id = warning_world["warning"]

    listing = _text(_page(client, "/warnings"))
    assert "Các cảnh báo đã phát hành tới tổ chức của bạn." in listing
    assert "Cảnh báo đã phát hành" in listing and "Hiệu lực đến" in listing
    assert "TLP:AMBER" in listing and ATTACKER_IP in listing
    assert "Warnings published to your organization." not in listing and "Published warnings" not in listing
    assert "Valid until" not in listing

    page = _page(client, f"/warnings/{warning_id}")
    text = _text(page)
    assert f"<title>Cảnh báo #{warning_id}" in page
    assert "Tải xuống gói STIX 2.1" in text and "Hành động khuyến nghị" in text and "Hiệu lực đến" in text
    assert "TLP:AMBER" in text and ATTACKER_IP in text  # the TLP label and the value stay as they are
    # Times as Vietnamese write them, the zone still named.
    assert re.search(r"\d\d:\d\d \d\d/\d\d/\d{4} UTC", text)
    for english in ("Download STIX 2.1 bundle", "Recommended action", "Valid until", f"Warning #{warning_id}"):
        assert english not in text, english


def test_cert_staff_who_chose_vietnamese_read_a_warnings_working_view_in_vietnamese(app, warning_world):
    choose_language(app, warning_world["staff"].id, "vi")
    client = app.test_client()
    assert sign_in(client, warning_world["staff"].email, warning_world["secret"]).status_code == 302

    text = _text(_page(client, f"/warnings/{warning_world['warning']}"))
    assert "Nội dung các thành viên đã nhận" in text and "Các báo cáo liên quan" in text
    assert "2 tổ chức đã báo cáo" in text  # the plural, one Vietnamese form
    assert "cùng một dấu hiệu quan sát được nhiều tổ chức báo cáo" in text
    assert "phiên bản đầu tiên" in text and "nền tảng (từ các báo cáo)" in text  # the history
    assert "TLP:AMBER" in text
    for english in ("As members received it", "Contributing reports", "reporting organizations", "first version",
                    "platform (from its reports)"):
        assert english not in text, english


def test_english_stays_the_default_on_the_warning_pages(app, warning_world):
    client = _member(app, warning_world, None)
    listing = _text(_page(client, "/warnings"))
    assert "Early warnings" in listing and "Warnings published to your organization." in listing
    assert "Valid until" in listing and "Các cảnh báo" not in listing
    page = _page(client, f"/warnings/{warning_world['warning']}")
    assert f"<title>Warning #{warning_world['warning']}" in page
    assert "Download STIX 2.1 bundle" in page and "Recommended action" in page and "Tải xuống" not in page


@pytest.fixture
def coop_world(app, factory):
    """CERT staff (two-factor enrolled) and a request to CERT Abroad opened from a bank's report."""
    world = cooperation_world.world(factory, taxii_url="https://taxii.cert-abroad.example/api/collections/a/")
    report_id = cooperation_world.file_report(app, world["bank"].id, tlp="amber")
    with app.app_context():
        request_id = cooperation_world.open_requests_in_app(world["staff"].id, report_id,
                                                            [world["partner"].slug])[0].id
    return {**world, "request": request_id, "secret": enrol(app, world["staff"])}


def _staff(app, world, locale: str | None):
    choose_language(app, world["staff"].id, locale)
    client = app.test_client()
    assert sign_in(client, world["staff"].email, world["secret"]).status_code == 302
    return client


def test_cert_staff_who_chose_vietnamese_read_the_cooperation_pages_in_vietnamese(app, coop_world):
    client = _staff(app, coop_world, "vi")

    incoming = _text(_page(client, "/cooperation"))
    assert "Yêu cầu phối hợp" in incoming and "Từ đối tác" in incoming and "Tới đối tác" in incoming
    assert "Không có yêu cầu nào từ đối tác." in incoming
    assert "Cooperation requests" not in incoming and "No request from a partner" not in incoming

    outgoing = _text(_page(client, "/cooperation?direction=outgoing"))
    assert "CERT Abroad" in outgoing and "Thời gian chờ" in outgoing and "TLP:AMBER" in outgoing
    assert "From partners" not in outgoing and "Age" not in outgoing

    page = _page(client, f"/cooperation/{coop_world['request']}")
    text = _text(page)
    assert f"<title>Yêu cầu phối hợp #{coop_world['request']}" in page
    assert "Yêu cầu của chúng ta" in text and "tới CERT Abroad" in text and "liên lạc qua TAXII" in text
    assert "Đang chờ CERT Abroad" in text and "Các lần gửi" in text
    assert "TLP:AMBER" in text and cooperation_world.ASK in text  # the label and the message stay as written
    for english in ("Our request", "Waiting for CERT Abroad", "reached over TAXII", "Deliveries"):
        assert english not in text, english


def test_english_stays_the_default_on_the_cooperation_pages(app, coop_world):
    client = _staff(app, coop_world, None)
    incoming = _text(_page(client, "/cooperation"))
    assert "Cooperation requests" in incoming and "From partners" in incoming
    assert "No request from a partner." in incoming and "Yêu cầu" not in incoming
    text = _text(_page(client, f"/cooperation/{coop_world['request']}"))
    assert "Our request" in text and "Waiting for CERT Abroad" in text and "reached over TAXII" in text
