"""The TAXII rules in cert_share.policy, as plain functions (no database, no HTTP)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from cert_share import policy
from cert_share.actor import Actor

LEVELS = ("clear", "green", "amber", "amber+strict", "red", None)


def org(id_, kind="member", sector="financial-services"):
    return SimpleNamespace(id=id_, kind=kind, sector=sector, slug=f"org{id_}")


def coll(kind, sector=None, org_id=None):
    return SimpleNamespace(kind=kind, sector=sector, org_id=org_id)


BANK = Actor(label="token:bank/x", org=org(1))
TELCO = Actor(label="token:telco/x", org=org(2, sector="telecommunications"))
PARTNER = Actor(label="token:partner/x", org=org(3, kind="partner", sector="government-national"))
CERT = Actor(label="token:cert/x", org=org(9, kind="cert", sector="government-national"))


def served(actor, collection):
    access = policy.collection_access(actor, collection)
    return {lvl for lvl in LEVELS if access.read and policy.tlp_admits(access, lvl)}


def test_a_member_reads_only_clear_and_green_in_all_members():
    assert served(BANK, coll("all-members")) == {"clear", "green"}


def test_amber_reaches_the_sector_only():
    assert served(BANK, coll("sector", sector="financial-services")) == {"clear", "green", "amber"}
    assert served(TELCO, coll("sector", sector="financial-services")) == set()
    assert not policy.collection_access(TELCO, coll("sector", sector="financial-services")).visible


def test_amber_strict_and_unmarked_reach_only_the_organization_concerned():
    own = coll("org", org_id=1)
    assert served(BANK, own) == {"clear", "green", "amber", "amber+strict", None}
    assert served(TELCO, own) == set()


def test_red_is_never_served_to_anyone_even_the_cert():
    for actor in (BANK, TELCO, PARTNER, CERT):
        for c in (coll("all-members"), coll("sector", sector="financial-services"), coll("org", org_id=1),
                  coll("intake")):
            assert "red" not in served(actor, c)


def test_intake_is_write_all_read_own():
    access = policy.collection_access(BANK, coll("intake"))
    assert access.write and access.read and access.owner_org_id == 1
    assert policy.object_admitted(access, tlp="amber", owner_org_id=1)
    assert not policy.object_admitted(access, tlp="clear", owner_org_id=2)
    assert not policy.object_admitted(access, tlp="red", owner_org_id=1)


def test_the_cert_reads_and_writes_everything_but_red():
    for c in (coll("all-members"), coll("sector", sector="energy"), coll("org", org_id=5), coll("intake")):
        access = policy.collection_access(CERT, c)
        assert access.read and access.write and access.owner_org_id is None
        assert served(CERT, c) == {"clear", "green", "amber", "amber+strict", None}


def test_a_partner_is_not_a_member_of_all_members_or_a_sector():
    assert not policy.collection_access(PARTNER, coll("all-members")).visible
    assert not policy.collection_access(PARTNER, coll("sector", sector="government-national")).visible
    assert served(PARTNER, coll("org", org_id=3)) == {"clear", "green", "amber", "amber+strict", None}


@pytest.mark.parametrize("actor", [BANK, TELCO, PARTNER])
def test_members_write_only_intake(actor):
    for c in (coll("all-members"), coll("sector", sector=actor.org.sector), coll("org", org_id=actor.org.id)):
        assert not policy.collection_access(actor, c).write
    assert policy.collection_access(actor, coll("intake")).write


def test_an_actor_without_organization_gets_nothing():
    nobody = Actor(label="token:ghost")
    assert policy.collection_access(nobody, coll("intake")) == policy.NO_ACCESS


def test_deleting_is_for_the_cert_or_the_author_in_intake():
    intake = policy.collection_access(BANK, coll("intake"))
    assert policy.can_delete_object(BANK, intake, owner_org_id=1)
    assert not policy.can_delete_object(BANK, intake, owner_org_id=2)
    assert not policy.can_delete_object(BANK, policy.collection_access(BANK, coll("all-members")), owner_org_id=9)
    assert policy.can_delete_object(CERT, policy.collection_access(CERT, coll("all-members")), owner_org_id=9)


def test_red_cannot_be_published():
    assert not policy.can_publish_tlp("red")
    assert all(policy.can_publish_tlp(level) for level in LEVELS if level != "red")


@pytest.mark.parametrize("tlp, targets, allowed", [
    ("red", ["org-first-bank"], False),
    ("red", [], True),
    ("amber+strict", ["org-first-bank"], True),
    ("amber+strict", ["sector-financial-services"], False),
    ("amber", ["all-members"], False),
    ("amber", ["sector-energy", "org-first-bank"], True),
    ("green", ["all-members"], True),
    ("clear", ["all-members", "sector-energy"], True),
])
def test_staff_edits_cannot_send_a_warning_wider_than_its_tlp(tlp, targets, allowed):
    assert (policy.warning_targets_refusal(tlp, targets) is None) is allowed


def test_the_platform_never_serves_red_whatever_an_access_says():
    access = policy.CollectionAccess(read=True, write=False, tlp_levels=frozenset({"green", "red"}))
    assert access.served_levels == ("green",)
    assert not policy.tlp_admits(access, "red")
