"""Which objects of a request or bundle are drill data (stix.exercise.drill_objects): the one
rule TAXII push, bundle import and partner feeds apply before anything becomes a report."""
from __future__ import annotations

import uuid

from cert_share.stix import exercise

EXT = {exercise.EXTENSION_ID: {"extension_type": "property-extension", "exercise_id": 1, "exercise": "storm",
                               "inject": 1}}


def obj(type_: str, **extra) -> dict:
    return {"type": type_, "id": f"{type_}--{uuid.uuid4()}", **extra}


def rel(source: dict, target: dict) -> dict:
    return obj("relationship", source_ref=source["id"], target_ref=target["id"])


def test_nothing_is_drill_data_without_the_extension_not_even_with_the_exercise_label():
    incident = obj("incident", labels=["exercise"], name="[EXERCISE] tabletop")
    ioc = obj("indicator")
    assert exercise.drill_objects([incident, ioc, rel(ioc, incident)]) == {}


def test_a_drill_incident_takes_its_relationships_and_what_only_it_ties_together():
    identity = obj("identity")
    incident = obj("incident", extensions=EXT, created_by_ref=identity["id"])
    ioc, sco, chained = obj("indicator"), obj("domain-name"), obj("file")
    relations = [rel(ioc, incident), rel(incident, sco), rel(sco, chained)]
    drill = exercise.drill_objects([identity, incident, ioc, sco, chained, *relations])
    assert set(drill) == {incident["id"], ioc["id"], sco["id"], chained["id"]} | {r["id"] for r in relations}
    assert drill[incident["id"]] == exercise.DRILL_REFUSAL
    assert drill[chained["id"]].startswith(f"goes with {incident['id']}")
    assert identity["id"] not in drill  # who reported is not drill data


def test_what_a_real_incident_also_uses_stays_real():
    drill_incident, real_incident = obj("incident", extensions=EXT), obj("incident")
    shared, drill_only = obj("ipv4-addr"), obj("ipv4-addr")
    objects = [drill_incident, real_incident, shared, drill_only, rel(drill_incident, shared),
               rel(real_incident, shared), rel(drill_incident, drill_only)]
    drill = exercise.drill_objects(objects)
    assert shared["id"] not in drill and real_incident["id"] not in drill
    assert drill_only["id"] in drill


def test_a_report_listing_a_drill_object_is_drill_data_too():
    drill_sco = obj("ipv4-addr", extensions=EXT)
    report = obj("report", object_refs=[drill_sco["id"]])
    assert set(exercise.drill_objects([drill_sco, report])) == {drill_sco["id"], report["id"]}
