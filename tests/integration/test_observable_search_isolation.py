"""Search as an attacker uses it: can a member learn that a value appears in another member's
report, or in a warning it may not read? Can CERT staff learn what a TLP:RED report they are not
named on holds? Every route that searches is asked the same question before and after the
secret report (and the warnings it raises) exists — the search page, the API's value and cidr
lookups, the reports list and the triage queue — and must answer byte for byte the same, apart
from the request's own CSRF token. Positive controls show each secret is findable by those who
may read it, so an identical answer means hidden, not broken.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.early_warning import lifecycle
from cert_share.extensions import db
from cert_share.models import Incident
from cert_share.services import case_access
from tests.conftest import auth
from tests.fuzz.profiles import examples, seeded
from tests.integration.staff_login import enrol, sign_in
from tests.integration.warning_world import report
from tests.integration.web_login import login, without_csrf


@pytest.fixture
def world(app, factory, orgs):
    people = {
        "attacker": factory.user(orgs["telco"], email="soc@telco.example"),
        "victim": factory.user(orgs["bank"], email="soc@bank.example"),
        "sector-peer": factory.user(orgs["bank2"], email="soc@bank2.example"),
        "named": factory.user(orgs["cert"], "cert-analyst", email="named@cert.example"),
        "other": factory.user(orgs["cert"], "cert-analyst", email="other@cert.example"),
    }
    secrets = {who: enrol(app, people[who]) for who in ("named", "other")}
    clients = {}
    for who, user in people.items():
        client = app.test_client()
        if who in secrets:
            assert sign_in(client, user.email, secrets[who]).status_code == 302
        else:
            assert login(client, user.email).status_code == 302
        clients[who] = client
    tokens = {"attacker": factory.token(orgs["telco"]), "victim": factory.token(orgs["bank"]),
              "cert": factory.token(orgs["cert"])}
    # Something of the attacker's own in every answer, so answers are not trivially empty.
    report(app, orgs["telco"], [("ipv4-addr", "198.51.100.200"), ("domain-name", "www.shared.example")],
           title="Telco's own sighting")
    return {"orgs": orgs, "people": people, "clients": clients, "tokens": tokens}


def _normalized(response) -> tuple[int, bytes]:
    body = response.get_data()
    if response.mimetype == "text/html":
        body = without_csrf(body.decode()).encode()
    return response.status_code, body


def member_answers(app, world, who: str, q: str) -> dict:
    """Every answer a member's person and token get for ``q``."""
    client, token = world["clients"][who], world["tokens"].get(who)
    api = app.test_client()
    out = {"page": _normalized(client.get("/search", query_string={"q": q})),
           "reports list": _normalized(client.get("/incidents", query_string={"q": q}))}
    if token:
        out["api value"] = _normalized(api.get("/api/v1/observables", query_string={"value": q}, headers=auth(token)))
        out["api cidr"] = _normalized(api.get("/api/v1/observables", query_string={"cidr": q}, headers=auth(token)))
    return out


def staff_answers(app, world, who: str, q: str) -> dict:
    """Every answer a member of CERT staff (and the CERT's API token) gets for ``q``."""
    client, api = world["clients"][who], app.test_client()
    return {"page": _normalized(client.get("/search", query_string={"q": q})),
            "queue": _normalized(client.get("/incidents", query_string={"q": q, "status": "all"})),
            "api value": _normalized(api.get("/api/v1/observables", query_string={"value": q},
                                             headers=auth(world["tokens"]["cert"]))),
            "api cidr": _normalized(api.get("/api/v1/observables", query_string={"cidr": q},
                                            headers=auth(world["tokens"]["cert"])))}


def assert_same(before: dict, after: dict, what: str) -> None:
    for route in before:
        assert before[route] == after[route], f"{what}: {route} answers differently once the secret exists"


def finds(app, world, who: str, q: str, title: str) -> bool:
    client = world["clients"][who]
    return title in client.get("/search", query_string={"q": q}).get_data(as_text=True)


SECRETS = {
    # what the victim reports, and the queries that would find it
    "ip": (("ipv4-addr", "203.0.113.66"), ["203.0.113.66", "203[.]0[.]113[.]66", "203.0.113.0/24",
                                           "203.0.113.64/30", "::ffff:203.0.113.66"]),
    "ipv6": (("ipv6-addr", "2001:db8:77::5"), ["2001:db8:77::5", "2001:db8:77::/48"]),
    "domain": (("domain-name", "c2.secret-victim.example"), ["c2.secret-victim.example", "secret-victim.example",
                                                             "secret-victim[.]example"]),
    "url": (("url", "https://pay.secret-victim.example/login?id=7"),
            ["https://pay.secret-victim.example/login?id=7", "hxxps://pay[.]secret-victim[.]example/login?id=7",
             "secret-victim.example", "pay.secret-victim.example"]),
    "email": (("email-addr", "ceo@mail.secret-victim.example"), ["ceo@mail.secret-victim.example",
                                                                 "secret-victim.example"]),
    "hash": (("file:sha256", "5e" * 32), ["5E" * 32]),
    "asn": (("autonomous-system", "AS64511"), ["AS64511"]),
}
TITLE = "Confidential intrusion at the bank"


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_a_member_cannot_tell_whether_another_member_reported_a_value(app, world, kind):
    observable, queries = SECRETS[kind]
    before = {q: member_answers(app, world, "attacker", q) for q in queries}
    report(app, world["orgs"]["bank"], [observable], tlp="amber", title=TITLE)
    for q in queries:
        assert_same(before[q], member_answers(app, world, "attacker", q), f"{kind} {q!r}")
        assert finds(app, world, "victim", q, TITLE), f"the reporter does not find its own report by {q!r}"


def test_a_warning_the_member_may_not_read_changes_nothing_and_one_it_may_read_is_found(app, world):
    value, queries = "203.0.113.99", ["203.0.113.99", "203.0.113.0/24"]
    before = {q: member_answers(app, world, "attacker", q) for q in queries}
    # Two banks report it at AMBER: a community warning goes to the financial sector's collection.
    report(app, world["orgs"]["bank"], [("ipv4-addr", value)], tlp="amber", title=TITLE)
    report(app, world["orgs"]["bank2"], [("ipv4-addr", value)], tlp="amber", title="Second bank sees it too")
    with app.app_context():
        lifecycle.publish_warnings(db.session, utcnow() + timedelta(minutes=1))
    for q in queries:
        assert_same(before[q], member_answers(app, world, "attacker", q), q)
    page = world["clients"]["sector-peer"].get("/search", query_string={"q": value}).get_data(as_text=True)
    warnings = re.search(r'id="search-warnings">(.*?)</section>', page, re.S).group(1)
    assert value in warnings, "the financial sector's member does not find the warning published to it"
    assert TITLE not in page, "the peer sees the other bank's report"


def test_staff_cannot_tell_what_a_red_report_they_are_not_named_on_holds(app, world):
    value, queries = "203.0.113.150", ["203.0.113.150", "203.0.113.128/25", "Ransom note on the SCADA host"]
    before = {q: staff_answers(app, world, "other", q) for q in queries}
    member_before = {q: member_answers(app, world, "attacker", q) for q in queries}
    red = report(app, world["orgs"]["bank"], [("ipv4-addr", value)], tlp="red", title="Ransom note on the SCADA host")
    with app.app_context():
        case_access.name_staff(db.session, db.session.get(Incident, red), world["people"]["named"].id, actor=CLI)
    for q in queries:
        assert_same(before[q], staff_answers(app, world, "other", q), f"staff, {q!r}")
        assert_same(member_before[q], member_answers(app, world, "attacker", q), f"member, {q!r}")
        assert finds(app, world, "named", q, "Ransom note"), f"the named analyst does not find it by {q!r}"


def test_isolation_holds_for_any_value_and_any_way_of_asking(app, world):
    """Property: for a random value the victim reports (at any TLP) and a random query that would
    find it, the attacker's answers on every route are the same before and after."""
    counter = iter(range(1, 10_000))

    @st.composite
    def secret_and_query(draw):
        n = next(counter)
        kind = draw(st.sampled_from(["ip", "domain", "url", "email", "hash"]))
        if kind == "ip":
            host = draw(st.integers(1, 254))
            value = f"192.0.{n % 250}.{host}"
            prefix = draw(st.integers(16, 32))
            query = draw(st.sampled_from([value, value.replace(".", "[.]"), f"192.0.{n % 250}.0/24",
                                          f"{value}/{prefix}"]))
            return ("ipv4-addr", value), query
        label = draw(st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True))
        domain = f"{label}.v{n}.example"
        parent = draw(st.sampled_from([domain, f"v{n}.example", domain.replace(".", "[.]")]))
        if kind == "domain":
            return ("domain-name", f"sub.{domain}"), parent
        if kind == "url":
            return ("url", f"http://{domain}/{label}"), draw(st.sampled_from([parent, f"hxxp://{domain}/{label}"]))
        if kind == "email":
            return ("email-addr", f"{label}@{domain}"), draw(st.sampled_from([parent, f"{label}@{domain}"]))
        digest = draw(st.from_regex(r"[0-9a-f]{40}", fullmatch=True))
        return ("file:sha1", digest), draw(st.sampled_from([digest, digest.upper()]))

    @seeded
    @settings(max_examples=examples(25))
    @given(case=secret_and_query(), tlp=st.sampled_from(["clear", "green", "amber", "amber+strict", "red"]),
           victim=st.sampled_from(["bank", "bank2"]))
    def same_answers(case, tlp, victim):
        observable, query = case
        before = member_answers(app, world, "attacker", query)
        staff_before = staff_answers(app, world, "other", query) if tlp == "red" else None
        report(app, world["orgs"][victim], [observable], tlp=tlp, title=f"Secret {observable[1]}")
        assert_same(before, member_answers(app, world, "attacker", query), f"{observable} {query!r} {tlp}")
        if staff_before is not None:
            assert_same(staff_before, staff_answers(app, world, "other", query), f"staff {observable} {query!r}")

    same_answers()
