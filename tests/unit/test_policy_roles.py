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
