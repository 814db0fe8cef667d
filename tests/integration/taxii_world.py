"""A small constituency for the TAXII tests: the CERT, two banks, a telecom, a partner CERT,
their tokens, and objects published through the storage service (not HTTP, to be fast)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from cert_share.extensions import db
from cert_share.stix import markings

API = "/taxii2/api/"
TLPS = ("clear", "green", "amber", "amber+strict", "red", None)


def indicator(value: str = None, *, tlp: str | None = "green", created: str = "2026-01-05T10:00:00.000Z",
              modified: str | None = None, ident: str | None = None, **extra) -> dict:
    value = value or f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    obj = {"type": "indicator", "spec_version": "2.1", "id": ident or f"indicator--{uuid.uuid4()}",
           "created": created, "modified": modified or created, "name": f"bad {value}",
           "pattern": f"[ipv4-addr:value = '{value}']", "pattern_type": "stix", "valid_from": created,
           **extra}
    if tlp is not None:
        obj["object_marking_refs"] = [markings.marking_id(tlp)]
    return obj


@dataclass
class World:
    app: object
    orgs: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)

    def collection(self, alias: str):
        from cert_share.store.collections import by_alias

        with self.app.app_context():
            coll = by_alias(db.session, alias)
            db.session.expunge(coll)
            return coll

    def publish(self, alias: str, objects: list[dict], owner: str = "cert", **kw) -> None:
        """Store objects as the CERT (or ``owner``) would, through the storage service."""
        from cert_share.models import Organization
        from cert_share.store.collections import by_alias
        from cert_share.store.stix_objects import add_objects

        with self.app.app_context():
            org = db.session.get(Organization, self.orgs[owner].id)
            add_objects(db.session, by_alias(db.session, alias), objects, owner_org_id=org.id, **kw)
            db.session.commit()


def build_world(app, factory) -> World:
    world = World(app)
    world.orgs["cert"] = factory.cert()
    world.orgs["bank"] = factory.org("First Bank", sector="financial-services")
    world.orgs["bank2"] = factory.org("Second Bank", sector="financial-services")
    world.orgs["telco"] = factory.org("Telco One", sector="telecommunications")
    world.orgs["partner"] = factory.org("Partner CERT", sector="government-national", kind="partner")
    for name, org in world.orgs.items():
        world.tokens[name] = factory.token(org)
    return world


def basic(world: World, who: str) -> tuple[str, str]:
    return world.orgs[who].slug, world.tokens[who]


# Who may read what, written out from DESIGN.md's TLP table (not computed with cert_share.policy,
# so a wrong policy makes the tests that use it fail).
COLLECTIONS = ("all-members", "sector-financial-services", "sector-telecommunications", "org-first-bank",
               "org-second-bank", "org-telco-one", "org-partner-cert", "intake")
CALLERS = ("bank", "bank2", "telco", "partner", "cert")
ORG = {"bank": ("member", "financial-services", "first-bank"),
       "bank2": ("member", "financial-services", "second-bank"),
       "telco": ("member", "telecommunications", "telco-one"),
       "partner": ("partner", "government-national", "partner-cert"),
       "cert": ("cert", "government-national", "national-cert")}


def expected(caller: str, alias: str, tlp: str | None, owner: str) -> bool:
    """DESIGN.md: CLEAR/GREEN every member; AMBER the sector; AMBER+STRICT (and unmarked) only the
    organization; RED never over TAXII. Intake: a member reads back only what it wrote."""
    if tlp == "red":
        return False
    kind, sector, slug = ORG[caller]
    if kind == "cert":
        return True
    level = tlp or "amber+strict"
    if alias == "intake":
        return owner == caller
    if alias == "all-members":
        return kind == "member" and level in {"clear", "green"}
    if alias.startswith("sector-"):
        return kind == "member" and alias == f"sector-{sector}" and level in {"clear", "green", "amber"}
    if alias.startswith("org-"):
        return alias == f"org-{slug}"
    raise AssertionError(alias)
