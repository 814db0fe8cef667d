"""Search and pivot, as an analyst uses it: the header's box on every signed-in page, /search
with its groups, the API's observable lookup, the triage queue's search, and the links from
every observable on a report, case or warning page to its search."""
from __future__ import annotations

import re

import pytest

from tests.conftest import auth
from tests.integration.sql_capture import sql_statements
from tests.integration.staff_login import enrol, sign_in
from tests.integration.warning_world import report
from tests.integration.web_login import login

EVIL_IP = "198.51.100.23"


@pytest.fixture
def world(app, factory, orgs):
    bank_user = factory.user(orgs["bank"], email="soc@first.example")
    staff = factory.user(orgs["cert"], "cert-analyst", email="analyst@cert.example")
    ids = {
        "bank_ip": report(app, orgs["bank"], [("ipv4-addr", EVIL_IP), ("url", "http://login.evil.example/pay")],
                          title="Phishing kit on login page"),
        "bank_mail": report(app, orgs["bank"], [("email-addr", "ceo@mail.evil.example"),
                                                ("file:sha256", "ab" * 32)], title="CEO fraud mails"),
        "bank2_ip": report(app, orgs["bank2"], [("ipv4-addr", EVIL_IP), ("domain-name", "evil.example-shop.example")],
                           title="Card skimmer beacon"),
    }
    return {"orgs": orgs, "bank_user": bank_user, "staff": staff, "ids": ids,
            "staff_secret": enrol(app, staff), "tokens": {"bank": factory.token(orgs["bank"]),
                                                          "cert": factory.token(orgs["cert"])}}


def member(app, world):
    client = app.test_client()
    assert login(client, world["bank_user"].email).status_code == 302
    return client


def staff(app, world):
    client = app.test_client()
    assert sign_in(client, world["staff"].email, world["staff_secret"]).status_code == 302
    return client


def section(html: str, name: str) -> str:
    match = re.search(rf'<section class="panel" id="search-{name}">(.*?)</section>', html, re.S)
    return match.group(1) if match else ""


def report_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/incidents/(\d+)"', section(html, "reports"))]


def test_every_signed_in_page_has_the_search_box_and_signed_out_pages_do_not(app, world):
    client = member(app, world)
    for path in ("/", "/incidents", "/warnings", "/incidents/new", f"/incidents/{world['ids']['bank_ip']}"):
        html = client.get(path).get_data(as_text=True)
        assert 'class="topsearch"' in html and 'action="/search"' in html and 'name="q"' in html, path
        assert '<label for="topsearch-q"' in html
    assert 'class="topsearch"' not in app.test_client().get("/login").get_data(as_text=True)


def test_a_member_finds_its_own_reports_by_ip_cidr_domain_and_defanged_values(app, world):
    client = member(app, world)
    ids = world["ids"]
    for q, expected in [(EVIL_IP, [ids["bank_ip"]]), ("198.51.100.0/24", [ids["bank_ip"]]),
                        ("198[.]51[.]100[.]23", [ids["bank_ip"]]),
                        ("evil.example", [ids["bank_mail"], ids["bank_ip"]]),
                        ("evil[.]example", [ids["bank_mail"], ids["bank_ip"]]),
                        ("hxxp://login[.]evil[.]example/pay", [ids["bank_ip"]]),
                        ("ceo@mail.evil.example", [ids["bank_mail"]]), ("AB" * 32, [ids["bank_mail"]]),
                        ("phishing KIT", [ids["bank_ip"]]), ("skimmer", []), ("example-shop.example", []),
                        ("203.0.113.9", [])]:
        response = client.get("/search", query_string={"q": q})
        assert response.status_code == 200, q
        assert report_ids(response.get_data(as_text=True)) == expected, q


def test_a_domain_search_names_what_matched_and_not_lookalikes(app, world):
    html = staff(app, world).get("/search?q=evil.example").get_data(as_text=True)
    reports = section(html, "reports")
    assert "http://login.evil.example/pay" in reports and "ceo@mail.evil.example" in reports
    assert "Card skimmer" not in reports  # evil.example-shop.example is not under evil.example


def test_staff_see_every_report_and_who_reported_it(app, world):
    html = staff(app, world).get("/search", query_string={"q": EVIL_IP}).get_data(as_text=True)
    assert sorted(report_ids(html)) == sorted([world["ids"]["bank_ip"], world["ids"]["bank2_ip"]])
    who = section(html, "sightings")
    assert "First Bank" in who and "Second Bank" in who


def test_members_never_get_the_who_reported_it_group(app, world):
    html = member(app, world).get("/search", query_string={"q": EVIL_IP}).get_data(as_text=True)
    assert 'id="search-sightings"' not in html and "Second Bank" not in html


@pytest.mark.parametrize("q, message", [("10.0.0.0/8", "too wide"), ("a\x01b", "control characters"),
                                        ("x" * 2049, "at most 2048")])
def test_unsearchable_queries_say_why_with_400(app, world, q, message):
    response = member(app, world).get("/search", query_string={"q": q})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_an_empty_search_shows_the_form(app, world):
    response = member(app, world).get("/search")
    assert response.status_code == 200 and 'id="search-form"' in response.get_data(as_text=True)


def test_search_needs_a_signed_in_person(app, world):
    assert app.test_client().get("/search?q=x").status_code == 302


def lookup(app, token, **params):
    return app.test_client().get("/api/v1/observables", query_string=params, headers=auth(token))


def test_the_api_answers_in_the_documented_groups(app, world):
    body = lookup(app, world["tokens"]["bank"], value="198.51.100.0/24").get_json()
    assert body["query"] == {"text": "198.51.100.0/24", "kind": "cidr", "value": "198.51.100.0/24",
                             "observable_type": "ipv4-addr"}
    assert [r["id"] for r in body["reports"]["items"]] == [world["ids"]["bank_ip"]]
    assert body["reports"]["items"][0]["matched"] == [EVIL_IP]
    assert body["reports"]["items"][0]["organization"] == world["orgs"]["bank"].slug
    assert body["reports"]["more"] is False and body["warnings"] == {"items": [], "more": False}
    assert "sightings" not in body
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    answer = spec["paths"]["/api/v1/observables"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(answer["properties"]) == {"query", "reports", "warnings", "sightings"}
    documented = set(spec["components"]["schemas"]["MatchedReport"]["properties"]) | {"matched"}
    assert set(body["reports"]["items"][0]) == documented
    assert set(body["query"]) == set(spec["components"]["schemas"]["ObservableQuery"]["properties"])


def test_the_api_cidr_parameter_and_staff_sightings(app, world):
    body = lookup(app, world["tokens"]["cert"], cidr="198.51.100.0/25").get_json()
    assert sorted(r["id"] for r in body["reports"]["items"]) == sorted([world["ids"]["bank_ip"],
                                                                        world["ids"]["bank2_ip"]])
    assert {s["organization"]: (s["reports"], s["sightings"]) for s in body["sightings"]["items"]} == {
        world["orgs"]["bank"].slug: (1, 1), world["orgs"]["bank2"].slug: (1, 1)}
    assert lookup(app, world["tokens"]["cert"], cidr="198.51.100.128/25").get_json()["reports"]["items"] == []


@pytest.mark.parametrize("params, field", [({}, "value"), ({"value": "x", "cidr": "192.0.2.0/24"}, "value"),
                                           ({"cidr": "evil.example"}, "cidr"), ({"value": "10.0.0.0/8"}, "value"),
                                           ({"value": " "}, "value")])
def test_the_api_refuses_what_it_cannot_search_naming_the_parameter(app, world, params, field):
    response = lookup(app, world["tokens"]["bank"], **params)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


def test_the_api_needs_a_token(app, world):
    assert app.test_client().get("/api/v1/observables?value=198.51.100.23").status_code == 401


def queue_ids(html: str) -> list[int]:
    table = re.search(r'<table class="data" id="queue">(.*?)</table>', html, re.S)
    return sorted(int(n) for n in re.findall(r'href="/incidents/(\d+)"', table.group(1))) if table else []


def test_the_triage_queue_search_matches_observables_as_well_as_titles(app, world):
    client, ids = staff(app, world), world["ids"]
    for q, expected in [("198.51.100.0/24", [ids["bank_ip"], ids["bank2_ip"]]), ("evil[.]example", [ids["bank_ip"],
                        ids["bank_mail"]]), ("AB" * 32, [ids["bank_mail"]]), ("skimmer", [ids["bank2_ip"]]),
                        ("198.51.100.24", [])]:
        response = client.get("/incidents", query_string={"q": q, "status": "all"})
        assert response.status_code == 200, q
        assert queue_ids(response.get_data(as_text=True)) == sorted(expected), q


def test_the_queue_refuses_a_range_too_wide_to_search(app, world):
    response = staff(app, world).get("/incidents", query_string={"q": "10.0.0.0/8"})
    assert response.status_code == 400 and "too wide" in response.get_data(as_text=True)


def test_every_observable_on_report_case_and_warning_pages_links_to_its_search(app, world):
    from sqlalchemy import select

    from cert_share.early_warning import lifecycle
    from cert_share.extensions import db
    from cert_share.models import EarlyWarning

    ip_link = f'href="/search?q={EVIL_IP}"'
    page = member(app, world).get(f"/incidents/{world['ids']['bank_ip']}").get_data(as_text=True)
    assert ip_link in page and 'href="/search?q=http://login.evil.example/pay"' in page
    client = staff(app, world)
    assert ip_link in client.get(f"/incidents/{world['ids']['bank2_ip']}").get_data(as_text=True)
    with app.app_context():
        lifecycle.publish_warnings(db.session)
        warning_id = db.session.execute(select(EarlyWarning.id).where(
            EarlyWarning.observable_value == EVIL_IP)).scalars().first()
    assert warning_id is not None, "two banks reporting the address raise a warning"
    assert ip_link in client.get(f"/warnings/{warning_id}").get_data(as_text=True)
    assert ip_link in client.get("/warnings").get_data(as_text=True)
    found = client.get("/search", query_string={"q": EVIL_IP}).get_data(as_text=True)
    assert f'href="/warnings/{warning_id}"' in section(found, "warnings")


def test_a_refused_queue_search_comes_back_in_the_form_with_why(app, world):
    response = staff(app, world).get("/incidents", query_string={"q": "::ffff:0:0/96", "status": "all"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="filter-error">[^<]*too wide', html)
    assert 'id="queue-filters"' in html and 'value="::ffff:0:0/96"' in html


def test_every_search_box_takes_as_much_text_as_a_search_does(app, world):
    from cert_share.limits import MAX_SEARCH_TEXT

    box = re.compile(r'<input type="search" id="q" name="q"[^>]*maxlength="(\d+)"')
    for client in (staff(app, world), member(app, world)):  # the queue, the members' list
        html = client.get("/incidents").get_data(as_text=True)
        assert box.search(html).group(1) == str(MAX_SEARCH_TEXT)
    words = "phishing " * 30  # longer than the queue once took
    assert staff(app, world).get("/incidents", query_string={"q": words}).status_code == 200


def test_sightings_count_the_values_a_range_finds_in_each_report(app, world):
    bank = world["orgs"]["bank"]
    report(app, bank, [("ipv4-addr", "198.51.100.40"), ("ipv4-addr", "198.51.100.41")], title="Scanners")
    token = world["tokens"]["cert"]

    def who(**params):
        return {s["organization"]: (s["reports"], s["sightings"]) for s in lookup(app, token, **params).get_json()[
            "sightings"]["items"]}
    assert who(cidr="198.51.100.0/24")[bank.slug] == (2, 3)
    assert who(value=EVIL_IP)[bank.slug] == (1, 1)  # one value: each report holds it once


def test_a_members_search_reads_only_its_organizations_observables(app, world):
    client = member(app, world)
    with sql_statements(app) as seen:
        assert client.get("/search", query_string={"q": "198.51.100.0/24"}).status_code == 200
        assert client.get("/incidents", query_string={"q": "evil.example"}).status_code == 200
    # (What matched in the reports found is looked up by their ids, which are the member's.)
    searches = [s for s in seen if ("observables.host_rev" in s or "observables.ip_hex" in s)
                and "observables.incident_id IN" not in s]
    assert len(searches) >= 2
    # Bounded by the member's organization where the index is walked, not only after the join.
    assert all("observables.org_id" in s for s in searches), searches
    # Its warning candidates: only those stored in a collection it may read.
    warnings = [s for s in seen if "FROM warnings" in s and "warnings.ip_hex" in s]
    assert warnings and all("stix_objects.collection_id IN" in s for s in warnings), warnings
