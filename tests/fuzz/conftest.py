"""Fixtures of the property-based tests: the TAXII world of tests/integration and a client that
speaks TAXII with a member's token and sends bodies exactly as the strategies wrote them."""
from __future__ import annotations

import json

import pytest

from tests.integration.taxii_world import API, build_world

MEDIA = "application/taxii+json;version=2.1"


class Taxii:
    """TAXII requests through the app's test client, as one of the world's organizations."""

    def __init__(self, client, world):
        self.client, self.world = client, world

    def headers(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.world.tokens[who]}", "Accept": MEDIA}

    def collection_url(self, alias: str) -> str:
        return f"{API}collections/{self.world.collection(alias).id}/"

    def post(self, who: str, alias: str, body: str):
        return self.client.post(self.collection_url(alias) + "objects/", data=body.encode(),
                                headers={**self.headers(who), "Content-Type": MEDIA})

    def get(self, who: str, path: str, query: str | dict = ""):
        return self.client.get(path, query_string=query, headers=self.headers(who))


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


@pytest.fixture
def taxii(client, world):
    return Taxii(client, world)


def assert_taxii_error(response) -> dict:
    """A 4xx that is a TAXII error resource (section 3.6.1), never a 5xx or an HTML page."""
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    assert response.headers["Content-Type"] == MEDIA, response.headers["Content-Type"]
    body = json.loads(response.get_data(as_text=True))
    assert isinstance(body.get("title"), str) and body["title"]
    assert body.get("http_status") == str(response.status_code)
    return body
