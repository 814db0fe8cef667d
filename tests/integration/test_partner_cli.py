"""`cert-share partner set|list` as an operator scripts it: the partner CERT directory."""
from __future__ import annotations

import pytest

from cert_share.extensions import db
from cert_share.models import AuditEntry, Organization


@pytest.fixture
def partner(factory):
    return factory.org("CERT-FR", sector="government-national", kind="partner")


def _row(app, slug):
    with app.app_context():
        org = db.session.query(Organization).filter_by(slug=slug).one()
        return {"country": org.country, "duty_email": org.duty_email, "contact_email": org.contact_email,
                "taxii_url": org.taxii_url, "username_env": org.taxii_username_env,
                "password_env": org.taxii_password_env, "languages": list(org.languages or [])}


def test_partner_set_stores_what_is_given_and_only_that(runner, app, partner):
    result = runner.invoke(args=["partner", "set", partner.slug, "--country", "fr", "--contact", "Duty@CERT.fr",
                                 "--taxii-url", "https://taxii.cert.fr/api1/collections/intake/",
                                 "--username-env", "CERT_FR_USER", "--password-env", "CERT_FR_PASSWORD",
                                 "--language", "FR", "--language", "en"])
    assert result.exit_code == 0, result.output
    assert _row(app, partner.slug) == {
        "country": "FR", "duty_email": "duty@cert.fr", "contact_email": "duty@cert.fr",
        "taxii_url": "https://taxii.cert.fr/api1/collections/intake/", "username_env": "CERT_FR_USER",
        "password_env": "CERT_FR_PASSWORD", "languages": ["fr", "en"]}
    # Only the country changes; the rest stays as it was.
    again = runner.invoke(args=["partner", "set", partner.slug, "--country", "BE"])
    assert again.exit_code == 0, again.output
    row = _row(app, partner.slug)
    assert row["country"] == "BE" and row["taxii_url"].startswith("https://taxii.cert.fr") and row["languages"] == [
        "fr", "en"]


def test_an_empty_value_clears_a_field(runner, app, partner):
    runner.invoke(args=["partner", "set", partner.slug, "--contact", "duty@cert.fr", "--taxii-url",
                        "https://taxii.cert.fr/c/", "--language", "fr"])
    result = runner.invoke(args=["partner", "set", partner.slug, "--contact", "", "--taxii-url", "",
                                 "--language", ""])
    assert result.exit_code == 0, result.output
    row = _row(app, partner.slug)
    assert (row["duty_email"], row["contact_email"], row["taxii_url"], row["languages"]) == (None, None, None, [])


@pytest.mark.parametrize("args, named", [
    (["--country", "XX"], "ISO 3166-1"),
    (["--contact", "not-an-address"], "contact"),
    (["--taxii-url", "ftp://taxii.cert.fr/c/"], "http"),
    (["--taxii-url", "/collections/intake/"], "absolute"),
    (["--taxii-url", "https://user:pw@taxii.cert.fr/c/"], "credentials"),
    (["--taxii-url", "http://taxii.cert.fr/api1/collections/intake/"], "must be https://"),
    (["--taxii-url", "http://10.0.0.7/api1/collections/intake/"], "loopback host, 127.0.0.1, ::1 or localhost"),
    (["--taxii-url", "http://127.0.0.1.evil.example/collections/intake/"], "must be https://"),
    (["--taxii-url", "https://taxii.cert.fr/collections/intake/?page=2"], "must not have a query"),
    (["--taxii-url", "https://taxii.cert.fr/collections/intake/#top"], "or a fragment"),
    (["--taxii-url", "https://taxii.cert.fr/" + "a" * 2100], "longer than 2048"),
    (["--username-env", "1USER"], "username_env"),
    (["--password-env", "pass-word=hunter2"], "password_env"),
    (["--password-env", "Xk9fQ2mZpL7wRt4v"], "looks like a secret"),
    (["--password-env", "QWHZKXPLMRVBNTYC"], "looks like a secret"),  # upper case, no digit: still no word
    (["--password-env", "CERT_FR_TAXIIPASSWORDQWERTYUIOP"], "looks like a secret"),
    (["--username-env", "CERT_FR_" + "USER_" * 12], "at most 64"),
    (["--language", "french"], "ISO 639-1"),
    (["--language", "qq"], "ISO 639-1"),
])
def test_bad_values_exit_2_naming_the_problem_and_change_nothing(runner, app, partner, args, named):
    before = _row(app, partner.slug)
    result = runner.invoke(args=["partner", "set", partner.slug, "--country", "FR", *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and named in result.output and "Traceback" not in result.output
    assert _row(app, partner.slug) == before


def test_a_secret_given_as_a_variable_name_is_never_repeated_or_stored(runner, app, partner):
    secret = "s3cr3t-P@ssw0rd!"
    result = runner.invoke(args=["partner", "set", partner.slug, "--password-env", secret])
    assert result.exit_code == 2 and secret not in result.output
    with app.app_context():
        assert all(secret not in str(e.details) for e in db.session.query(AuditEntry))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8443/taxii2/api/collections/intake/",
                                 "http://localhost:5000/taxii2/api/collections/intake/",
                                 "http://[::1]:5000/taxii2/api/collections/intake/"])
def test_plain_http_is_accepted_only_for_a_loopback_peer(runner, app, partner, url):
    result = runner.invoke(args=["partner", "set", partner.slug, "--taxii-url", url])
    assert result.exit_code == 0, result.output
    assert _row(app, partner.slug)["taxii_url"] == url


@pytest.mark.parametrize("name", ["CERT_B_TAXII_PASSWORD", "CERT_B_TAXII_USERNAME", "NCSC_FI_TAXII_PASSWORD",
                                  "HTTPS_USER", "PASSWORD", "taxii_user", "CERT_FR_AUTHENTICATION_TOKEN"])
def test_names_an_operator_would_choose_are_accepted(runner, app, partner, name):
    result = runner.invoke(args=["partner", "set", partner.slug, "--password-env", name])
    assert result.exit_code == 0, result.output
    assert _row(app, partner.slug)["password_env"] == name


def test_a_token_in_the_urls_query_is_never_repeated_or_stored(runner, app, partner):
    token = "tok3n-9f8e7d6c5b4a"
    result = runner.invoke(args=["partner", "set", partner.slug, "--taxii-url",
                                 f"https://taxii.cert.fr/collections/intake/?api_key={token}"])
    assert result.exit_code == 2 and token not in result.output
    with app.app_context():
        assert all(token not in str(e.details) for e in db.session.query(AuditEntry))
    assert _row(app, partner.slug)["taxii_url"] is None


def test_set_refuses_an_unknown_slug_and_an_organization_that_is_not_a_partner(runner, orgs):
    unknown = runner.invoke(args=["partner", "set", "nobody", "--country", "FR"])
    assert unknown.exit_code == 2 and "no organization with slug 'nobody'" in unknown.output
    member = runner.invoke(args=["partner", "set", orgs["bank"].slug, "--country", "FR"])
    assert member.exit_code == 2 and "is not a partner CERT" in member.output


def test_changes_are_audited_without_any_secret(runner, app, partner, monkeypatch):
    monkeypatch.setenv("CERT_FR_PASSWORD", "the-real-secret")
    result = runner.invoke(args=["partner", "set", partner.slug, "--password-env", "CERT_FR_PASSWORD",
                                 "--language", "fr"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        events = db.session.query(AuditEntry).filter_by(action="partner.update").all()
        assert len(events) == 1 and events[0].target_id == partner.slug
        assert events[0].details["taxii_password_env"] == {"from": None, "to": "CERT_FR_PASSWORD"}
        assert events[0].details["languages"] == {"from": [], "to": ["fr"]}
        assert "the-real-secret" not in str(events[0].details)
    # Setting the same values again changes and audits nothing.
    runner.invoke(args=["partner", "set", partner.slug, "--password-env", "CERT_FR_PASSWORD"])
    with app.app_context():
        assert db.session.query(AuditEntry).filter_by(action="partner.update").count() == 1


def test_list_says_whether_credentials_are_set_here_never_their_values(runner, factory, partner, monkeypatch):
    factory.org("CERT-BE", sector="government-national", kind="partner")
    runner.invoke(args=["partner", "set", partner.slug, "--country", "FR", "--contact", "duty@cert.fr",
                        "--taxii-url", "https://taxii.cert.fr/c/", "--username-env", "CERT_FR_USER",
                        "--password-env", "CERT_FR_PASSWORD", "--language", "fr"])
    monkeypatch.setenv("CERT_FR_USER", "cert-share-user")
    monkeypatch.delenv("CERT_FR_PASSWORD", raising=False)
    result = runner.invoke(args=["partner", "list"])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.strip().splitlines()]
    assert lines[0] == ["slug", "country", "contact", "taxii_url", "username_set", "password_set", "languages",
                        "active", "key_fingerprint", "key_expires"]
    rows = {line[0]: line for line in lines[1:]}
    assert set(rows) == {"cert-fr", "cert-be"}  # members and the CERT are not partners
    assert rows["cert-fr"] == ["cert-fr", "FR", "duty@cert.fr", "https://taxii.cert.fr/c/", "yes", "no", "fr",
                               "yes", "-", "-"]
    assert rows["cert-be"] == ["cert-be", "-", "-", "-", "no", "no", "-", "yes", "-", "-"]
    assert "cert-share-user" not in result.output
