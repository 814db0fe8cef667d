"""A member's home page: the reporting phases the organization still owes (overdue ones first),
the newest warnings it may read, its recent reports; never another organization's."""
from __future__ import annotations

import re
from datetime import timedelta

from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from tests.conftest import auth
from tests.integration.incident_bodies import incident_body
from tests.integration.warning_world import ATTACKER_IP, report


def file(client, token, title: str, hours_ago: float, **fields) -> int:
    body = incident_body(title=title, detected_at=(utcnow() - timedelta(hours=hours_ago)).isoformat(), **fields)
    response = client.post("/api/v1/incidents", json=body, headers=auth(token))
    assert response.status_code == 201, response.json
    return response.json["id"]


def deadline_rows(html: str) -> list[str]:
    """The home page's deadline table, one text line per row (tags stripped)."""
    table = re.search(r'<table class="data" id="deadline-list">(.*?)</table>', html, re.S)
    if table is None:
        return []
    rows = re.findall(r"<tr class=\"is-[a-z]+\">(.*?)</tr>", table.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def test_owed_phases_come_overdue_first_then_soonest_due(members):
    client, token = members["telco"]
    fresh = file(client, token, "Fresh DDoS", 1)
    late = file(client, token, "Old phishing wave", 80)  # NIS2: its 72 h notification is overdue
    rows = deadline_rows(client.get("/").get_data(as_text=True))
    assert "· overdue" in rows[0] and "Incident notification" in rows[0] and f"#{late} Old phishing wave" in rows[0]
    assert "Incident notification" in rows[1] and f"#{fresh} Fresh DDoS" in rows[1] and "overdue" not in rows[1]
    # Then the final reports, a month after each notification is due.
    assert ["Final report" in r for r in rows[2:]] == [True, True]
    assert not any("overdue" in r for r in rows[1:])
    page = client.get("/").get_data(as_text=True)
    assert "1 overdue →" in page and "/incidents?overdue=1" in page


def test_a_filed_phase_leaves_the_list(members):
    client, token = members["telco"]
    late = file(client, token, "Old phishing wave", 80)
    response = client.post(f"/api/v1/incidents/{late}/updates", headers=auth(token),
                           json={"phase": "notification", "summary": "Scope known, contained."})
    assert response.status_code == 201
    rows = deadline_rows(client.get("/").get_data(as_text=True))
    assert [r for r in rows if "Incident notification" in r] == []
    assert len(rows) == 1 and "Final report" in rows[0] and "overdue" not in rows[0]


def test_a_dora_bank_sees_its_intermediate_report_due(members):
    client, token = members["bank"]
    file(client, token, "Card fraud spike", 2)
    rows = deadline_rows(client.get("/").get_data(as_text=True))
    assert ["Intermediate report" in rows[0], "Final report" in rows[1], len(rows)] == [True, True, 2]
    assert not any("notification" in r.lower() for r in rows)


def test_nothing_owed_says_so(members):
    client, _token = members["telco"]
    page = client.get("/").get_data(as_text=True)
    assert deadline_rows(page) == []
    assert "No reporting phase is owed" in page


def test_home_never_shows_another_organizations_deadlines_or_reports(members):
    telco, telco_token = members["telco"]
    bank, bank_token = members["bank"]
    file(telco, telco_token, "Telco outage", 80)
    file(bank, bank_token, "Bank phishing", 80)
    telco_page, bank_page = telco.get("/").get_data(as_text=True), bank.get("/").get_data(as_text=True)
    assert "Telco outage" in telco_page and "Bank phishing" not in telco_page
    assert "Bank phishing" in bank_page and "Telco outage" not in bank_page
    assert all("Bank phishing" not in r for r in deadline_rows(telco_page))


def test_the_newest_warnings_shown_are_those_the_member_may_read(app, orgs, members):
    # A telco report of an address in First Bank's range warns First Bank alone (AMBER+STRICT);
    # two banks seeing the same attacker warn every member.
    report(app, orgs["telco"], [("ipv4-addr", "192.0.2.77")])
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    with app.app_context():
        lifecycle.publish_warnings(db.session)
    bank_page = members["bank"][0].get("/").get_data(as_text=True)
    telco_page = members["telco"][0].get("/").get_data(as_text=True)
    warnings_of = {name: re.search(r'id="home-warnings">(.*?)</section>', page, re.S).group(1)
                   for name, page in (("bank", bank_page), ("telco", telco_page))}
    assert "192.0.2.77" in warnings_of["bank"] and ATTACKER_IP in warnings_of["bank"]
    assert ATTACKER_IP in warnings_of["telco"] and "192.0.2.77" not in warnings_of["telco"]
    # The newest first: the all-members warning was raised last.
    assert warnings_of["bank"].index(ATTACKER_IP) < warnings_of["bank"].index("192.0.2.77")
    # Each leads to its own page, which the member may open.
    links = re.findall(r'href="(/warnings/\d+)"', warnings_of["telco"])
    assert len(links) == 1 and members["telco"][0].get(links[0]).status_code == 200


def test_no_warning_yet_says_so(members):
    page = members["telco"][0].get("/").get_data(as_text=True)
    assert "No warning has been published to your organization." in page


def test_recent_reports_still_lead_to_all_reports(members):
    client, token = members["telco"]
    for n in range(6):
        file(client, token, f"Report number {n}", 1)
    page = client.get("/").get_data(as_text=True)
    recent = re.search(r'id="recent">(.*?)</section>', page, re.S).group(1)
    assert "Report number 5" in recent and "Report number 0" not in recent  # the five newest
    assert 'href="/incidents">All reports' in recent
