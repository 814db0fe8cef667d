"""App-wide error rendering: JSON on /api, TAXII error resources on /taxii2, pages elsewhere.

Blueprints handle their own errors first; this catches what reaches the app (404 on unknown
URLs, 405, 413 raised by Werkzeug before any view runs) and anything unexpected, which is
logged and answered without a stack trace.
"""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from .errors import CertShareError


def _render(status: int, title: str, message: str):
    path = request.path
    if path.startswith("/api/"):
        return jsonify({"error": title, "status": status, "message": message}), status
    if path.startswith("/taxii2"):
        from .taxii import error_response  # the one renderer of TAXII error resources

        return error_response(status, title, message)
    try:
        return render_template("error.html", status=status, title=title, message=message), status
    except Exception:  # template missing or broken: still answer
        return f"{status} {title}: {message}", status, {"Content-Type": "text/plain; charset=utf-8"}


def register(app: Flask) -> None:
    @app.errorhandler(CertShareError)
    def _service_error(exc: CertShareError):
        return _render(exc.status, exc.title, exc.message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return _render(413, "Payload too large", f"request body exceeds the limit of {limit} bytes")
        return _render(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, "Internal error", InternalServerError.description)
