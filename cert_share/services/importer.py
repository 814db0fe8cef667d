"""Import a STIX 2.1 bundle or a MISP event file as an organization's report(s).

The file is parsed into report drafts (``stix.parse`` for bundles, ``stix.misp`` for MISP; the
mapping rules live in those modules' docstrings), every draft is validated by
``IncidentCreateSchema`` exactly like an API body, and only then stored, each report through
``intake.report_incident(..., source="import")`` in its own transaction. So a file that is not
JSON, not a bundle or event, or not valid STIX stores nothing; a file of many reports never
leaves a report half-stored.

Large inputs: a report holds at most ``MAX_OBSERVABLES`` (10,000) observables, the same cap as
the API. A bigger event or indicator set is split into several reports titled "… (part i of
n)", each with its own external id, rather than raising the cap for imports: every consumer of a
report (web page, STIX export, TAXII) can then rely on one bound.

Drill data (an object carrying the exercise extension, ``stix.exercise.drill_objects``) is
never imported: a bundle holding any is refused whole, naming the object and saying where drill
reports go instead.

Re-importing a file is a no-op: external ids (MISP event uuid, STIX incident id, a digest of
loose indicators) make intake return the existing report.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from marshmallow import ValidationError

from ..actor import CLI, Actor
from ..database import DbSession
from ..errors import InputError
from ..limits import MAX_OBSERVABLES
from ..models import Incident, Organization
from ..schemas.incident import IncidentCreateSchema
from ..stix import misp
from ..stix import parse as stix_parse
from ..stix.card_redaction import redact_cards
from ..stix.drafts import ImportFormatError, ReportDraft, describe_invalid, describe_skipped
from ..vocab import tlp_label
from .intake import report_incident

MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass
class ImportedReport:
    incident: Incident
    created: bool
    draft: ReportDraft

    def summary(self) -> str:
        inc = self.incident
        if not self.created:
            return (f"Already imported as report #{inc.id} {inc.title!r} ({inc.stix_id}, external id "
                    f"{inc.external_id}); nothing stored.")
        line = (f"Imported report #{inc.id} {inc.title!r} ({inc.stix_id}): {len(self.draft.observables)} "
                f"observable(s), {tlp_label(inc.tlp)}, {inc.severity}, {inc.classification}")
        if self.draft.skipped:
            line += f"; skipped (no mapping): {describe_skipped(self.draft.skipped)}"
        if self.draft.invalid:
            line += f"; {len(self.draft.invalid)} invalid value(s) skipped: {describe_invalid(self.draft.invalid)}"
        return line + "."


@dataclass
class ImportResult:
    path: str
    format: str  # "stix" | "misp"
    organization: str
    reports: list[ImportedReport] = field(default_factory=list)

    @property
    def created(self) -> list[ImportedReport]:
        return [r for r in self.reports if r.created]

    def summary(self) -> str:
        lines = [r.summary() for r in self.reports]
        observables = sum(len(r.draft.observables) for r in self.created)
        lines.append(f"{os.path.basename(self.path)} ({self.format}) → {self.organization}: "
                     f"{len(self.created)} report(s) created, {len(self.reports) - len(self.created)} already "
                     f"present, {observables} observable(s) stored.")
        return "\n".join(lines)


def load_document(path: str) -> object:
    """The file's JSON, or InputError saying why not."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise InputError(f"{path}: file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; expected a STIX 2.1 bundle or a MISP event in JSON") from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); expected a STIX 2.1 bundle or a MISP event") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply") from None


@dataclass
class ParsedDocument:
    format: str  # "stix" | "misp"
    drafts: list[ReportDraft]
    drill: dict[str, str]  # drill (exercise) objects left out: id -> why (STIX only)


def parse_document(document: object, *, file_name: str) -> ParsedDocument:
    """The report drafts of a parsed file, with the drill objects left out of them named;
    InputError if it is neither format or invalid."""
    drill: dict[str, str] = {}
    try:
        if stix_parse.is_bundle(document):
            fmt = "stix"
            parsed = stix_parse.bundle_reports(document, file_name=file_name)
            drafts, drill = parsed.drafts, parsed.drill
            if not drafts and not drill:
                raise InputError(f"{file_name}: the bundle holds no incident and no indicator; nothing to import")
        elif misp.is_misp(document):
            # A MISP event has no STIX extension to carry: cert-share shares drills only as STIX.
            fmt, drafts = "misp", [misp.event_to_draft(event) for event in misp.events_of(document)]
        else:
            raise InputError(f"{file_name}: neither a STIX 2.1 bundle (\"type\": \"bundle\") nor a MISP event "
                             "({\"Event\": {...}} or {\"response\": [...]})")
    except ImportFormatError as exc:
        raise InputError(redact_cards(f"{file_name}: {exc}")) from None  # never quoting a full card number
    return ParsedDocument(fmt, [part for draft in drafts for part in draft.split(MAX_OBSERVABLES)], drill)


def drafts_of(document: object, *, file_name: str) -> tuple[str, list[ReportDraft]]:
    """(format, report drafts) of a parsed file; InputError if it is neither format or invalid, or
    if it holds drill data (the whole file is refused, as for any other bad report in it)."""
    parsed = parse_document(document, file_name=file_name)
    if parsed.drill:
        raise InputError(redact_cards(f"{file_name}: {stix_parse.describe_drill(parsed.drill)}; nothing imported"))
    return parsed.format, parsed.drafts


def validate(draft: ReportDraft) -> dict:
    """The draft as IncidentCreateSchema output, exactly as an API body would be loaded.

    The observables are already normalised by the same ``observables.normalize`` the schema's
    ObservableSchema calls (invalid ones were set aside by the parser), and ``split`` kept them
    under the schema's cap; loading them a second time would cost a third of a 10,000-indicator
    import, so the schema checks every other field and the observables are attached after.
    """
    if len(draft.observables) > MAX_OBSERVABLES:  # pragma: no cover - split() prevents it
        raise InputError(f"report {draft.title!r} has more than {MAX_OBSERVABLES} observables")
    try:
        data = IncidentCreateSchema().load(draft.api_body(observables=False))
    except ValidationError as exc:
        raise InputError(f"report {draft.title!r} is invalid: {_first_errors(exc.messages)}",
                         errors=exc.messages_dict) from None
    data["observables"] = list(draft.observables)
    return data


def import_file(session: DbSession, path: str, *, org: Organization,
                actor: Actor = CLI) -> ImportResult:
    """Import a STIX 2.1 bundle or MISP event file as ``org``'s report(s)."""
    document = load_document(path)
    file_name = os.path.basename(path)
    fmt, drafts = drafts_of(document, file_name=file_name)
    # Validate everything before storing anything: one bad report refuses the whole file.
    validated = [(draft, validate(draft)) for draft in drafts]
    result = ImportResult(path=path, format=fmt, organization=org.slug)
    for draft, data in validated:
        try:
            incident, created = report_incident(session, org=org, data=data, actor=actor, source="import")
        except Exception:
            session.rollback()
            raise
        result.reports.append(ImportedReport(incident, created, draft))
    return result


def _first_errors(messages: object, prefix: str = "") -> str:
    if isinstance(messages, dict):
        for key, value in messages.items():
            return _first_errors(value, f"{prefix}{key}.")
    if isinstance(messages, list) and messages:
        return _first_errors(messages[0], prefix) if isinstance(messages[0], (dict, list)) else \
            f"{prefix.rstrip('.')}: {messages[0]}"
    return f"{prefix.rstrip('.')}: {messages}"
