"""Organizations, assets, users and the audit trail, through the services."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cert_share.errors import Conflict, InputError, NotFound
from cert_share.extensions import db
from cert_share.models import Asset, AuditEntry, Collection, Organization
from cert_share.services import organizations, users


def test_new_member_gets_its_own_and_its_sector_collection(ctx):
    org = organizations.create_organization(db.session, name="Första Banken AB", sector="financial-services",
                                            country="se")
    assert org.slug == "forsta-banken-ab" and org.country == "SE"
    aliases = {c.alias for c in db.session.query(Collection)}
    assert {"all-members", "intake", "org-forsta-banken-ab", "sector-financial-services"} <= aliases
    assert org.stix_id.startswith("identity--")
    assert org.regime == "dora"


def test_slugs_are_unique(ctx):
    a = organizations.create_organization(db.session, name="Acme", sector="energy")
    b = organizations.create_organization(db.session, name="ACME", sector="energy")
    assert a.slug == "acme" and b.slug == "acme-2"


def test_only_one_operating_cert(ctx):
    organizations.create_organization(db.session, name="CERT", sector="government-national", kind="cert")
    with pytest.raises(Conflict):
        organizations.create_organization(db.session, name="Other CERT", sector="government-national", kind="cert")


@pytest.mark.parametrize("value,kind,stored", [
    ("198.51.100.0/24", "cidr", "198.51.100.0/24"),
    ("198.51.100.7/24", "cidr", "198.51.100.0/24"),
    ("2001:db8::/32", "cidr", "2001:db8::/32"),
    ("192.0.2.1", "cidr", "192.0.2.1/32"),
    ("AS64500", "asn", "AS64500"),
    ("as64501", "asn", "AS64501"),
    ("Bank.Example", "domain", "bank.example"),
    ("bücher.example", "domain", "xn--bcher-kva.example"),
])
def test_assets_are_recognised(ctx, value, kind, stored):
    org = organizations.create_organization(db.session, name="Bank", sector="financial-services", assets=[value])
    asset = db.session.query(Asset).filter_by(org_id=org.id).one()
    assert (asset.kind, asset.value) == (kind, stored)


def test_ipv4_range_bounds_are_comparable_hex(ctx):
    org = organizations.create_organization(db.session, name="Bank", sector="financial-services",
                                            assets=["10.1.0.0/16"])
    asset = db.session.query(Asset).filter_by(org_id=org.id).one()
    assert asset.range_start < asset.range_end and len(asset.range_start) == 32


@pytest.mark.parametrize("bad", ["999.1.1.0/24", "AS99999999999", "not a domain", "", "10.0.0.0/99"])
def test_bad_assets_are_refused_and_nothing_is_stored(ctx, bad):
    with pytest.raises(InputError):
        organizations.create_organization(db.session, name="Bank", sector="financial-services", assets=[bad])
    db.session.rollback()
    assert db.session.query(Organization).count() == 0


@pytest.mark.parametrize("field,kwargs", [
    ("sector", {"sector": "banking"}),
    ("country", {"country": "XX"}),
    ("kind", {"kind": "vendor"}),
    ("name", {"name": "  "}),
])
def test_bad_organization_fields_name_the_field(ctx, field, kwargs):
    args = {"name": "Bank", "sector": "financial-services", **kwargs}
    with pytest.raises(InputError) as err:
        organizations.create_organization(db.session, **args)
    assert field in err.value.errors


def test_roles_must_match_the_side(ctx):
    cert = organizations.create_organization(db.session, name="CERT", sector="government-national", kind="cert")
    bank = organizations.create_organization(db.session, name="Bank", sector="financial-services")
    with pytest.raises(InputError):
        users.create_user(db.session, email="a@bank.example", org=bank, role="cert-admin", password="x" * 12)
    with pytest.raises(InputError):
        users.create_user(db.session, email="b@cert.example", org=cert, role="analyst", password="x" * 12)
    with pytest.raises(InputError):
        users.create_user(db.session, email="c@bank.example", org=bank, role="analyst", password="short")


def test_passwords_are_stored_as_argon2(ctx):
    bank = organizations.create_organization(db.session, name="Bank", sector="financial-services")
    user = users.create_user(db.session, email="A@Bank.Example", org=bank, role="analyst", password="x" * 12)
    assert user.email == "a@bank.example"
    assert user.password_hash.startswith("$argon2id$")


def test_repeated_failures_slow_that_address_not_the_account(app, ctx):
    from datetime import timedelta

    from cert_share.services import signin
    from cert_share.services.signin_throttle import Throttling

    throttling = Throttling(max_failures=5, backoff_max=timedelta(minutes=15))
    bank = organizations.create_organization(db.session, name="Bank", sector="financial-services")
    users.create_user(db.session, email="a@bank.example", org=bank, role="analyst", password="right-password")
    for _ in range(5):
        result = signin.begin_sign_in(db.session, "a@bank.example", "wrong", throttling=throttling,
                                      remote_addr="192.0.2.1")
        assert result.user is None and not result.throttled
    assert signin.begin_sign_in(db.session, "a@bank.example", "right-password", throttling=throttling,
                                remote_addr="192.0.2.1").throttled
    assert signin.begin_sign_in(db.session, "a@bank.example", "right-password", throttling=throttling,
                                remote_addr="198.51.100.7").ok
    assert db.session.query(AuditEntry).filter_by(action="user.login_failed").count() == 5


def test_audit_log_refuses_updates_and_deletes(ctx):
    organizations.create_organization(db.session, name="Bank", sector="financial-services")
    assert db.session.query(AuditEntry).count() == 1
    for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError):
            db.session.execute(text(statement))
            db.session.flush()
        db.session.rollback()
    assert db.session.query(AuditEntry).one().action == "organization.create"


@pytest.mark.parametrize("bad", ["a\x00@bank.example", "a@bank\x07.example", "no-at-sign", ""])
def test_user_email_with_control_characters_is_refused(ctx, bad):
    bank = organizations.create_organization(db.session, name="Bank", sector="financial-services")
    with pytest.raises(InputError) as err:
        users.create_user(db.session, email=bad, org=bank, role="analyst", password="x" * 12)
    assert "email" in err.value.errors


def test_a_slug_no_organization_can_have_is_not_found_on_every_database(app):
    # A NUL reaches PostgreSQL as an error, not as "no such row": it must never get that far.
    for slug in ("bank\x00", "Bank Of Examples", "", "x" * 65):
        with pytest.raises(NotFound):
            organizations.get_by_slug(db.session, slug)
