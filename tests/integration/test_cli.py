"""The `cert-share` command line as an operator scripts it: names, options and output are a contract.

(`cert-share db upgrade` runs for every test: the fixtures migrate each database with it.)
"""
from __future__ import annotations

from argon2 import PasswordHasher

from cert_share.extensions import db
from cert_share.models import Asset, CooperationRequest, Exercise, Incident, Organization, User
from tests.conftest import PASSWORD, auth
from tests.misp_samples import DATA


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_db_upgrade_on_a_migrated_database_is_a_no_op(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_org_add_prints_the_slug_last_and_parses_assets(runner, app):
    result = runner.invoke(args=["org", "add", "--name", "Första Bank AB", "--sector", "financial-services",
                                 "--country", "se", "--asset", "198.51.100.77/24", "--asset", "2001:DB8::/32",
                                 "--asset", "AS64500", "--asset", "Forsta-Bank.Example"])
    assert result.exit_code == 0, result.output
    slug = last_line(result.output)
    assert slug == "forsta-bank-ab"
    with app.app_context():
        org = db.session.query(Organization).filter_by(slug=slug).one()
        assert (org.kind, org.sector, org.country) == ("member", "financial-services", "SE")
        assets = {(a.kind, a.value) for a in db.session.query(Asset).filter_by(org_id=org.id)}
    assert assets == {("cidr", "198.51.100.0/24"), ("cidr", "2001:db8::/32"), ("asn", "AS64500"),
                      ("domain", "forsta-bank.example")}


def test_org_asset_registers_all_the_values_or_none_when_one_is_not_an_asset(runner, app):
    slug = last_line(runner.invoke(args=["org", "add", "--name", "Bank", "--sector", "financial-services"]).output)
    bad = runner.invoke(args=["org", "asset", "--org", slug, "198.51.100.0/24", "999.1.1.0/24"])
    assert bad.exit_code == 2 and "999.1.1.0/24" in bad.output and "Traceback" not in bad.output
    with app.app_context():
        assert db.session.query(Asset).count() == 0
    good = runner.invoke(args=["org", "asset", "--org", slug, "198.51.100.0/24", "AS64500", "198.51.100.0/24"])
    assert good.exit_code == 0, good.output
    assert good.output.splitlines() == ["cidr\t198.51.100.0/24", "asn\tAS64500", "cidr\t198.51.100.0/24"]
    with app.app_context():
        assert {(a.kind, a.value) for a in db.session.query(Asset)} == {("cidr", "198.51.100.0/24"),
                                                                       ("asn", "AS64500")}


def test_org_add_with_a_bad_sector_or_asset_exits_cleanly_and_creates_nothing(runner, app):
    bad_sector = runner.invoke(args=["org", "add", "--name", "Bank", "--sector", "banking"])
    assert bad_sector.exit_code == 2
    assert "unknown sector 'banking'" in bad_sector.output and "Traceback" not in bad_sector.output
    bad_asset = runner.invoke(args=["org", "add", "--name", "Bank", "--sector", "financial-services",
                                    "--asset", "999.1.1.0/24"])
    assert bad_asset.exit_code == 2 and "999.1.1.0/24" in bad_asset.output
    bad_kind = runner.invoke(args=["org", "add", "--name", "Bank", "--sector", "financial-services",
                                   "--kind", "vendor"])
    assert bad_kind.exit_code != 0
    with app.app_context():
        assert db.session.query(Organization).count() == 0


def test_user_add_takes_the_password_from_the_environment(runner, app, factory):
    bank = factory.org("First Bank")
    result = runner.invoke(args=["user", "add", "--email", "soc@firstbank.example", "--org", bank.slug,
                                 "--role", "analyst"], env={"CERT_SHARE_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.query(User).filter_by(email="soc@firstbank.example").one()
        assert user.role == "analyst" and user.org_id == bank.id
        assert PasswordHasher().verify(user.password_hash, PASSWORD)


def test_user_add_prompts_without_the_environment_variable(runner, app, factory):
    bank = factory.org("First Bank")
    result = runner.invoke(args=["user", "add", "--email", "admin@firstbank.example", "--org", bank.slug,
                                 "--role", "member-admin"], input=f"{PASSWORD}\n{PASSWORD}\n",
                           env={"CERT_SHARE_PASSWORD": ""})
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.query(User).filter_by(email="admin@firstbank.example").one()
        assert PasswordHasher().verify(user.password_hash, PASSWORD)


def test_user_add_refuses_a_cert_role_in_a_member_and_an_unknown_org(runner, app, factory):
    bank = factory.org("First Bank")
    env = {"CERT_SHARE_PASSWORD": PASSWORD}
    wrong_role = runner.invoke(args=["user", "add", "--email", "x@bank.example", "--org", bank.slug,
                                     "--role", "cert-admin"], env=env)
    assert wrong_role.exit_code == 2 and "member-admin" in wrong_role.output
    no_org = runner.invoke(args=["user", "add", "--email", "x@bank.example", "--org", "nobody",
                                 "--role", "analyst"], env=env)
    assert no_org.exit_code == 2 and "nobody" in no_org.output
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_token_add_prints_a_token_that_works_on_the_api(runner, client, factory):
    bank = factory.org("First Bank")
    result = runner.invoke(args=["token", "add", "--org", bank.slug, "--name", "soar"])
    assert result.exit_code == 0, result.output
    token = last_line(result.output)
    response = client.get("/api/v1/incidents", headers=auth(token))
    assert response.status_code == 200 and response.json["incidents"] == []
    assert client.get("/api/v1/incidents", headers=auth(token + "x")).status_code == 401
    listing = runner.invoke(args=["token", "list", "--org", bank.slug])
    assert "soar" in listing.output and token not in listing.output


def test_demo_prints_the_logins_and_can_run_twice(runner, app):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "soc@firstbank.example" in first.output and "admin@cert.example" in first.output
    assert "phantich@secondbank.example" in first.output and "(reads Tiếng Việt)" in first.output
    with app.app_context():
        before = (db.session.query(Organization).count(), db.session.query(User).count(),
                  db.session.query(Incident).count())
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and second.output == first.output
    with app.app_context():
        after = (db.session.query(Organization).count(), db.session.query(User).count(),
                 db.session.query(Incident).count())
    assert after == before and before[2] > 0
    with app.app_context():  # the demo's Vietnamese reader chose it on the account page
        assert db.session.query(User).filter_by(email="phantich@secondbank.example").one().locale == "vi"
    with app.app_context():  # the partner abroad is reachable, and one request is already asked of it
        [request] = db.session.query(CooperationRequest).all()
        assert (request.partner.slug, request.state, request.tlp) == ("cert-abroad", "queued", "green")
        assert request.partner.duty_email == "duty@cert-abroad.example"
    # A drill under way: the two injects already due go out with the next run, tomorrow's stays back.
    jobs = runner.invoke(args=["jobs", "run", "run-exercises"])
    assert jobs.exit_code == 0, jobs.output
    with app.app_context():
        [exercise] = db.session.query(Exercise).all()
        assert {p.organization.slug for p in exercise.participants} == {"first-bank", "telconet", "grid-energy"}
        assert [inject.sent_at is not None for inject in exercise.injects] == [True, True, False]


def test_import_loads_a_misp_event_for_the_organization(runner, app, factory):
    bank = factory.org("First Bank")
    result = runner.invoke(args=["import", str(DATA / "gaming_supply_chain.misp_event.json"), "--org", bank.slug])
    assert result.exit_code == 0, result.output
    assert "18 observable(s)" in result.output
    with app.app_context():
        assert db.session.query(Incident).filter_by(org_id=bank.id, source="import").count() == 1
    missing = runner.invoke(args=["import", "/nonexistent.json", "--org", bank.slug])
    assert missing.exit_code != 0 and "does not exist" in missing.output
