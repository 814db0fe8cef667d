"""Flask's signed-cookie session, minus the work a request without a session cookie never needed.

Most requests carry no session cookie: every API and TAXII call (they authenticate by token and
never read the cookie, auth/__init__.py), and a browser's first request. Flask's interface still
builds an itsdangerous serializer (key list, salt, signer) to open such a request's empty
session, and reads seven cookie settings to save it empty again: a few per cent of a TAXII
poll's instructions (docs/performance.md, issue 14). This interface skips exactly that work and nothing
else: a request with a cookie is opened and saved by Flask's own code, and an empty session gets
the same ``Vary: Cookie`` Flask would add. A TAXII request gets no session at all (below).
"""
from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

# TAXII authenticates by its Authorization header alone and never consults the browser's session
# (taxii/__init__.py): its requests get Flask's null session, which is neither read from the
# cookie nor saved, and which refuses to be written.
_SESSIONLESS_PREFIX = "/taxii2/"


class CookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(_SESSIONLESS_PREFIX):
            return self.make_null_session(app)
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:
            # Flask's own answer for an empty session nobody emptied: no cookie set or deleted.
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)
