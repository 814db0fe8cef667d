"""CERT staff's workspace (the dashboard, the triage queue, a case, a TLP:RED case's summary, the
metrics and the operations pages) in Vietnamese for a person who chose it, counts written the
Vietnamese way; English stays as it was for everyone else. Reads the shipped Vietnamese catalog (`make i18n`)."""
from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest

from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import FeedState, Organization
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import intake
from tests.integration.staff_login import enrol, sign_in
from tests.integration.web_login import choose_language


def _report(app, org, *, title: str, severity: str = "high", tlp: str = "amber", hours: int = 2) -> int:
    with app.app_context():
        data = IncidentCreateSchema().load({
            "title": title, "classification": "fraud/phishing", "severity": severity, "tlp": tlp,
            "detected_at": (utcnow() - timedelta(hours=hours)).isoformat()})
        incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org.id), data=data,
                                             actor=CLI, source="api")
        return incident.id


@pytest.fixture
def workspace(app, factory):
    """Two reports (one critical and overdue), a TLP:RED one, a feed with 12345 objects, and a way
    to sign a CERT analyst in with the language given."""
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    telco = factory.org("TelcoNet", sector="telecommunications")
    reports = {"bank": _report(app, bank, title="Bank phishing"),
               "telco": _report(app, telco, title="Telco outage", severity="critical", hours=80),
               "red": _report(app, bank, title="Board member extortion", tlp="red")}
    with app.app_context():
        db.session.add(FeedState(name="partner-feed", objects_total=12345))
        db.session.commit()

    def staff_client(locale: str | None):
        user = factory.user(cert, "cert-analyst")
        choose_language(app, user.id, locale)
        client = app.test_client()
        assert sign_in(client, user.email, enrol(app, user)).status_code == 302
        return client

    return staff_client, reports


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path, headers={"Accept-Language": "en"})  # the person's own choice comes first
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def main(html: str) -> str:
    """The page's own content, without the navigation around it."""
    return html[html.index('<main id="main"'):html.index("</main>")]


def heading(html: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", html, re.S).group(1).strip()


def chart_svg(html: str, chart: str) -> str:
    found = re.search(rf'id="{chart}" src="data:image/svg\+xml;base64,([^"]+)"', html)
    return base64.b64decode(found.group(1)).decode("utf-8")


def test_staff_who_chose_vietnamese_read_the_workspace_in_vietnamese(workspace):
    staff_client, reports = workspace
    client = staff_client("vi")

    dashboard = main(page(client, "/"))
    assert heading(dashboard) == "Việc cần xử lý ngay"
    for text in ("Giai đoạn quá hạn", "Bản nháp cảnh báo đang chờ duyệt", "Báo cáo nghiêm trọng đang mở",
                 "giai đoạn báo cáo quá hạn", "Không có bản nháp nào đang chờ.", ">Hàng đợi phân loại<"):
        assert text in dashboard, text
    for text in ("What needs attention now", "Overdue phases", "Open critical reports", "No drafts waiting."):
        assert text not in dashboard, text

    queue = main(page(client, "/incidents"))
    assert heading(queue) == "Hàng đợi phân loại"
    assert re.search(r"Nghiêm trọng nhất trước, trong cùng mức độ thì mới nhất trước\. \d+ báo cáo\.", queue)
    for text in ("Tiêu đề hoặc dấu hiệu quan sát", "Chỉ hiện quá hạn", ">Lọc<", ">Hạn chót<", "quá hạn</span>",
                 ">Nghiêm trọng</option>", ">Đang điều tra</option>", "Trang 1 / 1"):
        assert text in queue, text
    for text in ("Triage queue", "Most severe first", "Overdue only", ">Deadlines<", "Page 1 of 1"):
        assert text not in queue, text

    case = main(page(client, f"/incidents/{reports['bank']}"))
    for text in ("<h2>Phân loại</h2>", "<h2>Dòng thời gian</h2>", "<h2>Hạn chót báo cáo</h2>",
                 "<h2>Báo cáo liên kết</h2>", "<dt>Các quốc gia bị ảnh hưởng</dt>", ">Thêm ghi chú nội bộ<",
                 "Tải xuống gói STIX 2.1", ">Hàng đợi phân loại</a>"):
        assert text in case, text
    for text in ("Reporting deadlines", "Timeline", "Add internal note", "Download STIX 2.1 bundle",
                 "Countries affected", "Triage queue"):
        assert text not in case, text

    red = main(page(client, f"/incidents/{reports['red']}", 403))
    assert heading(red) == f"Báo cáo #{reports['red']}: TLP:RED, chỉ người cần biết"
    assert "Thông tin cán bộ được biết" in red and "What staff may know" not in red

    operations = main(page(client, "/operations"))
    assert heading(operations) == "Vận hành"
    for text in ("Nguồn dữ liệu (feed) đối tác", "Tổ chức thành viên đã ngừng lấy dữ liệu", "Thư không gửi được",
                 "Hoạt động bình thường", "chưa bao giờ"):
        assert text in operations, text
    for text in ("Partner feeds", "Members that stopped polling", "Dead letters", "Working", "never"):
        assert text not in operations, text
    assert '<td class="num">12.345</td>' in operations  # thousands as Vietnamese writes them


# i18n.MACHINE_PREFIXES names "/metrics", which is this staff page (Prometheus scrapes /internal/metrics),
# so the page is always English; strict: once the prefix is fixed this passes and the mark must go.
def test_staff_who_chose_vietnamese_read_the_metrics_in_vietnamese(workspace):
    staff_client, _ = workspace
    client = staff_client("vi")

    metrics = page(client, "/metrics")
    assert heading(main(metrics)) == "Số liệu thống kê"
    for text in ("Yêu cầu phối hợp với CERT đối tác", "Số báo cáo mỗi tuần theo lĩnh vực", "Theo tuần",
                 "<dt>Tỷ lệ xử lý hồ sơ sự cố</dt>", "Số phút trung vị đến khi xác nhận đã nhận",
                 'alt="Số báo cáo mỗi tuần theo lĩnh vực (số liệu trong bảng bên dưới)"'):
        assert text in metrics, text
    for text in ("Cooperation requests with partner CERTs", "Reports per week by sector", "By week",
                 "Median minutes to acknowledge"):
        assert text not in metrics, text
    sectors = chart_svg(metrics, "chart-sectors")  # the charts' axes speak the reader's language too
    assert "tuần bắt đầu từ" in sectors and "week starting" not in sectors
    response = chart_svg(metrics, "chart-response")
    assert ">phút</text>" in response and ">minutes</text>" not in response


def test_english_is_unchanged_by_default(workspace):
    staff_client, reports = workspace
    client = staff_client(None)

    dashboard = main(page(client, "/"))
    assert heading(dashboard) == "What needs attention now"
    assert "Overdue phases" in dashboard and "overdue reporting phases" in dashboard

    queue = main(page(client, "/incidents"))
    assert heading(queue) == "Triage queue"
    assert re.search(r"Most severe first, newest first within a severity\. \d+ reports\.", queue)
    assert "Page 1 of 1" in queue and ">Critical</option>" in queue and ">False positive</option>" in queue

    case = main(page(client, f"/incidents/{reports['bank']}"))
    for text in ("<h2>Triage</h2>", "<h2>Timeline</h2>", "<h2>Reporting deadlines</h2>", "Download STIX 2.1 bundle",
                 "via the API"):
        assert text in case, text
    assert heading(main(page(client, f"/incidents/{reports['red']}", 403))) == (
        f"Report #{reports['red']}: TLP:RED, need to know")

    metrics = page(client, "/metrics")
    assert heading(main(metrics)) == "Metrics" and "Reports per week by sector" in metrics
    assert "week starting" in chart_svg(metrics, "chart-sectors")

    operations = main(page(client, "/operations"))
    assert heading(operations) == "Operations" and "Working" in operations and "never" in operations
    assert '<td class="num">12,345</td>' in operations
