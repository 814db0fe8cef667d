"""Rotating SECRET_KEY: does a person stay signed in, does a form opened before the restart
still submit, does a TAXII client's paging go on, and does all of it stop once the old key is
dropped from SECRET_KEY_FALLBACKS?"""
from __future__ import annotations

import base64

import pytest
from itsdangerous import URLSafeTimedSerializer

from cert_share import create_app
from cert_share.extensions import db

from .taxii_world import API, build_world, indicator
from .web_login import login, page_token

NEW_KEY = "new-key-" + "b" * 40
MEDIA = "application/taxii+json;version=2.1"


@pytest.fixture
def restart(app):
    """The same deployment restarted with other keys (the same database)."""
    made = []

    def with_keys(secret_key: str, fallbacks: list[str]):
        settings = {name: app.config[name] for name in ("TESTING", "SQLALCHEMY_DATABASE_URI", "WTF_CSRF_ENABLED",
                                                        "SCHEDULER_ENABLED", "SMTP_HOST", "MAILDIR")}
        made.append(create_app({**settings, "SECRET_KEY": secret_key, "SECRET_KEY_FALLBACKS": fallbacks}))
        return made[-1]

    yield with_keys
    for other in made:
        with other.app_context():
            db.engine.dispose()


def carry_session(source, target) -> None:
    """The browser's session cookie, as it arrives at the restarted server."""
    target.set_cookie("session", source.get_cookie("session").value)


def test_a_signed_in_person_stays_signed_in_across_a_rotation_until_the_old_key_is_dropped(app, factory, restart):
    old_key = app.config["SECRET_KEY"]
    user = factory.user(factory.org("First Bank"), "analyst")
    before = app.test_client()
    assert login(before, user.email).status_code == 302
    form_token = page_token(before, "/account/password")  # a form opened before the restart

    rotated = restart(NEW_KEY, [old_key]).test_client()
    carry_session(before, rotated)
    assert rotated.get("/account/password").status_code == 200

    dropped = restart(NEW_KEY, []).test_client()
    carry_session(before, dropped)
    response = dropped.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]

    # Posted to the rotated server, the form signed with the old key is accepted: sign-out works.
    signed_out = rotated.post("/logout", data={"csrf_token": form_token})
    assert signed_out.status_code == 302 and signed_out.headers["Location"].endswith("/login")
    assert rotated.get("/account/password").status_code == 302


def test_a_csrf_token_signed_with_a_dropped_key_is_refused(app, factory, restart):
    old_key = app.config["SECRET_KEY"]
    user = factory.user(factory.org("First Bank"), "analyst")
    rotated_app = restart(NEW_KEY, [old_key])
    browser = rotated_app.test_client()
    assert login(browser, user.email).status_code == 302  # a session signed with the new key
    fresh_token = page_token(browser, "/account/password")
    # The same session's form token as a server on the old key signed it.
    session = rotated_app.session_interface.get_signing_serializer(rotated_app).loads(
        browser.get_cookie("session").value)
    old_token = URLSafeTimedSerializer(old_key, salt="wtf-csrf-token").dumps(session["csrf_token"])

    dropped = restart(NEW_KEY, []).test_client()
    carry_session(browser, dropped)
    assert dropped.get("/account/password").status_code == 200
    assert dropped.post("/logout", data={"csrf_token": old_token}).status_code == 400
    assert dropped.get("/account/password").status_code == 200  # the refused form changed nothing
    assert dropped.post("/logout", data={"csrf_token": fresh_token}).status_code == 302
    assert browser.get("/account/password").status_code == 302  # that sign-out went through


def test_a_taxii_next_token_survives_the_rotation_and_new_ones_use_the_new_key(app, factory, restart):
    old_key = app.config["SECRET_KEY"]
    world = build_world(app, factory)
    world.publish("all-members", [indicator(f"10.7.0.{i}") for i in range(1, 7)])
    raw = f"{world.orgs['bank'].slug}:{world.tokens['bank']}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode(), "Accept": MEDIA}
    url = f"{API}collections/{world.collection('all-members').id}/objects/"

    first = app.test_client().get(url, query_string={"limit": 2}, headers=headers).get_json(force=True)
    assert first["more"] is True

    rotated = restart(NEW_KEY, [old_key]).test_client()
    second = rotated.get(url, query_string={"limit": 2, "next": first["next"]}, headers=headers)
    assert second.status_code == 200, second.get_data(as_text=True)
    second = second.get_json(force=True)
    seen = [o["id"] for o in first["objects"] + second["objects"]]
    assert len(set(seen)) == 4

    dropped = restart(NEW_KEY, []).test_client()
    refused = dropped.get(url, query_string={"limit": 2, "next": first["next"]}, headers=headers)
    assert refused.status_code == 400 and "next" in refused.get_json(force=True)["description"]
    # The token the rotated server handed out is signed with the new key: it still pages on.
    third = dropped.get(url, query_string={"limit": 2, "next": second["next"]}, headers=headers)
    assert third.status_code == 200
    third = third.get_json(force=True)
    assert third["more"] is False and len(set(seen + [o["id"] for o in third["objects"]])) == 6
