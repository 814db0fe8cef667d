"""Who may do what, as cert_share.policy decides it (no database, no HTTP)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from cert_share import policy
from cert_share.actor import CLI, SYSTEM, Actor
from cert_share.errors import PermissionDenied
from cert_share.models import User

CERT_ORG = SimpleNamespace(id=9, kind="cert")
BANK_ORG = SimpleNamespace(id=1, kind="member")

DUTY_OFFICER = Actor(label="user:admin@cert.example", org=CERT_ORG, role="cert-admin")
ANALYST = Actor(label="user:duty@cert.example", org=CERT_ORG, role="cert-analyst")
CERT_TOKEN = Actor(label="token:cert/ops", org=CERT_ORG, role="cert-admin")
BANK_ADMIN = Actor(label="user:admin@bank.example", org=BANK_ORG, role="member-admin")
BANK_ANALYST = Actor(label="user:soc@bank.example", org=BANK_ORG, role="analyst")


@pytest.mark.parametrize("actor, staff", [
    (DUTY_OFFICER, True), (ANALYST, True), (CERT_TOKEN, True), (CLI, True), (SYSTEM, True),
    (BANK_ADMIN, False), (BANK_ANALYST, False),
])
def test_who_counts_as_cert_staff(actor, staff):
    assert policy.is_cert_staff(actor) is staff


def test_a_member_meets_the_staff_only_refusal_it_is_given():
    policy.require_cert_staff(ANALYST)
    with pytest.raises(PermissionDenied, match="triage is for CERT staff only"):
        policy.require_cert_staff(BANK_ADMIN, "triage is for CERT staff only")


@pytest.mark.parametrize("actor, admin", [
    (DUTY_OFFICER, True), (CERT_TOKEN, True), (CLI, True), (ANALYST, False), (BANK_ADMIN, False),
])
def test_who_administers_the_cert(actor, admin):
    assert policy.is_cert_admin(actor) is admin


@pytest.mark.parametrize("actor, manages", [
    (DUTY_OFFICER, True), (BANK_ADMIN, True), (ANALYST, False), (BANK_ANALYST, False),
])
def test_who_manages_api_tokens(actor, manages):
    assert policy.can_manage_tokens(actor) is manages


@pytest.mark.parametrize("level, review", [
    ("clear", False), ("green", False), ("amber", False), ("amber+strict", True), ("red", True),
])
def test_warnings_from_strict_sources_wait_for_review(level, review):
    assert policy.needs_review(level) is review


@pytest.mark.parametrize("role, staff, admin", [
    ("cert-admin", True, True), ("cert-analyst", True, False), ("member-admin", False, False),
    ("analyst", False, False),
])
def test_which_accounts_are_cert_staff_and_administrators(role, staff, admin):
    user = User(role=role)
    assert policy.is_cert_staff_account(user) is staff
    assert policy.is_cert_admin_account(user) is admin


TELCO_ORG = SimpleNamespace(id=2, kind="member")
_PEOPLE = {
    "cert admin": Actor(label="user:admin@cert.example", org=CERT_ORG, role="cert-admin",
                        user=SimpleNamespace(id=1)),
    "cert analyst": Actor(label="user:duty@cert.example", org=CERT_ORG, role="cert-analyst",
                          user=SimpleNamespace(id=2)),
    "bank admin": Actor(label="user:admin@bank.example", org=BANK_ORG, role="member-admin",
                        user=SimpleNamespace(id=3)),
    "bank analyst": Actor(label="user:soc@bank.example", org=BANK_ORG, role="analyst", user=SimpleNamespace(id=4)),
    "bank token": Actor(label="token:bank/ops", org=BANK_ORG, role="member-admin"),
    "cert token": CERT_TOKEN,
    "cli": CLI,
}


@pytest.mark.parametrize("who, bank_account, telco_account, cert_account", [
    ("cert admin", True, True, True),
    ("cli", True, True, True),
    ("bank admin", True, False, False),  # their own organization's accounts, and no other's
    ("cert analyst", False, False, False),
    ("bank analyst", False, False, False),
    ("bank token", False, False, False),  # no token creates, disables or resets accounts
    ("cert token", False, False, False),
])
def test_who_manages_which_accounts(who, bank_account, telco_account, cert_account):
    actor = _PEOPLE[who]
    accounts = {org.id: User(role="analyst", org_id=org.id) for org in (BANK_ORG, TELCO_ORG, CERT_ORG)}
    assert policy.can_manage_user(actor, accounts[BANK_ORG.id]) is bank_account
    assert policy.can_manage_user(actor, accounts[TELCO_ORG.id]) is telco_account
    assert policy.can_manage_user(actor, accounts[CERT_ORG.id]) is cert_account
    assert policy.can_manage_org(actor, TELCO_ORG.id) is telco_account


@pytest.mark.parametrize("who, own, other", [
    ("cert admin", True, True), ("cert token", True, True), ("bank admin", True, False),
    ("bank token", True, False), ("bank analyst", False, False), ("cert analyst", False, False),
])
def test_who_issues_and_revokes_which_organizations_tokens(who, own, other):
    actor = _PEOPLE[who]
    own_org = actor.org_id
    other_org = TELCO_ORG.id if own_org != TELCO_ORG.id else BANK_ORG.id
    assert policy.can_manage_org_tokens(actor, own_org) is own
    assert policy.can_manage_org_tokens(actor, other_org) is other
