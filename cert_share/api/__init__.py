"""JSON API under /api/v1 (bearer tokens; marshmallow schemas; OpenAPI at /api/v1/openapi.json)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from ..auth.rate_limits import limit_per_token
from ..auth.tokens import request_caller
from ..errors import CertShareError
from ..extensions import csrf
from ..http_errors import with_exception_headers
from ..stix.card_redaction import redact

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

PUBLIC_ENDPOINTS = {"api.openapi"}
limit_per_token(bp, "API_RATE_LIMIT", allow_basic=False)


@bp.before_request
def _authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    g.actor = request_caller(allow_basic=False)
    return None


@bp.errorhandler(CertShareError)
def _service_error(exc: CertShareError):
    response = jsonify(redact(exc.to_dict()))  # an error body never repeats a full card number
    response.status_code = exc.status
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="cert-share"'
    return response


@bp.errorhandler(ValidationError)
def _validation_error(exc: ValidationError):
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    # marshmallow's messages may quote the input, and unknown field names are keys: an error
    # body never repeats a full card number, wherever it was sent.
    messages = redact(messages)
    fields = ", ".join(_flatten(messages)) or "request"
    body = {"error": "Bad request", "status": 400, "message": f"invalid input in: {fields}", "errors": messages}
    return jsonify(body), 400


def _flatten(messages, prefix="") -> list[str]:
    out = []
    for key, value in messages.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.extend(_flatten(value, path))
        else:
            out.append(path)
    return out


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    assert exc.code is not None  # Flask hands an exception without a code back without calling handlers
    response = jsonify({"error": exc.name, "status": exc.code, "message": exc.description})
    response.status_code = exc.code
    return with_exception_headers(response, exc)


# The route modules add their routes to bp when imported: after bp exists, hence E402.
from . import (  # noqa: E402,F401
    cooperation,
    exercise_reports,
    exercises,
    incidents,
    observables,
    openapi,
    warnings,
    workspace,
)
