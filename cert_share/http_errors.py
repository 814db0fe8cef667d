"""App-wide error rendering: JSON on /api, TAXII error resources on /taxii2, pages elsewhere.

Blueprints handle their own errors first; this catches what reaches the app (404 on unknown
URLs, 405, 413 raised by Werkzeug before any view runs) and anything unexpected, which is
logged and answered without a stack trace. A database that is out of reach or out of space is
the server's state, not a bug: 503 with Retry-After, or 507, saying so.
"""
from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from .database import storage_failure
from .errors import CertShareError
from .extensions import db
from .vocab import N_

# Seconds a client is asked to wait after a 503: a dropped connection is replaced at once, a
# restarting database takes a few seconds.
RETRY_AFTER_SECONDS = 5

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"


def taxii_error(status: int, title: str, description: str):
    """The TAXII error resource (TAXII 2.1 section 3.6.1): the one renderer, for the TAXII
    blueprint's own errors and for what reaches the app on a /taxii2 path."""
    response = jsonify({"title": title, "description": description, "http_status": str(status)})
    response.status_code = status
    response.headers["Content-Type"] = TAXII_MEDIA_TYPE
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="cert-share TAXII", charset="UTF-8"'
    return response


# What an error page says when it comes from Werkzeug or from our error classes: extracted here so
# a page shows it in its reader's language (the JSON and TAXII answers keep the English).
PAGE_TEXTS = (
    N_("Bad Request"), N_("The browser (or proxy) sent a request that this server could not understand."),
    N_("Unauthorized"), N_("Forbidden"),
    N_("You don't have the permission to access the requested resource. It is either read-protected or not "
       "readable by the server."),
    N_("Not Found"), N_("The requested URL was not found on the server. If you entered the URL manually please "
                        "check your spelling and try again."),
    N_("Method Not Allowed"), N_("The method is not allowed for the requested URL."),
    N_("Request URI Too Large"), N_("The length of the requested URL exceeds the capacity limit for this server. "
                                    "The request cannot be processed."),
    N_("Request Header Fields Too Large"), N_("One or more header fields exceeds the maximum size."),
    N_("Too Many Requests"), N_("This user has exceeded an allotted request count. Try again later."),
    N_("Internal Server Error"),
    N_("The server encountered an internal error and was unable to complete your request. Either the server is "
       "overloaded or there is an error in the application."),
    N_("Service Unavailable"), N_("Service unavailable"), N_("Insufficient storage"), N_("Internal error"),
    N_("Bad request"), N_("Not found"), N_("Not acceptable"), N_("Conflict"), N_("Payload too large"),
    N_("Unsupported media type"),
)


def _render(status: int, title: str, message: str):
    path = request.path
    if path.startswith("/api/"):
        return jsonify({"error": title, "status": status, "message": message}), status
    if path.startswith("/taxii2"):
        return taxii_error(status, title, message)
    try:
        # Messages raised with gettext are already in the reader's language; these are Werkzeug's
        # and the error classes' own (PAGE_TEXTS).
        return render_template("error.html", status=status, title=gettext(title), message=gettext(message)), status
    except Exception:  # template missing or broken: still answer
        return f"{status} {title}: {message}", status, {"Content-Type": "text/plain; charset=utf-8"}


def with_exception_headers(response, exc: HTTPException):
    """Keep the headers an HTTP error carries besides its own page: Allow on a 405 (RFC 9110
    15.5.6), Retry-After, WWW-Authenticate."""
    response = make_response(response)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def register(app: Flask) -> None:
    @app.errorhandler(CertShareError)
    def _service_error(exc: CertShareError):
        return _render(exc.status, exc.title, exc.message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            return _render(413, "Payload too large", gettext("request body exceeds the limit of %(limit)s bytes",
                                                             limit=limit))
        return with_exception_headers(_render(exc.code or 500, exc.name, exc.description or exc.name), exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, "Internal error", InternalServerError.description)

    register_database_errors(app, _unexpected)


def register_database_errors(app: Flask, otherwise) -> None:
    """503 while the database is unreachable or busy, 507 while it is out of space; any other
    database error goes to ``otherwise`` (a 500). The request's transaction is rolled back
    first, so nothing of it stays half-written and the session can read again."""

    @app.errorhandler(SQLAlchemyError)
    def _database(exc: SQLAlchemyError):
        failure = storage_failure(exc)
        if failure is None:
            return otherwise(exc)
        try:
            db.session.rollback()
        except SQLAlchemyError:  # the connection is gone: the pool has already dropped it
            pass
        app.logger.warning("database %s on %s %s: %s", failure, request.method, request.path,
                           str(exc).splitlines()[0])
        if failure == "full":
            return _render(507, "Insufficient storage",
                           gettext("the server's database is out of disk space; nothing from this request was "
                                   "stored. Try again once an administrator has freed space."))
        response = make_response(_render(
            503, "Service unavailable",
            gettext("the database could not be reached or was busy; nothing from this request was stored "
                    "half-way. Retry in %(seconds)s seconds; a report sent again with the same "
                    "external_id is filed once.", seconds=RETRY_AFTER_SECONDS)))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
