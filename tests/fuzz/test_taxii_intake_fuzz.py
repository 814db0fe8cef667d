"""Properties of a member's POST to intake, over generated envelopes (valid-ish, marked, hostile):

* it never answers 5xx, its status resource is JSON a standard client parses, and every object
  the status reports as a success reads back for the poster exactly as posted, as valid JSON;
* another member never sees any of it, and its own answers (status, object, versions,
  manifest, objects) are the same whether or not the first member posted the same ids.
"""
from __future__ import annotations

import json

from hypothesis import event, given, settings
from hypothesis import strategies as st

from .conftest import assert_taxii_error
from .profiles import examples, seeded
from .strategies import envelopes, fresh_ids, strict_loads, to_json

STATUS_FIELDS = {"id", "status", "request_timestamp", "total_count", "success_count", "failure_count",
                 "pending_count"}


def _post(taxii, who: str, text: str) -> dict | None:
    """POST to intake; the status resource, or None for a request refused as a whole (4xx)."""
    response = taxii.post(who, "intake", text)
    if response.status_code != 202:
        assert_taxii_error(response)
        event(f"{who}'s POST refused as a whole ({response.status_code})")
        return None
    assert response.headers["Content-Type"] == "application/taxii+json;version=2.1"
    status = strict_loads(response.get_data(as_text=True))
    assert STATUS_FIELDS <= set(status)
    assert status["status"] == "complete" and status["pending_count"] == 0
    successes, failures = status.get("successes", []), status.get("failures", [])
    assert (status["success_count"], status["failure_count"]) == (len(successes), len(failures))
    assert status["total_count"] == len(json.loads(text)["objects"]) == len(successes) + len(failures)
    event(f"{who}'s POST: " + ("all stored" if not failures else "some stored" if successes else "none stored"))
    return status


def _versions_served(taxii, who: str, object_id: str) -> tuple[int, list]:
    """(status code, every version of one intake object the caller is served)."""
    response = taxii.get(who, f"{taxii.collection_url('intake')}objects/{object_id}/", {"match[version]": "all"})
    if response.status_code != 200:
        assert_taxii_error(response)
        return response.status_code, []
    return 200, strict_loads(response.get_data(as_text=True))["objects"]


def _sent(text: str) -> dict[str, dict]:
    return {o["id"]: o for o in json.loads(text)["objects"] if isinstance(o, dict) and isinstance(o.get("id"), str)}


def test_a_members_post_to_intake_never_fails_and_what_it_keeps_reads_back_as_posted(taxii):
    @seeded
    @settings(max_examples=examples(30))
    @given(envelope=envelopes())
    def post_and_read_back(envelope):
        text, _ = fresh_ids(to_json(envelope))
        status = _post(taxii, "bank", text)
        if status is None:
            return
        sent = _sent(text)
        for entry in status.get("successes", []):
            code, served = _versions_served(taxii, "bank", entry["id"])
            assert code == 200, f"{entry['id']} reported stored but not served to its poster"
            assert sent[entry["id"]] in served, "the object served is not the object posted"

    post_and_read_back()


def _comparable(status: dict | None) -> dict | None:
    """The parts of a status that must not depend on anyone else (not its id or timestamp)."""
    if status is None:
        return None
    def entries(name):
        return sorted(status.get(name, []), key=lambda e: json.dumps(e, sort_keys=True))

    return {"counts": [status[k] for k in ("total_count", "success_count", "failure_count")],
            "successes": entries("successes"), "failures": entries("failures")}


def _own_view(taxii, who: str, ids: list[str]) -> dict:
    """What ``who`` is served about these ids: each object's versions, and the manifest and objects
    listings filtered on them (without date_added, which only says when)."""
    url = taxii.collection_url("intake")
    view = {"versions": {i: _versions_served(taxii, who, i) for i in ids}}
    for route in ("manifest", "objects"):
        response = taxii.get(who, f"{url}{route}/", {"match[id]": ",".join(ids), "match[version]": "all"})
        assert response.status_code == 200, response.get_data(as_text=True)
        body = strict_loads(response.get_data(as_text=True))
        view[route] = sorted(json.dumps({k: v for k, v in o.items() if k != "date_added"}, sort_keys=True)
                             for o in body.get("objects", []))
    return view


def _text(value, renaming: dict[str, str] | None = None) -> str:
    """Canonical JSON text of ``value`` (lists sorted), each generated UUID renamed (new -> old)."""
    text = json.dumps(value)
    for new, old in (renaming or {}).items():
        text = text.replace(new, old)
    return json.dumps(_canonical(json.loads(text)), sort_keys=True)


def _canonical(value):
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _rename_id(object_id: str, mapping: dict[str, str]) -> str:
    prefix, _, ident = object_id.partition("--")
    return f"{prefix}--{mapping.get(ident, ident)}"


def test_what_a_member_posts_to_intake_never_reaches_another_member_nor_changes_its_answers(taxii):
    """Bank posts first; telco then posts the same ids (some identical objects, some different),
    and, as a control, the same objects under ids nobody else holds. Telco's statuses and views of
    both must match, nothing else of bank's may reach telco, and bank's view must not move."""
    @seeded
    @settings(max_examples=examples(20))
    @given(bank_envelope=envelopes(max_objects=4), telco_extra=envelopes(max_objects=2), data=st.data())
    def isolated(bank_envelope, telco_extra, data):
        bank_text, bank_map = fresh_ids(to_json(bank_envelope))
        _post(taxii, "bank", bank_text)
        bank_ids = sorted(_sent(bank_text))
        bank_before = _own_view(taxii, "bank", bank_ids)

        # Telco's envelope: some of bank's objects as they are, some with bank's ids and other content.
        telco_objects = []
        for obj in bank_envelope["objects"]:
            if isinstance(obj, dict) and "id" in obj and data.draw(st.booleans(), label="telco posts this id too"):
                if data.draw(st.booleans(), label="with other content"):
                    obj = {**obj, "x_reporter_note": "telco's own copy"}
                telco_objects.append(fresh_ids(to_json(obj), bank_map)[0])
        extra_text, _ = fresh_ids(to_json(telco_extra))
        telco_objects.append(extra_text[len('{"objects":['):-len("]}")])
        telco_text = '{"objects":[' + ",".join(telco_objects) + "]}"
        # The control: the same envelope with every id renamed, ids nobody else holds.
        control_text, control_map = fresh_ids(telco_text)
        back = {new: old for old, new in control_map.items()}

        control_status = _post(taxii, "telco", control_text)
        telco_status = _post(taxii, "telco", telco_text)
        assert _text(_comparable(telco_status)) == _text(_comparable(control_status), back)

        telco_ids = sorted(_sent(telco_text))
        control_ids = [_rename_id(i, control_map) for i in telco_ids]
        assert _text(_own_view(taxii, "telco", telco_ids)) == _text(_own_view(taxii, "telco", control_ids), back)

        # Nothing of bank's reaches telco: an id telco did not store is not served to it.
        stored_by_telco = {e["id"] for e in (telco_status or {}).get("successes", [])}
        for object_id in bank_ids:
            if object_id not in stored_by_telco:
                assert _versions_served(taxii, "telco", object_id) == (404, []), f"telco is served bank's {object_id}"
        # And bank's view of its own objects did not move.
        assert _own_view(taxii, "bank", bank_ids) == bank_before

    isolated()
