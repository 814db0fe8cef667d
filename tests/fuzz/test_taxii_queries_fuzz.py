"""Every TAXII read route, with generated query strings, path segments and Accept headers, as any
caller (members, the partner CERT, the CERT): never a 5xx, every error a TAXII error resource,
every success JSON that a standard client parses."""
from __future__ import annotations

import json
import uuid

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.integration.taxii_world import indicator

from .conftest import MEDIA, assert_taxii_error
from .profiles import examples, seeded
from .strategies import path_segments, query_strings, strict_loads

ROUTES = ("discovery", "api_root", "status", "collections", "collection", "manifest", "objects", "object",
          "versions", "delete")
ACCEPTS = st.sampled_from([MEDIA, MEDIA, "application/taxii+json", "*/*", "", "application/json",
                           "application/taxii+json;version=2.0", "application/taxii+json;q=0", "text/html, */*;q=0.1",
                           "application/taxii+json;version=\u00e9"])


def _published(world, taxii) -> dict:
    """Objects in every kind of collection, a status of bank's, and a real next token."""
    ids = []
    for alias in ("all-members", "sector-financial-services", f"org-{world.orgs['bank'].slug}"):
        objects = [indicator(f"192.0.2.{i}", tlp=tlp) for i, tlp in enumerate(("clear", "green", "amber"), 1)]
        world.publish(alias, objects)
        ids += [o["id"] for o in objects]
    intake_ids = [indicator(f"198.51.100.{i}", tlp="amber") for i in range(1, 4)]
    status = json.loads(taxii.post("bank", "intake", json.dumps({"objects": intake_ids})).get_data(as_text=True))
    page = taxii.get("bank", taxii.collection_url("all-members") + "objects/", {"limit": "1"})
    token = json.loads(page.get_data(as_text=True))["next"]
    return {"ids": ids + [o["id"] for o in intake_ids], "status": status["id"], "next": token}


def _mutations(token: str):
    return st.one_of(
        st.just(token),
        st.integers(0, len(token) - 1).map(lambda i: token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]),
        st.integers(0, len(token)).map(lambda i: token[:i]),
        st.just(token + "=" * 3), st.just(token.replace(".", "..")), st.just("A" * 500 + "." + "B" * 50),
    )


def test_no_query_string_path_or_accept_header_gets_a_server_error_on_any_taxii_read_route(world, taxii):
    known = _published(world, taxii)
    aliases = ["all-members", "sector-financial-services", "sector-telecommunications", "intake",
               f"org-{world.orgs['bank'].slug}"]
    # Mostly real paths, callers that may read them and a TAXII Accept header, so that most
    # generated query strings reach the filters; in one example out of four, one hostile part.
    real = {"api_root": st.just("api"), "status_id": st.just(known["status"]),
            "collection": st.sampled_from([world.collection(a).id for a in aliases]) | st.sampled_from(aliases),
            "object_id": st.sampled_from(known["ids"])}

    @seeded
    @settings(max_examples=examples(200))
    @given(route=st.sampled_from(ROUTES + ("manifest", "objects", "object", "versions")),
           who=st.sampled_from(["bank", "bank", "cert", "telco", "partner"]), query=query_strings(),
           hostile=st.sampled_from([None, None, None, "api_root", "status_id", "collection", "object_id", "accept"]),
           next_token=st.none() | st.none() | _mutations(known["next"]), data=st.data())
    def read(route, who, query, hostile, next_token, data):
        part = {name: data.draw(path_segments if name == hostile else strategy, label=name)
                for name, strategy in real.items()}
        api_root, status_id, collection, object_id = (part[k] for k in ("api_root", "status_id", "collection",
                                                                          "object_id"))
        accept = data.draw(ACCEPTS, label="accept") if hostile == "accept" else MEDIA
        if route == "delete" and hostile != "object_id":  # filters are parsed; the objects stay for later reads
            object_id = f"indicator--{uuid.uuid4()}"
        if next_token is not None:
            from urllib.parse import quote

            query = "&".join(filter(None, [query, "next=" + quote(next_token, safe="")]))
        root = f"/taxii2/{api_root}/"
        coll = f"{root}collections/{collection}/"
        path = {"discovery": "/taxii2/", "api_root": root, "status": f"{root}status/{status_id}/",
                "collections": f"{root}collections/", "collection": coll, "manifest": f"{coll}manifest/",
                "objects": f"{coll}objects/", "object": f"{coll}objects/{object_id}/",
                "versions": f"{coll}objects/{object_id}/versions/", "delete": f"{coll}objects/{object_id}/"}[route]
        headers = {**taxii.headers(who), "Accept": accept}
        method = taxii.client.delete if route == "delete" else taxii.client.get
        response = method(path, query_string=query, headers=headers)
        event(f"{route}: {response.status_code}")
        if response.status_code >= 400:
            assert_taxii_error(response)
            return
        if response.status_code in (301, 308):  # a path with '//' (an escaped '/'): the router merges
            assert response.headers["Location"].startswith(("/taxii2/", "http://localhost/taxii2/"))
            return
        assert response.status_code == 200, response.status_code
        assert response.headers["Content-Type"] == MEDIA
        if route != "delete":
            strict_loads(response.get_data(as_text=True))

    read()
