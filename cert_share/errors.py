"""Exceptions that carry their HTTP status.

    CertShareError            500 (never raised on purpose for bad input)
    ├── InputError            400  what is wrong, and where (``field``/``errors``)
    ├── AuthenticationFailed  401
    ├── PermissionDenied      403
    ├── NotFound              404
    ├── Conflict              409
    ├── NotAcceptable         406
    ├── PayloadTooLarge       413
    └── UnsupportedMediaType  415

Services raise these; each blueprint renders them in its own dialect (JSON for the API,
TAXII error resources for TAXII, flash messages for the web).
"""
from __future__ import annotations


class CertShareError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, message: str = "", *, errors: dict | None = None, field: str | None = None):
        super().__init__(message or self.title)
        self.message = message or self.title
        self.errors = errors or ({field: [message]} if field else {})
        self.field = field

    def to_dict(self) -> dict:
        body = {"error": self.title, "message": self.message, "status": self.status}
        if self.errors:
            body["errors"] = self.errors
        return body


class InputError(CertShareError):
    status = 400
    title = "Bad request"


class AuthenticationFailed(CertShareError):
    status = 401
    title = "Unauthorized"


class PermissionDenied(CertShareError):
    status = 403
    title = "Forbidden"


class NotFound(CertShareError):
    status = 404
    title = "Not found"


class NotAcceptable(CertShareError):
    status = 406
    title = "Not acceptable"


class Conflict(CertShareError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(CertShareError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(CertShareError):
    status = 415
    title = "Unsupported media type"
