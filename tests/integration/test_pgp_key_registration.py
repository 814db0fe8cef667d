"""Can a member register the OpenPGP key their encrypted mail goes to, and is a key that
cannot work (expired, revoked, made for another address, not a key at all) refused with a
message saying why, on the account page and on the command line?"""
from __future__ import annotations

import pytest

from cert_share.extensions import db
from cert_share.models import User
from tests.integration.web_login import csrf_token, login, page_token

EMAIL = "alice@first-bank.example"


@pytest.fixture
def alice(factory):
    return factory.user(factory.org("First Bank"), "member-admin", email=EMAIL)


def stored(user_id: int) -> User:
    with db.session.no_autoflush:
        db.session.expire_all()
        return db.session.get(User, user_id)


def post_key(client, text: str):
    return client.post("/account/key", data={"csrf_token": page_token(client, "/account/key"), "key": text})


def test_the_account_page_leads_to_the_key_page_and_a_valid_key_is_registered(app, client, alice, pgp_keys):
    login(client, EMAIL)
    security = client.get("/account/security").get_data(as_text=True)
    assert 'href="/account/key"' in security
    page = client.get("/account/key").get_data(as_text=True)
    assert 'id="no-key"' in page and "notice" in page

    response = post_key(client, pgp_keys["alice"].public)
    assert response.status_code == 302
    page = client.get("/account/key").get_data(as_text=True)
    assert pgp_keys["alice"].fingerprint in page and "Valid until" in page
    with app.app_context():
        user = stored(alice.id)
        assert user.pgp_fingerprint == pgp_keys["alice"].fingerprint
        assert "BEGIN PGP PUBLIC KEY BLOCK" in user.pgp_key and user.pgp_expires_at is not None

    # And it can be removed: marked mail comes as a notice again.
    token = csrf_token(page[page.index('action="/account/key/remove"'):])
    assert client.post("/account/key/remove", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert stored(alice.id).pgp_key is None


@pytest.mark.parametrize("key,says", [
    ("expired", "this key expired on 2020-01-02"),
    ("revoked", "this key is revoked"),
    ("uid", "no user id of this key is alice@first-bank.example: it names soon@first-bank.example"),
    ("garbage", "this is not an OpenPGP public key"),
    ("private", "that is a private key"),
])
def test_a_key_that_cannot_work_is_refused_beside_the_field_and_nothing_is_stored(
        app, client, alice, pgp_keys, key, says):
    text = {"expired": pgp_keys["expired"].public, "revoked": pgp_keys["revoked"].public,
            "uid": pgp_keys["soon"].public, "garbage": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n",
            "private": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxyz\n-----END PGP PRIVATE KEY BLOCK-----\n"}[key]
    login(client, EMAIL)
    response = post_key(client, text)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    errors = page[page.index('id="key-errors"'):]
    assert says in errors[:errors.index("</ul>")]
    with app.app_context():
        assert stored(alice.id).pgp_key is None


def test_an_empty_or_oversized_key_is_refused(client, alice):
    login(client, EMAIL)
    assert post_key(client, "").status_code == 400
    response = post_key(client, "A" * (256 * 1024 + 1))
    assert response.status_code == 400 and "longer than" in response.get_data(as_text=True)


def test_the_key_page_needs_a_signed_in_person(client):
    assert client.get("/account/key").status_code == 302
    assert client.post("/account/key", data={"key": "x"}).status_code in (302, 400)


def test_the_command_line_registers_a_key_and_refuses_a_bad_one(app, runner, alice, pgp_keys, tmp_path):
    good, expired = tmp_path / "alice.asc", tmp_path / "old.asc"
    good.write_text(pgp_keys["alice"].public)
    expired.write_text(pgp_keys["expired"].public)

    result = runner.invoke(args=["user", "key", "--email", EMAIL, str(expired)])
    assert result.exit_code == 2 and "Error: this key expired" in result.output
    result = runner.invoke(args=["user", "key", "--email", "nobody@first-bank.example", str(good)])
    assert result.exit_code == 2 and "no user with the e-mail address" in result.output

    result = runner.invoke(args=["user", "key", "--email", EMAIL, str(good)])
    assert result.exit_code == 0, result.output
    assert pgp_keys["alice"].fingerprint in result.output
    with app.app_context():
        assert stored(alice.id).pgp_fingerprint == pgp_keys["alice"].fingerprint


def test_the_command_line_takes_a_binary_key(app, runner, alice, pgp_keys, tmp_path):
    from tests.integration.pgp_keys import gpg

    binary = gpg(pgp_keys["alice"].home, "--export", pgp_keys["alice"].fingerprint).stdout
    path = tmp_path / "alice.gpg"
    path.write_bytes(binary)
    result = runner.invoke(args=["user", "key", "--email", EMAIL, str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert "BEGIN PGP PUBLIC KEY BLOCK" in stored(alice.id).pgp_key
