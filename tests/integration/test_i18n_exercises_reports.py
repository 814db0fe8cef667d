"""Languages on the drills' pages and in the reports (issue 15): a person who reads Vietnamese sees
the exercise pages (staff's and a participant's) in Vietnamese; `cert-share report ... --locale vi`
writes the HTML page in Vietnamese, with its dates and numbers as Vietnamese writes them, while
CSV and JSON, machine formats, are byte for byte the same in every language; without --locale the
page is in the platform's DEFAULT_LOCALE (English unless set)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from cert_share.reports import transparency as transparency_module
from tests import exercise_scenario
from tests.integration.test_exercise_pages import _create, _exercise, _member, _send
from tests.integration.test_exercise_pages import world as world  # noqa: F401 - the pages' fixture
from tests.integration.test_exercise_report_cli import run as run_exercise_report
from tests.integration.test_transparency import file
from tests.integration.web_login import choose_language, csrf_token

UTC = timezone.utc
GENERATED = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)



@pytest.fixture
def drill_vi(app, world, staff_vi):  # noqa: F811 - world is the imported fixture
    response = _create(staff_vi, world)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    exercise = _exercise(app)
    _send(app, exercise.id, 1)
    return exercise.id


@pytest.fixture
def staff_vi(app, world):  # noqa: F811
    from tests.integration.staff_login import sign_in

    choose_language(app, world["staff"].id, "vi")
    client = app.test_client()
    assert sign_in(client, world["staff"].email, world["secret"]).status_code == 302
    return client


def test_staff_pages_speak_vietnamese(app, world, staff_vi, drill_vi):  # noqa: F811
    listing = staff_vi.get("/exercises").get_data(as_text=True)
    assert "Cuộc diễn tập mới" in listing and "Đây là một cuộc diễn tập" in listing
    assert "New exercise" not in listing and "This is a drill" not in listing

    form = staff_vi.get("/exercises/new").get_data(as_text=True)
    assert "Kịch bản" in form and "Tạo cuộc diễn tập" in form and "Số phút sau khi bắt đầu" in form
    assert "Tình huống diễn tập 1" in form and "Create exercise" not in form

    page = staff_vi.get(f"/exercises/{drill_vi}").get_data(as_text=True)
    for text in ("[DIỄN TẬP] C2 beaconing", "Kết quả", "Đơn vị tham gia", "Theo lĩnh vực", "Kết thúc cuộc diễn tập",
                 "Xóa cuộc diễn tập", "chưa"):
        assert text in page, text
    for text in ("[EXERCISE] C2 beaconing", "Close the exercise", "By sector", "not yet"):
        assert text not in page, text

    token = csrf_token(page[page.index('id="close-form"'):])
    closed = staff_vi.post(f"/exercises/{drill_vi}/close", data={"csrf_token": token}, follow_redirects=True)
    html = closed.get_data(as_text=True)
    assert "Đã kết thúc cuộc diễn tập" in html and "đã chốt khi kết thúc" in html
    assert "its results are frozen" not in html


def test_participant_inject_page_speaks_vietnamese_and_english_stays(app, world, drill_vi):  # noqa: F811
    choose_language(app, world["bank_user"].id, "vi")
    member = _member(app, world["bank_user"].email)
    inject = member.get(f"/exercises/{drill_vi}/injects/1").get_data(as_text=True)
    for text in ("[DIỄN TẬP] C2 beaconing", "[DIỄN TẬP] Diễn biến", "Xác nhận đã nhận", "Gửi báo cáo diễn tập",
                 "Dấu hiệu quan sát", "198.51.100.23"):
        assert text in inject, text
    assert "What happened" not in inject and "File an exercise report" not in inject
    posted = member.post(f"/exercises/{drill_vi}/injects/1/acknowledge", data={"csrf_token": csrf_token(inject)},
                         follow_redirects=True).get_data(as_text=True)
    assert "[DIỄN TẬP] Đã xác nhận đã nhận tình huống diễn tập 1." in posted
    participant = member.get(f"/exercises/{drill_vi}").get_data(as_text=True)
    assert "Tình huống diễn tập đã nhận" in participant and "Injects received" not in participant

    # The same page for a participant who reads English is as it always was.
    english = _member(app, world["power_user"].email).get(f"/exercises/{drill_vi}/injects/1").get_data(as_text=True)
    assert "[EXERCISE] C2 beaconing" in english and "File an exercise report" in english
    assert "Diễn biến" not in english


@pytest.fixture
def may(app, factory, monkeypatch):
    """Reports in May 2026 (enough to publish), and a report generated at a fixed time."""
    monkeypatch.setattr(transparency_module, "utcnow", lambda: GENERATED)
    bank = factory.org("Hidden Bank", sector="financial-services")
    t0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    with app.app_context():
        for i in range(4):
            file(bank, t0 + timedelta(days=i), "fraud/phishing", "closed", ack_minutes=10 * (i + 1))


def _same_chart_ids(html: str) -> str:
    """The page without what differs between two drawings of the same chart (pygal's random ids)."""
    return re.sub(r"chart-[0-9a-f-]{36}", "chart-", html)


def _transparency(runner, *args) -> str:
    result = runner.invoke(args=["report", "transparency", "--from", "2026-05-01", "--to", "2026-05-31", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_transparency_html_in_vietnamese(runner, may):
    html = _transparency(runner, "--format", "html", "--locale", "vi")
    for text in ('<html lang="vi">', "Báo cáo minh bạch về ứng phó sự cố", "Số liệu chính",
                 "Định danh liên quan đến gian lận", "Phối hợp với CERT đối tác",
                 "Giai đoạn từ 01/05/2026 đến 31/05/2026", "10:00:00 01/06/2026 UTC",
                 "TLP:CLEAR", "25,0 phút"):  # median of 10, 20, 30, 40 minutes, with a decimal comma
        assert text in html, text
    for text in ("Key figures", "Fraud identifiers", "Incident response transparency report", "2026-05-01"):
        assert text not in html, text
    assert html.count("<svg") == 2


def test_transparency_default_is_english_as_before(runner, may, app):
    default = _transparency(runner, "--format", "html")
    assert _same_chart_ids(default) == _same_chart_ids(_transparency(runner, "--format", "html", "--locale", "en"))
    for text in ('<html lang="en">', "<h1>Incident response transparency report</h1>", "Key figures",
                 "Period 2026-05-01 to 2026-05-31 (UTC, both days included). Generated 2026-06-01T10:00:00Z.",
                 "25.0 min"):
        assert text in default, text
    app.config["DEFAULT_LOCALE"] = "vi"
    try:
        assert "Số liệu chính" in _transparency(runner, "--format", "html")
    finally:
        app.config["DEFAULT_LOCALE"] = "en"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_transparency_machine_formats_are_the_same_in_every_language(runner, may, fmt):
    english = _transparency(runner, "--format", fmt)
    assert english == _transparency(runner, "--format", fmt, "--locale", "vi")
    assert english == _transparency(runner, "--format", fmt, "--locale", "en")
    assert "Hidden Bank" not in english



def test_exercise_report_in_vietnamese_and_machine_formats_unchanged(runner, factory):
    ids = exercise_scenario.build(factory)
    html = run_exercise_report(runner, ids["exercise"], "--format", "html", "--locale", "vi")
    for text in ("Báo cáo đánh giá sau diễn tập", "Theo đơn vị tham gia", "Thời gian trung vị để tải về",
                 "5 phút", "Phản hồi đã thực hiện và bị bỏ lỡ theo lĩnh vực", "09:00:00 02/03/2026 UTC"):
        assert text in html, text
    assert "After-action report" not in html and "By participant" not in html
    english = run_exercise_report(runner, ids["exercise"], "--format", "html")
    assert "After-action report" in english and "5 min" in english and "2026-03-02T09:00:00Z" in english
    for fmt in ("csv", "json"):
        assert (run_exercise_report(runner, ids["exercise"], "--format", fmt, "--locale", "vi")
                == run_exercise_report(runner, ids["exercise"], "--format", fmt))


def test_locale_must_be_a_shipped_language(runner, may):
    result = runner.invoke(args=["report", "transparency", "--from", "2026-05-01", "--to", "2026-05-31",
                                 "--format", "html", "--locale", "xx"])
    assert result.exit_code == 2 and "--locale" in result.output
