"""App-wide error rendering: JSON on /api, TAXII error resources on /taxii2, pages elsewhere.

Blueprints handle their own errors first; this catches what reaches the app (404 on unknown
URLs, 405, 413 raised by Werkzeug before any view runs) and anything unexpected, which is
logged and answered without a stack trace. A database that is out of reach or out of space is
the server's state, not a bug: 503 with Retry-After, or 507, saying so.
"""
from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from .database import storage_failure
from .errors import CertShareError
from .extensions import db

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


def _render(status: int, title: str, message: str):
    path = request.path
    if path.startswith("/api/"):
        return jsonify({"error": title, "status": status, "message": message}), status
    if path.startswith("/taxii2"):
        return taxii_error(status, title, message)
    try:
        return render_template("error.html", status=status, title=title, message=message), status
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
            return _render(413, "Payload too large", f"request body exceeds the limit of {limit} bytes")
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
                           "the server's database is out of disk space; nothing from this request was "
                           "stored. Try again once an administrator has freed space.")
        response = make_response(_render(
            503, "Service unavailable",
            "the database could not be reached or was busy; nothing from this request was stored "
            f"half-way. Retry in {RETRY_AFTER_SECONDS} seconds; a report sent again with the same "
            "external_id is filed once."))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
