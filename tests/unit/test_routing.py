"""The TLP routing table for early warnings (DESIGN.md "Sharing rules"), as pure functions."""
from __future__ import annotations

import pytest

from cert_share import policy
from cert_share.early_warning.routing import Route, Source, community_route, owner_route
from cert_share.vocab import TLP_LEVELS

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


@pytest.mark.parametrize("first", TLP_LEVELS)
@pytest.mark.parametrize("second", TLP_LEVELS)
def test_every_route_published_without_review_is_one_policy_allows(first, second):
    """Routing picks the collections; policy's ceilings decide what each may carry. A warning
    that goes out without a person looking must never be one policy would refuse."""
    sources = [s(BANK, first), s(TELCO, second), s(PARTNER, first)]
    for route in (community_route(sources), owner_route(99, "owner", sources)):
        assert route is not None
        if not route.draft:
            assert policy.warning_targets_refusal(route.tlp, route.targets) is None, route
