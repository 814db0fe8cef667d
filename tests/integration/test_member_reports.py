"""A member's reports list: filters (status, severity, classification, detection date, overdue),
a search box that finds titles and observables, overdue and late phases on each row; the same
filters over the API; the report page shows every field the member entered. Never another
organization's report, whatever the filter or search."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from cert_share.clock import utcnow
from tests.conftest import auth
from tests.integration.incident_bodies import incident_body

SHARED_IP = "203.0.113.7"  # incident_body's observables: both members report it



def file(client, token, title: str, hours_ago: float = 2, **fields) -> int:
    body = incident_body(title=title, detected_at=(utcnow() - timedelta(hours=hours_ago)).isoformat(), **fields)
    response = client.post("/api/v1/incidents", json=body, headers=auth(token))
    assert response.status_code == 201, response.json
    return response.json["id"]


def titles(client, query: str = "") -> list[str]:
    """The report titles the list page shows for this query string, in order."""
    response = client.get(f"/incidents{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    table = re.search(r'<table class="data" id="reports">(.*?)</table>', response.get_data(as_text=True), re.S)
    return re.findall(r'<a href="/incidents/\d+">([^<]+)</a>', table.group(1)) if table else []


def api_titles(client, token, query: str = "") -> list[str]:
    response = client.get(f"/api/v1/incidents{query}", headers=auth(token))
    assert response.status_code == 200, response.json
    return [i["title"] for i in response.json["incidents"]]


@pytest.fixture
def telco_reports(members, factory, orgs):
    client, token = members["telco"]
    file(client, token, "Ransomware on billing", severity="critical", classification="malicious-code/infected-system")
    file(client, token, "DDoS on DNS resolvers", severity="high", classification="availability/ddos",
         observables=[{"type": "domain-name", "value": "resolver.attacker.example"}])
    file(client, token, "Phishing against subscribers", hours_ago=24 * 20, severity="medium",
         classification="fraud/phishing", observables=[{"type": "ipv4-addr", "value": "198.51.100.99"}])
    dismissed = file(client, token, "Old scan, not an incident", hours_ago=24 * 10, severity="low",
                  classification="information-gathering/scanner", observables=[])
    # The CERT marks one false positive: the member's list filters by the status the CERT sets.
    response = client.patch(f"/api/v1/incidents/{dismissed}", json={"status": "false-positive"},
                            headers=auth(factory.token(orgs["cert"])))
    assert response.status_code == 200, response.json
    return client, token


@pytest.mark.parametrize("query,expected", [
    ("", ["Old scan, not an incident", "Phishing against subscribers", "DDoS on DNS resolvers",
          "Ransomware on billing"]),
    ("?status=false-positive", ["Old scan, not an incident"]),
    ("?status=open", ["Phishing against subscribers", "DDoS on DNS resolvers", "Ransomware on billing"]),
    ("?severity=critical", ["Ransomware on billing"]),
    ("?class=availability", ["DDoS on DNS resolvers"]),
    ("?class=fraud/phishing", ["Phishing against subscribers"]),
    ("?class=fraud/masquerade", []),
    ("?severity=medium&class=fraud", ["Phishing against subscribers"]),
])
def test_filters_narrow_the_list_on_the_page_and_over_the_api(telco_reports, query, expected):
    client, token = telco_reports
    assert titles(client, query) == expected
    assert api_titles(client, token, query) == expected


def test_detection_date_bounds_are_whole_days_and_inclusive(telco_reports):
    client, token = telco_reports
    today = utcnow().date()
    ten_days_ago = (utcnow() - timedelta(days=10)).date()
    assert titles(client, f"?from={today - timedelta(days=1)}") == ["DDoS on DNS resolvers", "Ransomware on billing"]
    assert titles(client, f"?from={ten_days_ago}&to={ten_days_ago}") == ["Old scan, not an incident"]
    older = ["Old scan, not an incident", "Phishing against subscribers"]
    assert titles(client, f"?to={ten_days_ago}") == older
    assert api_titles(client, token, f"?to={ten_days_ago}") == older


def test_received_bounds_and_the_sector_narrow_the_list_and_the_api(telco_reports, members, factory, orgs):
    """Received is when the platform got the report (the situation mail links with it), not when
    the member detected it; the CERT narrows by the reporting organization's sector."""
    client, token = telco_reports
    bank_client, bank_token = members["bank"]
    file(bank_client, bank_token, "Card skimming at branches", severity="high")
    everything = ["Old scan, not an incident", "Phishing against subscribers", "DDoS on DNS resolvers",
                  "Ransomware on billing"]
    today, now = utcnow().date(), utcnow()
    assert titles(client, f"?received_from={today}") == everything  # detected weeks ago, received today
    assert titles(client, f"?received_to={today - timedelta(days=1)}") == []
    later = urlencode({"received_from": (now + timedelta(hours=1)).isoformat()})
    assert api_titles(client, token, f"?{later}") == []
    window = urlencode({"received_from": (now - timedelta(hours=1)).isoformat(),
                        "received_to": (now + timedelta(hours=1)).isoformat()})
    assert api_titles(client, token, f"?{window}") == everything
    cert = factory.token(orgs["cert"])
    assert api_titles(client, cert, "?sector=telecommunications") == everything
    assert api_titles(client, cert, f"?sector=financial-services&{window}") == ["Card skimming at branches"]
    assert titles(client, "?sector=financial-services") == []  # a member's list is its own reports anyway


@pytest.mark.parametrize("text,expected", [
    ("ddos", ["DDoS on DNS resolvers"]),  # title, any case
    ("198.51.100.99", ["Phishing against subscribers"]),  # an address one report carries
    ("198[.]51[.]100[.]99", ["Phishing against subscribers"]),  # defanged, as analysts paste it
    ("198.51.100.0/24", ["Phishing against subscribers"]),  # a range
    ("attacker.example", ["DDoS on DNS resolvers"]),  # a domain finds its subdomains
    ("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", ["Ransomware on billing"]),  # a hash
    ("nothing like this", []),
])
def test_search_finds_titles_and_observables(telco_reports, text, expected):
    client, token = telco_reports
    query = "?" + urlencode({"q": text})
    assert titles(client, query) == expected
    assert api_titles(client, token, query) == expected


def test_neither_filters_nor_search_ever_show_another_members_report(members):
    telco, telco_token = members["telco"]
    bank, bank_token = members["bank"]
    file(bank, bank_token, "Bank ransomware", severity="critical",
         observables=[{"type": "ipv4-addr", "value": SHARED_IP}, {"type": "domain-name", "value": "only.bank.example"}])
    file(telco, telco_token, "Telco DDoS", severity="high", classification="availability/ddos")
    for query in ("", "?severity=critical", "?class=malicious-code", "?q=ransomware", "?q=only.bank.example",
                  f"?q={SHARED_IP}", "?q=bank", "?status=new", "?overdue=1", "?q=203.0.113.0/24"):
        assert "Bank ransomware" not in titles(telco, query), query
        assert "Bank ransomware" not in api_titles(telco, telco_token, query), query
    # Both reported the shared address: each finds only its own report.
    assert titles(telco, f"?q={SHARED_IP}") == ["Telco DDoS"]
    assert titles(bank, f"?q={SHARED_IP}") == ["Bank ransomware"]
    assert titles(telco, "?q=only.bank.example") == []


def test_rows_show_overdue_and_late_phases_and_the_overdue_filter_finds_them(members):
    client, token = members["telco"]
    file(client, token, "Fresh report")
    overdue = file(client, token, "Notification overdue", hours_ago=80)
    late = file(client, token, "Notification filed late", hours_ago=80)
    assert client.post(f"/api/v1/incidents/{late}/updates", headers=auth(token),
                       json={"phase": "notification", "summary": "Scope known."}).status_code == 201
    page = client.get("/incidents").get_data(as_text=True)
    rows = {int(n): " ".join(re.sub(r"<[^>]+>", " ", row).split())
            for n, row in re.findall(r'<td class="num">(\d+)</td>(.*?)</tr>', page, re.S)}
    assert "Incident notification overdue" in rows[overdue]
    assert "Incident notification filed late" in rows[late] and "overdue" not in rows[late]
    assert rows[min(rows)].endswith("on time")
    assert titles(client, "?overdue=1") == ["Notification overdue"]
    assert api_titles(client, token, "?overdue=true") == ["Notification overdue"]


def test_filters_survive_paging(app, members):
    from cert_share.web import incidents as views

    client, token = members["telco"]
    for n in range(4):
        file(client, token, f"Critical {n}", severity="critical")
        file(client, token, f"Low {n}", severity="low")
    size, views.PAGE_SIZE = views.PAGE_SIZE, 3
    try:
        page = client.get("/incidents?severity=critical").get_data(as_text=True)
        next_url = re.search(r'<a href="([^"]+)">Older reports', page).group(1).replace("&amp;", "&")
        assert "severity=critical" in next_url
        assert titles(client, next_url.removeprefix("/incidents")) == ["Critical 0"]
    finally:
        views.PAGE_SIZE = size
    response = client.get("/api/v1/incidents?severity=low&limit=3", headers=auth(token)).json
    assert "severity=low" in response["next"]
    assert [i["title"] for i in client.get(response["next"], headers=auth(token)).json["incidents"]] == ["Low 0"]


@pytest.mark.parametrize("query,field,message", [
    ("?status=lost", "status", "status must be one of all, open, new"),
    ("?severity=apocalyptic", "severity", "severity must be one of low, medium, high, critical"),
    ("?class=teapot", "class", "class must be an RSIT class"),
    ("?from=yesterday", "from", "from must be a date as YYYY-MM-DD"),
    ("?from=2026-02-30", "from", "from must be a date as YYYY-MM-DD"),
    ("?to=%D9%A1%D9%A2%D9%A3%D9%A4-%D9%A0%D9%A1-%D9%A0%D9%A1", "to", "to must be a date as YYYY-MM-DD"),
    ("?from=2026-05-02&to=2026-05-01", "from", "from must not be after to"),
    ("?q=" + "x" * 3000, "q", "search text is at most"),
    ("?q=10.0.0.0/2", "q", "is too wide to search"),
    ("?sector=moon", "sector", "sector must be one of"),
    ("?received_from=yesterday", "received_from", "received_from must be a day (YYYY-MM-DD) or a date-time"),
    ("?received_to=2026-13-01T00:00:00Z", "received_to", "received_to must be a day (YYYY-MM-DD) or a date-time"),
    ("?received_from=2026-05-02&received_to=2026-05-01", "received_from", "received_from must be before"),
])
def test_a_bad_filter_is_named_on_the_page_and_over_the_api(members, query, field, message):
    client, token = members["telco"]
    page = client.get(f"/incidents{query}")
    assert page.status_code == 400
    body = page.get_data(as_text=True)
    assert 'id="filter-error"' in body and message in body
    assert 'id="report-filters"' in body  # the form is there to correct it
    response = client.get(f"/api/v1/incidents{query}", headers=auth(token))
    assert response.status_code == 400 and field in response.json["errors"] and message in response.json["message"]


def test_the_report_page_shows_every_field_the_member_entered(members):
    client, token = members["telco"]
    started = utcnow() - timedelta(hours=5)
    incident_id = file(client, token, "Outage after intrusion", affected_services="Mobile data in the north",
                       impact="40 000 subscribers without data for 3 h", personal_data=True,
                       started_at=started.isoformat(), classified_at=(utcnow() - timedelta(hours=1)).isoformat())
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    facts = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Mobile data in the north" in facts and "40 000 subscribers without data for 3 h" in facts
    assert "Personal data Yes" in facts
    assert f"Started {started.strftime('%Y-%m-%d %H:%M')} UTC" in facts
