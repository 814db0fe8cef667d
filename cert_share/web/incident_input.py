"""From the report form to the API's input, and from the schema's errors back to the form.

The form is only a different way of typing the same report: its values become the dict the
JSON API receives, validated by the same ``IncidentCreateSchema``. Two things are particular
to the form: times are typed as wall-clock time in a chosen zone, and observables are pasted
one per line with their type recognised, so errors name the line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import gettext
from marshmallow import ValidationError

from ..limits import MAX_AFFECTED_SERVICES, MAX_DESCRIPTION, MAX_IMPACT, MAX_TITLE
from ..schemas.fields import translate_schema_message
from ..schemas.incident import IncidentCreateSchema
from ..stix import fraud
from ..stix.card_redaction import holds_card, redact_cards
from ..stix.observables import MAX_VALUE_LENGTH, Observable, ObservableError, normalize, recognize
from ..vocab import N_
from .timezones import to_iso, valid_zone

_schema = IncidentCreateSchema()
TIME_FIELDS = ("detected_at", "started_at", "classified_at")
TEXT_FIELDS = ("title", "description", "affected_services", "impact")
# What of a text field is shown again when the form comes back: the schema refuses more, and a
# request's megabytes are neither scanned for card numbers nor sent back.
_TEXT_LIMITS = {"title": MAX_TITLE, "description": MAX_DESCRIPTION, "affected_services": MAX_AFFECTED_SERVICES,
                "impact": MAX_IMPACT}
# The form's own messages are worded when shown (gettext), in the reader's language.
LONG_LINE_MESSAGE = N_("is longer than %(max)s characters, which no observable is; it is not shown again")
REQUIRED_MESSAGE = N_("This field is required.")
MAX_LINE_ERRORS = 20  # a pasted log file should not produce a page of thousands of messages
KINDS = N_("IP address or range, domain, URL, e-mail address, file hash, AS number, bank account (IBAN, or BIC and "
           "account number), phone number, crypto-currency wallet or payment card (first 6 and last 4 digits)")
# A full card number is never shown back: the line is re-rendered with its BIN and last 4 only.
CARD_LINE_MESSAGE = N_("%(refusal)s. The line now shows only those digits: check it before sending the form again")
# Only digits, grouped: too long for anything but a card or a phone number without its "+".
_LONG_NUMBER = re.compile(r"^\d(?:[\s.\-]?\d){11,18}$")
# "+84 12", "(+84) 912": a phone number, however wrong, gets the phone number's message.
_PHONE_LIKE = re.compile(r"^\(?\+[\d\s\-.()]+$")
# "411111******111": a masked card, however wrong, gets the card's message.
# ASCII digits only (str.isdigit also takes other scripts' digits and superscripts), bounded.
_FORM_INTEGER = re.compile(r"[0-9]{1,19}")
_MASKED_CARD_LIKE = re.compile(r"^\d[\d\s\-]*[*Xx•#…]+[\d*Xx•#…\s\-]*$")


@dataclass
class FormResult:
    data: dict | None = None  # IncidentCreateSchema output when valid
    errors: dict[str, list[str]] = field(default_factory=dict)  # form field name -> messages
    # The observables box as it may be shown again: full card numbers reduced to BIN + last 4.
    observables_text: str = ""
    # The text fields as they may be shown again: card numbers reduced to BIN + last 4, cut at
    # their limit.
    texts: dict[str, str] = field(default_factory=dict)


def _add(errors: dict[str, list[str]], name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def _schema_message(message: str) -> str:
    """A field's message from the schema, in the reader's language (marshmallow's own included);
    a missing field reads "This field is required."."""
    if message == "Missing data for required field.":
        return gettext(REQUIRED_MESSAGE)
    return translate_schema_message(message)


def _line(number: int | str, message: str) -> str:
    return gettext("line %(number)s: %(message)s", number=number, message=message)


def _long_line() -> str:
    return gettext(LONG_LINE_MESSAGE, max=MAX_VALUE_LENGTH)


def _card_line() -> str:
    return gettext(CARD_LINE_MESSAGE, refusal=gettext(fraud.FULL_CARD_REFUSAL))


def _flatten(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [m for item in value for m in _flatten(item)]
    if isinstance(value, dict):
        return [m for item in value.values() for m in _flatten(item)]
    return [str(value)]


def observable_lines(text: str) -> tuple[list[dict], list[int], list[str]]:
    """Recognise each non-blank line: ([{type, value}], line number of each, errors by line).

    No message ever repeats a full card number (the line is named by its number instead)."""
    items, line_numbers, errors = [], [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_VALUE_LENGTH:  # refused unread: no card scan of a megabyte line
            errors.append(_line(number, _long_line()))
            continue
        try:
            recognized = _recognize(line)
        except ObservableError as exc:
            errors.append(_line(number, _line_problem(line.strip(), exc)))
            continue
        if recognized.type in {"url", "email-addr", "domain-name"} and holds_card(line):
            errors.append(_line(number, _card_line()))  # e.g. a URL with a card number in it
            continue
        items.append({"type": recognized.type, "value": line.strip()})
        line_numbers.append(number)
    return items, line_numbers, errors


def _recognize(line: str) -> Observable:
    try:
        return recognize(line)
    except ObservableError:
        if _PHONE_LIKE.match(line.strip()):  # "(+84) 912 345 678": phonenumbers reads it
            try:
                return normalize("phone-number", line)
            except ObservableError:
                pass
        raise


def _line_problem(line: str, exc: ObservableError) -> str:
    if holds_card(line):
        return _card_line()
    if _LONG_NUMBER.match(line):
        digits = sum(ch.isdigit() for ch in line)
        return gettext("a %(digits)s-digit number is neither a phone number nor a card this form accepts: give a "
                       "phone number with its country code (+84 912 345 678) and a payment card as its first 6 and "
                       "last 4 digits (411111******1111)", digits=digits)
    guessed = fraud.guess(line)
    for type_, shape in (("phone-number", _PHONE_LIKE), ("payment-card", _MASKED_CARD_LIKE)):
        if guessed is None and shape.match(line):
            try:
                normalize(type_, line)
            except ObservableError as own_exc:
                return _subject(own_exc)
    if guessed is None and len(line.split()) > 1:
        # Prose, or two values on one line: the type guess means nothing. Values of the fraud
        # types are typed with spaces ("DE89 3704 …", "+84 912 345 678"): their own message stays.
        return redact_cards(gettext("cannot recognise %(line)r; expected one value per line (%(kinds)s)",
                                    line=line, kinds=gettext(KINDS)))
    return _subject(exc)


def _subject(exc: ObservableError) -> str:
    """The message, without a card number; those that leave the value unnamed ("is not a truncated
    card number …") get a subject."""
    message = redact_cards(str(exc))
    return gettext("this value %(problem)s", problem=message) if exc.unnamed else message


def load_report(form_data: dict) -> FormResult:
    """``form_data``: the form's values by field name (strings, lists, booleans)."""
    errors: dict[str, list[str]] = {}
    zone = form_data.get("timezone") or "UTC"
    if not valid_zone(zone):
        _add(errors, "timezone", gettext("unknown time zone %(zone)r", zone=zone))
        zone = "UTC"
    payload: dict = {name: form_data.get(name) or "" for name in TEXT_FIELDS}
    for name in ("classification", "severity", "tlp"):
        if form_data.get(name):
            payload[name] = form_data[name]
    for name in TIME_FIELDS:
        value = to_iso(form_data.get(name) or "", zone)
        if value is not None:
            payload[name] = value
    box = form_data.get("observables") or ""
    observables, line_numbers, line_errors = observable_lines(box)
    for message in line_errors[:MAX_LINE_ERRORS]:
        _add(errors, "observables", message)
    if len(line_errors) > MAX_LINE_ERRORS:
        _add(errors, "observables", gettext("… and %(count)s more lines that are not valid",
                                            count=len(line_errors) - MAX_LINE_ERRORS))
    payload["observables"] = observables
    payload["cross_border"] = list(form_data.get("cross_border") or [])
    if form_data.get("submission_id"):
        payload["external_id"] = form_data["submission_id"]
    payload.update(_exercise_fields(form_data))
    payload["personal_data"] = bool(form_data.get("personal_data"))
    payload["share_reporter"] = bool(form_data.get("share_reporter"))

    accepted = set(line_numbers)
    shown_again = "\n".join(line if number in accepted else "" if len(line) > MAX_VALUE_LENGTH else redact_cards(line)
                             for number, line in enumerate(box.splitlines(), start=1))
    texts = {name: redact_cards(payload[name][:_TEXT_LIMITS[name]]) if isinstance(payload[name], str) else ""
             for name in TEXT_FIELDS}
    try:
        data = _schema.load(payload)
    except ValidationError as exc:
        _map_schema_errors(exc.messages_dict, line_numbers, errors)
        return FormResult(errors=_redacted(errors), observables_text=shown_again, texts=texts)
    if errors:
        return FormResult(errors=_redacted(errors), observables_text=shown_again, texts=texts)
    return FormResult(data=data, observables_text=shown_again, texts=texts)


def _exercise_fields(form_data: dict) -> dict:
    """A drill's report: the exercise and inject chosen, as the API's integers. A value that is no
    number goes as sent, for the schema to refuse."""
    fields = {}
    for name in ("exercise_id", "exercise_inject"):
        value = form_data.get(name)
        if value:
            fields[name] = int(value.strip()) if isinstance(value, str) and _FORM_INTEGER.fullmatch(value.strip()) \
                else value
    return fields


def _redacted(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Every message without a full card number (the schema's own messages may quote input)."""
    return {name: [redact_cards(m) for m in messages] for name, messages in errors.items()}


def _map_schema_errors(messages: dict, line_numbers: list[int], errors: dict[str, list[str]]) -> None:
    for name, problem in messages.items():
        if name == "observables" and isinstance(problem, dict):
            for index, item_problem in sorted(problem.items()):
                line = line_numbers[index] if isinstance(index, int) and index < len(line_numbers) else "?"
                for message in _flatten(item_problem):
                    _add(errors, "observables", _line(line, translate_schema_message(message)))
            continue
        target = name if name != "_schema" else "form"
        for message in _flatten(problem):
            _add(errors, target, _schema_message(message))
