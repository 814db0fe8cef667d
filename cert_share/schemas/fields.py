"""Field types shared by the schemas: clean text and ISO 8601 timestamps."""
from __future__ import annotations

import unicodedata
from datetime import timedelta

from marshmallow import ValidationError, fields

from ..clock import iso, parse_iso, utcnow

# Clocks of reporting systems drift; "in the future" means beyond this.
CLOCK_SKEW = timedelta(minutes=5)
_ALLOWED_CONTROL = {"\n", "\r", "\t"}


def clean_text(value: str, *, multiline: bool) -> str:
    text = unicodedata.normalize("NFC", value)
    for ch in text:
        if unicodedata.category(ch) == "Cc" and not (multiline and ch in _ALLOWED_CONTROL):
            raise ValidationError("contains NUL or other control characters")
    return text.strip()


class Text(fields.String):
    """A string normalised to NFC, stripped, free of control characters, with a maximum length."""

    def __init__(self, *, max_length: int, multiline: bool = False, allow_blank: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.multiline = multiline
        self.allow_blank = allow_blank

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        text = clean_text(value, multiline=self.multiline)
        if not text and not self.allow_blank:
            raise ValidationError("must not be blank")
        if len(text) > self.max_length:
            raise ValidationError(f"must be at most {self.max_length} characters long")
        return text


class Timestamp(fields.Field):
    """ISO 8601 in, aware UTC datetime out; optionally refuses the future."""

    def __init__(self, *, not_future: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.not_future = not_future

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            parsed = parse_iso(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if self.not_future and parsed > utcnow() + CLOCK_SKEW:
            raise ValidationError("must not lie in the future")
        return parsed
