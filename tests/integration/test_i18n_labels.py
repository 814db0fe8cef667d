"""Labels in the reader's language, values in the machine's: the report form in Vietnamese shows
translated field labels, RSIT classes and types, severities and TLP help, while every option keeps
the value the API speaks, and a report sent from it stores exactly what the English form stores.
The staff queue's sector and class choices, and the messages after a case or warning action, read
in Vietnamese too. Reads the shipped Vietnamese catalog (`make i18n`)."""
from __future__ import annotations

import re

import pytest

from cert_share.extensions import db
from cert_share.models import Incident
from tests.integration.staff_login import enrol, sign_in
from tests.integration.test_web_incidents import form
from tests.integration.warning_world import ATTACKER_IP, report
from tests.integration.web_login import choose_language, csrf_token, login, page_token

ENGLISH_BROWSER = {"Accept-Language": "en"}  # the person's own choice comes before the browser's



@pytest.fixture
def analysts(app, factory, orgs):
    """A signed-in bank analyst who reads Vietnamese, and one who reads English."""
    clients = {}
    for locale in ("vi", "en"):
        user = factory.user(orgs["bank"], "analyst", email=f"soc-{locale}@firstbank.example")
        choose_language(app, user.id, locale)
        client = app.test_client()
        assert login(client, user.email).status_code == 302
        clients[locale] = client
    return clients


@pytest.fixture
def duty(app, factory, orgs):
    """A signed-in CERT analyst who reads Vietnamese."""
    user = factory.user(orgs["cert"], "cert-analyst", email="duty@cert.example")
    choose_language(app, user.id, "vi")
    client = app.test_client()
    assert sign_in(client, user.email, enrol(app, user)).status_code == 302
    return client


def _page(client, path: str) -> str:
    response = client.get(path, headers=ENGLISH_BROWSER)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def _select(page: str, name: str) -> str:
    match = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert match, f"no <select name={name!r}>"
    return match.group(1)


def _options(select: str) -> list[tuple[str, str]]:
    return [(value, label.strip()) for value, label in
            re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select)]


def _flashes(page: str) -> str:
    return " ".join(re.findall(r'<div class="flash[^"]*"[^>]*>(.*?)</div>', page, re.S))


def test_the_report_form_reads_in_vietnamese_and_keeps_its_values(analysts):
    vi, en = _page(analysts["vi"], "/incidents/new"), _page(analysts["en"], "/incidents/new")

    for label in ("Phân loại (ENISA RSIT)", "Mức độ nghiêm trọng", "Thời điểm phát hiện",
                  "Các quốc gia khác bị ảnh hưởng", "Có liên quan đến dữ liệu cá nhân"):
        assert label in vi
    for label in ("Classification (ENISA RSIT)", "Detected at", "Observables, one per line",
                  "Other countries affected", "Personal data is involved"):
        assert label not in vi and label in en

    # RSIT classes (<optgroup>) and types in Vietnamese; the values are the machine's.
    classification = _select(vi, "classification")
    for group in ("Mã độc", "Thu thập thông tin", "Gian lận", "Tính sẵn sàng"):
        assert f'<optgroup label="{group}">' in classification
    vi_types = dict(_options(classification))
    assert vi_types["fraud/phishing"] == "Lừa đảo trực tuyến (phishing)"
    assert vi_types["availability/ddos"] == "Tấn công từ chối dịch vụ phân tán (DDoS)"
    assert vi_types["information-gathering/scanner"] == "Dò quét"
    assert vi_types["malicious-code/infected-system"] == "Hệ thống bị lây nhiễm"
    assert '<optgroup label="Malicious code">' in _select(en, "classification")
    assert dict(_options(_select(en, "classification")))["fraud/phishing"] == "Phishing"
    for name in ("classification", "severity", "timezone"):
        vi_values = [value for value, _ in _options(_select(vi, name))]
        assert vi_values == [value for value, _ in _options(_select(en, name))], name
        assert vi_values
    # Countries: the same codes, ordered by the name the reader reads (Đức among the D's).
    vi_countries = [label for _, label in _options(_select(vi, "cross_border"))]
    assert sorted(v for v, _ in _options(_select(vi, "cross_border"))) == \
        sorted(v for v, _ in _options(_select(en, "cross_border")))
    assert vi_countries.index("Đan Mạch") < vi_countries.index("Đức") < vi_countries.index("Estonia")
    assert dict(_options(_select(vi, "severity"))) == {"": "— chọn —", "low": "Thấp", "medium": "Trung bình",
                                                       "high": "Cao", "critical": "Nghiêm trọng"}
    assert dict(_options(_select(en, "severity")))["critical"] == "Critical"
    # Country names in Vietnamese (CLDR), the ISO codes unchanged.
    assert dict(_options(_select(vi, "cross_border")))["DE"] == "Đức"
    assert dict(_options(_select(en, "cross_border")))["DE"] == "Germany"

    # TLP labels stay as FIRST writes them; what each means is translated.
    assert "TLP:AMBER+STRICT" in vi and "Chỉ tổ chức của bạn và CERT." in vi
    assert "Only your organization and the CERT." not in vi
    for value in ("clear", "green", "amber", "amber+strict", "red"):
        assert f'value="{value}"' in vi


def test_a_report_sent_in_vietnamese_stores_what_the_english_form_stores(app, analysts):
    stored = {}
    for locale, client in analysts.items():
        token = page_token(client, "/incidents/new")
        response = client.post("/incidents/new", data={"csrf_token": token, **form(title=f"Report in {locale}")},
                               headers=ENGLISH_BROWSER, follow_redirects=True)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        with app.app_context():
            incident = db.session.query(Incident).filter_by(title=f"Report in {locale}").one()
            stored[locale] = {f: getattr(incident, f) for f in ("classification", "severity", "tlp", "cross_border",
                                                                "source", "personal_data")}
            if locale == "vi":
                assert f"Đã nhận báo cáo #{incident.id}. CERT đã được thông báo." in page
                assert "received. The CERT has been notified" not in page
            else:
                assert f"Report #{incident.id} received. The CERT has been notified." in page
    assert stored["vi"] == stored["en"] == {"classification": "malicious-code/infected-system", "severity": "high",
                                            "tlp": "amber", "cross_border": ["FI", "LV"], "source": "web",
                                            "personal_data": False}


def test_a_refused_report_in_vietnamese_names_the_missing_field_in_vietnamese(app, analysts):
    client = analysts["vi"]
    token = page_token(client, "/incidents/new")
    response = client.post("/incidents/new", data={"csrf_token": token, **form(severity="")},
                           headers=ENGLISH_BROWSER)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert re.search(r'id="severity-errors">\s*<li>Trường này là bắt buộc\.', page)
    # What was chosen stays chosen, by its value.
    assert re.search(r'<option selected value="malicious-code/infected-system"|'
                     r'value="malicious-code/infected-system" selected', page)


def test_the_staff_queue_offers_sectors_and_classes_in_vietnamese(duty):
    queue = _page(duty, "/incidents")
    sectors = dict(_options(_select(queue, "sector")))
    assert sectors["financial-services"] == "Dịch vụ tài chính"
    assert sectors["telecommunications"] == "Viễn thông"
    assert sectors["utilities"] == "Dịch vụ công ích (điện, nước)"
    classes = dict(_options(_select(queue, "class")))
    assert classes["malicious-code"] == "Mã độc" and classes["fraud"] == "Gian lận"


def test_case_and_warning_actions_are_confirmed_in_vietnamese(app, orgs, duty):
    # A case: triage it, add a note, record cross-border cooperation.
    incident_id = report(app, orgs["bank"], [("ipv4-addr", "203.0.113.9")], tlp="green")
    url = f"/incidents/{incident_id}"
    case = _page(duty, url)
    assert dict(_options(_select(case, "status")))["acknowledged"].startswith("Đã xác nhận")
    token = csrf_token(case)
    done = duty.post(url + "/triage", data={"csrf_token": token, "status": "acknowledged", "assignee": ""},
                     headers=ENGLISH_BROWSER, follow_redirects=True).get_data(as_text=True)
    assert f"Đã cập nhật báo cáo #{incident_id}." in _flashes(done)
    assert f"Report #{incident_id} updated." not in done
    done = duty.post(url + "/notes", data={"csrf_token": token, "note": "Called the bank."},
                     headers=ENGLISH_BROWSER, follow_redirects=True).get_data(as_text=True)
    assert "Đã thêm ghi chú (nội bộ, không bao giờ được chia sẻ)." in _flashes(done)
    done = duty.post(url + "/cooperation", data={"csrf_token": token, "countries": "", "partner_certs": ""},
                     headers=ENGLISH_BROWSER, follow_redirects=True).get_data(as_text=True)
    assert "Đã xóa thông tin phối hợp xuyên biên giới." in _flashes(done)

    # A warning: two members see the attacker's address, one as AMBER+STRICT: a draft to review.
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict")
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    with app.app_context():
        from cert_share.models import EarlyWarning

        warning_id = db.session.query(EarlyWarning.id).filter_by(state="draft").scalar()
    assert warning_id is not None
    page = _page(duty, f"/warnings/{warning_id}")
    done = duty.post(f"/warnings/{warning_id}/discard", data={"csrf_token": csrf_token(page)},
                     headers=ENGLISH_BROWSER, follow_redirects=True).get_data(as_text=True)
    assert f"Đã hủy bỏ cảnh báo #{warning_id}." in _flashes(done)
    assert f"Warning #{warning_id} discarded." not in done
    again = duty.post(f"/warnings/{warning_id}/discard", data={"csrf_token": csrf_token(page)},
                      headers=ENGLISH_BROWSER, follow_redirects=True).get_data(as_text=True)
    assert f"Chưa hủy bỏ được cảnh báo #{warning_id}:" in _flashes(again)
