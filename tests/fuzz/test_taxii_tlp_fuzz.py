"""The effective TLP of an object is the strictest of every TLP marking it references, object-level
and granular (unmarked counts as amber+strict), and it decides, on every read route, which member
is served the object in which collection. The objects are generated with any mix of official
TLP 2.0 and 1.0 markings, lang markings, and marking definitions that only claim to be TLP.

The rule, written out here as a table rather than taken from the server's code:

    collection                  served to                 levels
    all-members                 every member              clear, green
    sector-financial-services   the sector's members      clear, green, amber
    org-<bank>                  that bank                 clear .. amber+strict
    any                         the CERT                  clear .. amber+strict

RED is never published to a collection: the CERT's POST of an effectively RED object fails.
"""
from __future__ import annotations

import json

from hypothesis import event, given, settings
from hypothesis import strategies as st

from .conftest import assert_taxii_error
from .profiles import examples, seeded
from .strategies import TLP_LEVELS, effective_tlp, fake_tlp_marking, fresh_ids, strict_loads, tlp_marked_object, to_json

UP_TO_GREEN, UP_TO_AMBER, UP_TO_STRICT = TLP_LEVELS[:2], TLP_LEVELS[:3], TLP_LEVELS[:4]
READERS = ("bank", "bank2", "telco", "partner", "cert")


def served_levels(collection: str, who: str) -> tuple[str, ...]:
    if who == "cert":
        return UP_TO_STRICT
    if collection == "all-members":
        return UP_TO_GREEN if who in {"bank", "bank2", "telco"} else ()
    if collection == "sector-financial-services":
        return UP_TO_AMBER if who in {"bank", "bank2"} else ()
    return UP_TO_STRICT if who == "bank" else ()  # org-<bank>


def _served_on_every_route(taxii, who: str, alias: str, object_id: str) -> set[bool]:
    """Whether each read route serves the object to ``who`` (one answer per route)."""
    url = taxii.collection_url(alias)
    answers = set()
    for route, query in ((f"objects/{object_id}/", {}), (f"objects/{object_id}/versions/", {}),
                         ("objects/", {"match[id]": object_id}), ("manifest/", {"match[id]": object_id})):
        response = taxii.get(who, url + route, query)
        if response.status_code != 200:
            assert response.status_code == 404, response.get_data(as_text=True)
            assert_taxii_error(response)
            answers.add(False)
            continue
        body = strict_loads(response.get_data(as_text=True))
        listed = body.get("objects", body.get("versions", []))
        answers.add(bool(listed) and all(o["id"] == object_id for o in listed if isinstance(o, dict)))
    return answers


def test_an_object_is_served_only_where_the_strictest_of_all_its_tlp_markings_admits_it(world, taxii):
    aliases = ["all-members", "sector-financial-services", f"org-{world.orgs['bank'].slug}"]

    @seeded
    @settings(max_examples=examples(30))
    @given(obj=tlp_marked_object(), alias=st.sampled_from(aliases), fakes=st.lists(fake_tlp_marking(), max_size=2),
           refer_to_fakes=st.booleans())
    def served_by_level(obj, alias, fakes, refer_to_fakes):
        if fakes and refer_to_fakes:
            obj["object_marking_refs"] = obj.get("object_marking_refs", []) + [fakes[0]["id"]]
        text, _ = fresh_ids(to_json({"objects": fakes + [obj]}))
        objects = json.loads(text)["objects"]
        obj, level = objects[-1], effective_tlp(objects[-1])
        event(f"effective TLP {level}")
        response = taxii.post("cert", alias, text)
        assert response.status_code == 202, response.get_data(as_text=True)
        status = strict_loads(response.get_data(as_text=True))
        failed = {entry["id"] for entry in status.get("failures", [])}
        assert {f["id"] for f in objects[:-1]} <= failed, "a marking definition claiming TLP was accepted"
        if level == "red":
            assert obj["id"] in failed, "an effectively RED object was published to a collection"
            return
        if fakes and refer_to_fakes and obj["id"] in failed:
            event("refused with the fake TLP marking it references")
            return
        assert obj["id"] not in failed, status["failures"]
        collection = "org-<bank>" if alias.startswith("org-") else alias
        for who in READERS:
            expected = level in served_levels(collection, who)
            assert _served_on_every_route(taxii, who, alias, obj["id"]) == {expected}, (who, alias, level)

    served_by_level()
