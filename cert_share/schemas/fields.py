"""Field types shared by the schemas: clean text, ISO 8601 timestamps, bounded lists.

Each field that checks more than its type says so in ``openapi_properties()``, which the OpenAPI
document (api/openapi.py) copies: the document states what the field enforces, from one place.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from flask_babel import gettext
from marshmallow import ValidationError, fields, validate

from ..clock import iso, parse_iso, utcnow
from ..vocab import N_

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
            raise ValidationError(gettext("contains NUL or other control characters"))
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
            raise ValidationError(gettext("must be a string"))
        text = clean_text(value, multiline=self.multiline)
        if not text and not self.allow_blank:
            raise ValidationError(gettext("must not be blank"))
        if len(text) > self.max_length:
            raise ValidationError(gettext("must be at most %(max_length)s characters long", max_length=self.max_length))
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
            raise ValidationError(gettext("must not lie in the future"))
        return parsed


class BoundedList(fields.List):
    """A list whose length is checked before its items: validating 100,000 items only to refuse
    the list for its length cost a worker seconds."""

    def __init__(self, cls_or_instance, *, max_length: int, **kwargs):
        super().__init__(cls_or_instance, validate=validate.Length(max=max_length), **kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (list, tuple)) and len(value) > self.max_length:
            raise ValidationError(gettext("at most %(max_length)s items, not %(count)s",
                                          max_length=self.max_length, count=len(value)))
        return super()._deserialize(value, attr, data, **kwargs)


def choice_message(values: Sequence[str], label: Callable[[str], str]) -> str:
    """The words for a refused choice, naming the choices as the form shows them:
    "choose one of: Incident notification, Intermediate report, Final report" (labels are
    translated: the vocabulary's labels are marked with N_ where they are defined)."""
    return gettext("choose one of: %(choices)s", choices=", ".join(gettext(label(value)) for value in values))


class Choice(validate.OneOf):
    """``validate.OneOf`` whose refusal is worded when it refuses, in the reader's language (the
    API's is English): ``words(value)`` gives it."""

    def __init__(self, choices: Sequence[str], words: Callable[[object], str], **kwargs):
        super().__init__(choices, **kwargs)
        self.words = words

    def _format_error(self, value) -> str:
        return self.words(value)


class Bounds(validate.Range):
    """``validate.Range`` whose refusal (``words()``) is worded when it refuses."""

    def __init__(self, *, words: Callable[[], str], **kwargs):
        super().__init__(**kwargs)
        self.words = words

    def _format_error(self, value, message: str) -> str:
        return self.words()


def one_of(values: Sequence[str], labels: Mapping[str, str]) -> validate.OneOf:
    """A choice among machine ``values`` (what the API takes and stores), refused in the labels a
    person reads on the form."""
    return Choice(values, lambda value: choice_message(values, lambda item: labels.get(item, item)))


# marshmallow's own messages, as the web forms show them translated (``translate_schema_message``);
# the API answers them as marshmallow words them.
SCHEMA_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Not a valid boolean."),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Not a valid email address."),
    N_("Not a valid URL."),
    N_("Shorter than minimum length %(min)s."),
    N_("Longer than maximum length %(max)s."),
    N_("Length must be between %(min)s and %(max)s."),
    N_("Length must be %(equal)s."),
    N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than or equal to %(min)s."),
    N_("Must be less than or equal to %(max)s."),
    N_("Must be one of: %(choices)s."),
)
_FIXED = frozenset(message for message in SCHEMA_MESSAGES if "%(" not in message)
_TEMPLATES = tuple(
    (message, re.compile("".join(f"(?P<{part[2:-2]}>.+?)" if part.startswith("%(") else re.escape(part)
                                 for part in re.split(r"(%\(\w+\)s)", message)) + r"\Z"))
    for message in SCHEMA_MESSAGES if "%(" in message)


def translate_schema_message(message: str) -> str:
    """One of marshmallow's own messages (``SCHEMA_MESSAGES``) in the current language; any other
    message (the project's own, already worded in it) as it is."""
    if message in _FIXED:
        return gettext(message)
    for msgid, pattern in _TEMPLATES:
        match = pattern.match(message)
        if match:
            return gettext(msgid, **match.groupdict())
    return message
