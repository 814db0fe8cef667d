"""The TLP routing table for early warnings (DESIGN.md "Sharing rules"), as pure functions."""
from __future__ import annotations

import pytest

from cert_share.early_warning.routing import Route, Source, community_route, owner_route

BANK = Source(1, "member", "financial-services", "green")
BANK2 = Source(2, "member", "financial-services", "green")
TELCO = Source(3, "member", "telecommunications", "green")
PARTNER = Source(4, "partner", "government-national", "green")


def s(base: Source, tlp: str) -> Source:
    return Source(base.org_id, base.org_kind, base.sector, tlp)


def test_one_organization_alone_is_not_a_correlation_however_often_it_reports():
    assert community_route([BANK, BANK, s(BANK, "amber")]) is None


@pytest.mark.parametrize("levels", [("green", "green"), ("clear", "green"), ("clear", "clear")])
def test_clear_and_green_sources_go_to_all_members_as_green(levels):
    route = community_route([s(BANK, levels[0]), s(TELCO, levels[1])])
    assert route == Route("green", ("all-members",), False)


def test_any_amber_source_goes_to_the_sector_collections_of_the_member_reporters():
    route = community_route([BANK, s(TELCO, "amber"), PARTNER])
    assert route == Route("amber", ("sector-financial-services", "sector-telecommunications"), False)


def test_amber_from_partners_only_has_no_sector_and_waits_for_review():
    other_partner = Source(5, "partner", "government-national", "amber")
    route = community_route([s(PARTNER, "amber"), other_partner])
    assert route.draft and route.targets == ()


@pytest.mark.parametrize("level", ["amber+strict", "red"])
def test_amber_strict_or_red_source_makes_a_draft_at_that_level(level):
    route = community_route([BANK, s(BANK2, level)])
    assert route == Route(level, (), True)


def test_asset_owner_gets_amber_strict_in_its_own_collection_only():
    assert owner_route(1, "first-bank", [TELCO]) == Route("amber+strict", ("org-first-bank",), False)


def test_owner_reporting_its_own_asset_gets_no_warning():
    assert owner_route(1, "first-bank", [BANK, s(BANK, "amber")]) is None


def test_red_source_about_an_owner_asset_is_a_draft():
    assert owner_route(1, "first-bank", [s(TELCO, "red")]) == Route("red", ("org-first-bank",), True)
