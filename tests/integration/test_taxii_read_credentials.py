"""TAXII reads authenticate from a snapshot of the token's organization, kept by the worker: does
a change to the token or the organization still count from the very next request? Is the snapshot
of one organization ever used for another?"""
from __future__ import annotations

import pytest

from cert_share.actor import CLI
from cert_share.extensions import db
from cert_share.models import ApiToken, Organization
from cert_share.services import organizations, tokens

from .taxii_world import API, basic, build_world, indicator

ACCEPT = {"Accept": "application/taxii+json;version=2.1"}


@pytest.fixture
def world(app, factory):
    world = build_world(app, factory)
    world.publish("all-members", [indicator()])
    world.publish("sector-financial-services", [indicator(tlp="amber")])
    world.publish("sector-telecommunications", [indicator(tlp="amber")])
    return world


def _status(client, world, who: str, alias: str = "all-members") -> int:
    url = f"{API}collections/{world.collection(alias).id}/objects/"
    return client.get(url, headers=ACCEPT, auth=basic(world, who)).status_code


def test_a_token_that_just_polled_is_refused_the_moment_it_is_revoked(app, client, world):
    assert _status(client, world, "bank") == 200
    assert _status(client, world, "bank") == 200
    with app.app_context():
        org = db.session.get(Organization, world.orgs["bank"].id)
        row = db.session.query(ApiToken).filter_by(org_id=org.id).one()
        tokens.revoke_token(db.session, org, row.id, actor=CLI)
    assert _status(client, world, "bank") == 401
    assert _status(client, world, "bank2") == 200  # another bank's token is untouched


def test_a_deactivated_organization_stops_polling_at_once_and_resumes_when_reactivated(app, client, world):
    assert _status(client, world, "bank") == 200
    with app.app_context():
        org = db.session.get(Organization, world.orgs["bank"].id)
        organizations.set_active(db.session, org, False, actor=CLI)
    assert _status(client, world, "bank") == 401
    with app.app_context():
        org = db.session.get(Organization, world.orgs["bank"].id)
        organizations.set_active(db.session, org, True, actor=CLI)
    assert _status(client, world, "bank") == 200


def test_a_member_moved_to_another_sector_reads_only_its_new_sector_from_the_next_request(app, client, world):
    assert _status(client, world, "bank", "sector-financial-services") == 200
    assert _status(client, world, "bank", "sector-telecommunications") == 404
    with app.app_context():
        org = db.session.get(Organization, world.orgs["bank"].id)
        organizations.update_organization(db.session, org, name=org.name, sector="telecommunications",
                                          country=org.country, contact_email=org.contact_email, regime=org.regime,
                                          actor=CLI)
    assert _status(client, world, "bank", "sector-financial-services") == 404
    assert _status(client, world, "bank", "sector-telecommunications") == 200
    assert _status(client, world, "bank2", "sector-financial-services") == 200


def test_a_slug_that_is_not_the_tokens_organization_is_refused_after_a_good_poll(client, world):
    assert _status(client, world, "bank") == 200
    url = f"{API}collections/{world.collection('all-members').id}/objects/"
    wrong = (world.orgs["bank2"].slug, world.tokens["bank"])
    assert client.get(url, headers=ACCEPT, auth=wrong).status_code == 401
