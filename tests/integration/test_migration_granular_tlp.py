"""Migration 0009: objects stored while granular markings were ignored get their strictest level."""
from __future__ import annotations

import flask_migrate
import pytest
from sqlalchemy import text

from cert_share.database import MIGRATIONS_DIRECTORY, migrations
from cert_share.extensions import db
from cert_share.stix import markings

from .taxii_world import build_world, indicator

# More than one batch of the migration (1,000 rows).
MANY = 2_500


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


def _granular(level: str) -> list[dict]:
    return [{"selectors": ["name"], "marking_ref": markings.marking_id(level)}]


def test_stored_objects_get_the_level_of_their_granular_markings(app, world):
    red_inside = [indicator(tlp="green", granular_markings=_granular("red")) for _ in range(MANY)]
    strict_inside = indicator(tlp="clear", granular_markings=_granular("amber+strict"))
    lang_only = indicator(tlp="green", granular_markings=[{"selectors": ["name"], "lang": "fr"}])
    plain = indicator(tlp="amber")
    unmarked = indicator(tlp=None, granular_markings=_granular("green"))
    world.publish("all-members", red_inside + [strict_inside, lang_only, plain, unmarked])
    with app.app_context():
        # As the earlier code stored them: object_marking_refs alone.
        db.session.execute(text("UPDATE stix_objects SET tlp = 'green' WHERE body LIKE '%granular_markings%'"))
        db.session.execute(text("UPDATE stix_objects SET tlp = NULL WHERE stix_id = :id"), {"id": unmarked["id"]})
        db.session.commit()
        migrations(app)
        flask_migrate.downgrade(directory=MIGRATIONS_DIRECTORY, revision="0008")
        flask_migrate.upgrade(directory=MIGRATIONS_DIRECTORY)
        levels = dict(db.session.execute(text("SELECT stix_id, tlp FROM stix_objects")).all())
    assert {levels[o["id"]] for o in red_inside} == {"red"}
    assert levels[strict_inside["id"]] == "amber+strict"
    assert levels[lang_only["id"]] == "green"
    assert levels[plain["id"]] == "amber"
    assert levels[unmarked["id"]] == "green"
