"""Field types shared by the schemas: clean text, ISO 8601 timestamps, bounded lists.

Each field that checks more than its type says so in ``openapi_properties()``, which the OpenAPI
document (api/openapi.py) copies: the document states what the field enforces, from one place.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from marshmallow import ValidationError, fields, validate

from ..clock import iso, parse_iso, utcnow

# Clocks of reporting systems drift; "in the future" means beyond this.
CLOCK_SKEW = timedelta(minutes=5)
_ALLOWED_CONTROL = {"\n", "\r", "\t"}
# The control characters (Unicode category Cc) refused, as a JSON Schema pattern.
_REFUSED = {False: "\\u0000-\\u001f\\u007f-\\u009f",
            True: "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"}


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

    def openapi_properties(self) -> dict:
        """Length after stripping and NFC normalisation; control characters other than line breaks
        and tabs (in multi-line text) are refused; a non-blank text needs one visible character."""
        refused = _REFUSED[self.multiline]
        pattern = f"^[^{refused}]*$" if self.allow_blank else f"^[^{refused}]*[^\\s{refused}][^{refused}]*$"
        properties = {"type": "string", "maxLength": self.max_length, "pattern": pattern}
        if not self.allow_blank:
            properties["minLength"] = 1
        return properties


class Timestamp(fields.Field):
    """ISO 8601 in, aware UTC datetime out; optionally refuses the future."""

    def __init__(self, *, not_future: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.not_future = not_future

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)

    def openapi_properties(self) -> dict:
        properties = {"type": "string", "format": "date-time"}
        if self.not_future:
            properties["description"] = "not later than the server's clock plus five minutes"
        return properties

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            parsed = parse_iso(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if self.not_future and parsed > utcnow() + CLOCK_SKEW:
            raise ValidationError("must not lie in the future")
        return parsed


class BoundedList(fields.List):
    """A list whose length is checked before its items: validating 100,000 items only to refuse
    the list for its length cost a worker seconds."""

    def __init__(self, cls_or_instance, *, max_length: int, **kwargs):
        super().__init__(cls_or_instance, validate=validate.Length(max=max_length), **kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (list, tuple)) and len(value) > self.max_length:
            raise ValidationError(f"at most {self.max_length} items, not {len(value)}")
        return super()._deserialize(value, attr, data, **kwargs)


def choice_message(values: Sequence[str], label: Callable[[str], str]) -> str:
    """The words for a refused choice, naming the choices as the form shows them:
    "choose one of: Incident notification, Intermediate report, Final report"."""
    return "choose one of: " + ", ".join(label(value) for value in values)


def one_of(values: Sequence[str], labels: Mapping[str, str]) -> validate.OneOf:
    """A choice among machine ``values`` (what the API takes and stores), refused in the labels a
    person reads on the form."""
    return validate.OneOf(values, error=choice_message(values, lambda value: labels.get(value, value)))
