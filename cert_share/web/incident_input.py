"""From the report form to the API's input, and from the schema's errors back to the form.

The form is only a different way of typing the same report: its values become the dict the
JSON API receives, validated by the same ``IncidentCreateSchema``. Two things are particular
to the form: times are typed as wall-clock time in a chosen zone, and observables are pasted
one per line with their type recognised, so errors name the line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from marshmallow import ValidationError

from ..schemas.incident import IncidentCreateSchema
from ..stix.observables import ObservableError, recognize
from .timezones import to_iso, valid_zone

_schema = IncidentCreateSchema()
TIME_FIELDS = ("detected_at", "started_at", "classified_at")
TEXT_FIELDS = ("title", "description", "affected_services", "impact")
REQUIRED_MESSAGE = "This field is required."
MAX_LINE_ERRORS = 20  # a pasted log file should not produce a page of thousands of messages
KINDS = "IP address or range, domain, URL, e-mail address, file hash or AS number"


@dataclass
class FormResult:
    data: dict | None = None  # IncidentCreateSchema output when valid
    errors: dict[str, list[str]] = field(default_factory=dict)  # form field name -> messages


def _add(errors: dict[str, list[str]], name: str, message: str) -> None:
    if message == "Missing data for required field.":
        message = REQUIRED_MESSAGE
    errors.setdefault(name, []).append(message)


def _flatten(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [m for item in value for m in _flatten(item)]
    if isinstance(value, dict):
        return [m for item in value.values() for m in _flatten(item)]
    return [str(value)]


def observable_lines(text: str) -> tuple[list[dict], list[int], list[str]]:
    """Recognise each non-blank line: ([{type, value}], line number of each, errors by line)."""
    items, line_numbers, errors = [], [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            recognized = recognize(line)
        except ObservableError as exc:
            message = str(exc)
            if len(line.split()) > 1:  # prose, or two values on one line: the type guess means nothing
                message = f"cannot recognise {line.strip()!r}; expected one value per line ({KINDS})"
            errors.append(f"line {number}: {message}")
            continue
        items.append({"type": recognized.type, "value": line.strip()})
        line_numbers.append(number)
    return items, line_numbers, errors


def load_report(form_data: dict) -> FormResult:
    """``form_data``: the form's values by field name (strings, lists, booleans)."""
    errors: dict[str, list[str]] = {}
    zone = form_data.get("timezone") or "UTC"
    if not valid_zone(zone):
        _add(errors, "timezone", f"unknown time zone {zone!r}")
        zone = "UTC"
    payload: dict = {name: form_data.get(name) or "" for name in TEXT_FIELDS}
    for name in ("classification", "severity", "tlp"):
        if form_data.get(name):
            payload[name] = form_data[name]
    for name in TIME_FIELDS:
        value = to_iso(form_data.get(name) or "", zone)
        if value is not None:
            payload[name] = value
    observables, line_numbers, line_errors = observable_lines(form_data.get("observables") or "")
    for message in line_errors[:MAX_LINE_ERRORS]:
        _add(errors, "observables", message)
    if len(line_errors) > MAX_LINE_ERRORS:
        _add(errors, "observables", f"… and {len(line_errors) - MAX_LINE_ERRORS} more lines that are not valid")
    payload["observables"] = observables
    payload["cross_border"] = list(form_data.get("cross_border") or [])
    if form_data.get("submission_id"):
        payload["external_id"] = form_data["submission_id"]
    payload["personal_data"] = bool(form_data.get("personal_data"))
    payload["share_reporter"] = bool(form_data.get("share_reporter"))

    try:
        data = _schema.load(payload)
    except ValidationError as exc:
        _map_schema_errors(exc.messages_dict, line_numbers, errors)
        return FormResult(errors=errors)
    if errors:
        return FormResult(errors=errors)
    return FormResult(data=data)


def _map_schema_errors(messages: dict, line_numbers: list[int], errors: dict[str, list[str]]) -> None:
    for name, problem in messages.items():
        if name == "observables" and isinstance(problem, dict):
            for index, item_problem in sorted(problem.items()):
                line = line_numbers[index] if isinstance(index, int) and index < len(line_numbers) else "?"
                for message in _flatten(item_problem):
                    _add(errors, "observables", f"line {line}: {message}")
            continue
        target = name if name != "_schema" else "form"
        for message in _flatten(problem):
            _add(errors, target, message)
