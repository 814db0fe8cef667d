"""Helpers for driving the web pages with the Flask test client: CSRF tokens and signing in."""
from __future__ import annotations

import re

from tests.conftest import PASSWORD

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


_CSRF_VALUE = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+|(value=")[^"]+("[^>]*name="csrf_token")')


def without_csrf(html: str) -> str:
    """The page with each CSRF token's value replaced by "CSRF": a token is made per render and
    carries its time, so two renders of one page can differ by it alone (a second apart)."""
    return _CSRF_VALUE.sub(lambda m: (m.group(1) or m.group(2)) + "CSRF" + (m.group(3) or ""), html)


def csrf_token(html: str) -> str:
    """The hidden csrf_token of the (first) form on a page."""
    match = _CSRF.search(html)
    assert match, "no csrf_token input on the page"
    return match.group(1) or match.group(2)


def page_token(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return csrf_token(response.get_data(as_text=True))


def login(client, email: str, password: str = PASSWORD, next_path: str | None = None):
    token = page_token(client, "/login")
    url = "/login" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data={"csrf_token": token, "email": email, "password": password})


def choose_language(app, user_id: int, locale: str | None) -> None:
    """Set a person's own language (users.locale), as /account/language does."""
    from cert_share.extensions import db
    from cert_share.models import User

    with app.app_context():
        db.session.get(User, user_id).locale = locale
        db.session.commit()


def signed_in_new_user(app, factory, org, locale: str | None, role: str = "analyst"):
    """A test client signed in as a new user of ``org`` whose own language is ``locale``."""
    user = factory.user(org, role)
    choose_language(app, user.id, locale)
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client
