"""TAXII 2.1 server blueprint under /taxii2 (OASIS TAXII Version 2.1, section numbers cited
in each view).

Every request: authenticate from the Authorization header only (Basic: organization slug and
API token; or Bearer token) — the web UI's session cookie is never consulted, and the blueprint
is CSRF-exempt because it accepts no cookie-borne credentials; check the Accept header (406)
and, for POST, Content-Type (415) and size (413). Every error is a TAXII error resource.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import HTTPException

from ..auth.rate_limits import limit_per_token
from ..auth.tokens import request_caller
from ..database import close_request_connection
from ..errors import CertShareError, NotAcceptable, PayloadTooLarge, UnsupportedMediaType
from ..extensions import csrf
from ..http_errors import TAXII_MEDIA_TYPE, taxii_error, with_exception_headers

API_ROOT = "api"

bp = Blueprint("taxii", __name__, url_prefix="/taxii2")
csrf.exempt(bp)
# Read requests do their SELECTs on one connection of the request (database.request_connection).
bp.teardown_app_request(close_request_connection)
limit_per_token(bp, "TAXII_RATE_LIMIT", allow_basic=True)


def _media_type_ok(value: str) -> bool:
    """application/taxii+json with version 2.1 or no version (TAXII 2.1 section 1.6.8)."""
    main, *params = [part.strip() for part in value.split(";")]
    if main.lower() != "application/taxii+json":
        return False
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() == "version" and val.strip().strip('"') != "2.1":
            return False
    return True


def _accept_ok(header: str) -> bool:
    if not header.strip():
        return True
    for item in header.split(","):
        main = item.split(";")[0].strip().lower()
        if main in {"*/*", "application/*"} or _media_type_ok(item):
            q = [p.split("=", 1)[1] for p in item.split(";")[1:] if p.strip().startswith("q=")]
            if not q or q[0].strip() not in {"0", "0.0", "0.00", "0.000"}:
                return True
    return False


# Answers by Accept header: a member's client sends the same one on every poll. Bounded, as the
# header is the client's to write: past this many, the others are worked out each time.
_ACCEPT_ANSWERS: dict[str, bool] = {}
_MAX_ACCEPT_ANSWERS = 256


def _accepted(header: str) -> bool:
    answer = _ACCEPT_ANSWERS.get(header)
    if answer is None:
        answer = _accept_ok(header)
        if len(_ACCEPT_ANSWERS) < _MAX_ACCEPT_ANSWERS:
            _ACCEPT_ANSWERS[header] = answer
    return answer


@bp.before_request
def _check_request():
    g.actor = request_caller(allow_basic=True)
    if not _accepted(request.headers.get("Accept", "")):
        raise NotAcceptable(f"this server only serves {TAXII_MEDIA_TYPE}")
    if request.method == "POST":
        limit = current_app.config["TAXII_MAX_CONTENT_LENGTH"]
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge(f"request body exceeds max_content_length ({limit} bytes)")
        if not _media_type_ok(request.headers.get("Content-Type", "")):
            raise UnsupportedMediaType(f"Content-Type must be {TAXII_MEDIA_TYPE}")


@bp.errorhandler(CertShareError)
def _service_error(exc: CertShareError):
    return taxii_error(exc.status, exc.title, exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 413:
        limit = current_app.config["TAXII_MAX_CONTENT_LENGTH"]
        return taxii_error(413, "Payload too large", f"request body exceeds max_content_length ({limit} bytes)")
    return with_exception_headers(taxii_error(exc.code or 500, exc.name, exc.description or exc.name), exc)


from . import views  # noqa: E402,F401  (routes register on import)
