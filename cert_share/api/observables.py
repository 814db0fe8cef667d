"""/api/v1/observables: what the platform holds about a value, in the groups the /search page
shows (services/observable_search.py): the reports the caller may read, the warnings it may read,
and for CERT staff who reported it. The field names are a contract (documented below in the
OpenAPI document): tools built on them must keep working.
"""
from __future__ import annotations

from flask import g, jsonify, request
from marshmallow import Schema, fields

from .. import policy
from ..errors import InputError
from ..extensions import db
from ..limits import MAX_SEARCH_TEXT, SEARCH_GROUP_ROWS
from ..schemas.fields import Timestamp
from ..services import observable_search
from . import bp
from .warnings import StaffWarningSchema, WarningSchema


class QuerySchema(Schema):
    """What the value was taken for."""

    text = fields.String(metadata={"description": "the value as sent"})
    kind = fields.String(metadata={"description": "what it was taken for",
                                   "enum": list(observable_search.KINDS)})
    value = fields.String(metadata={"description": "what was searched: the normalized value (a CIDR's network, "
                                                   "a domain's A-label form), or the words for kind text"})
    observable_type = fields.String(allow_none=True, metadata={
        "description": "STIX observable type searched (ipv4-addr, domain-name, file:sha256, ...); null for text"})


class MatchedReportSchema(Schema):
    """A report that carries the value (or, for kind text, whose title holds the words)."""

    id = fields.Integer()
    title = fields.String()
    organization = fields.Function(lambda inc: inc.organization.slug)
    classification = fields.String()
    severity = fields.String()
    tlp = fields.String()
    status = fields.String()
    detected_at = Timestamp()
    created_at = Timestamp()
    # Set by the view from the search's answer (not an attribute of the report); declared here so
    # the document's MatchedReport, which allows no other property, names it.
    matched = fields.List(fields.String(), metadata={
        "description": "the report's observables the search found (display form, at most 5)"})


class SightingsSchema(Schema):
    """CERT staff only: one organization's reports of the value."""

    organization = fields.String(attribute="slug")
    name = fields.String()
    reports = fields.Integer(metadata={"description": "reports of this organization carrying the value"})
    sightings = fields.Integer(metadata={"description": "the values found in those reports, each counted once per "
                                                        "report: equal to reports for one address or hash; more "
                                                        "when a range or a domain finds several values in a report"})


_query_out = QuerySchema()
_report_out = MatchedReportSchema()
_sightings_out = SightingsSchema()
_member_warning = WarningSchema()
_staff_warning = StaffWarningSchema()


def _parse():
    value, cidr = request.args.get("value"), request.args.get("cidr")
    if (value is None) == (cidr is None):
        raise InputError("give either value (an address, domain, URL, e-mail address, hash, AS number, bank account, "
                         "phone number, wallet, card, keyed hash or words) "
                         "or cidr (a range such as 192.0.2.0/24)", field="value")
    if cidr is not None:
        return observable_search.parse_cidr(cidr, field_name="cidr")
    return observable_search.parse_query(value, field_name="value")


@bp.get("/observables")
def lookup_observable():
    query = _parse()
    result = observable_search.search(db.session, g.actor, query)
    staff = policy.is_cert_staff(g.actor)
    warning_out = _staff_warning if staff else _member_warning
    body = {
        "query": _query_out.dump(query),
        "reports": {"items": [dict(_report_out.dump(i), matched=result.matched.get(i.id, []))
                              for i in result.reports], "more": result.reports_more},
        "warnings": {"items": [warning_out.dump(w) for w in result.warnings], "more": result.warnings_more},
    }
    if staff:
        body["sightings"] = {"items": [_sightings_out.dump(s) for s in result.sightings or []],
                             "more": result.sightings_more}
    return jsonify(body)


def _group(item: dict, description: str) -> dict:
    return {"type": "object", "description": description, "required": ["items", "more"], "properties": {
        "items": {"type": "array", "items": item, "maxItems": SEARCH_GROUP_ROWS},
        "more": {"type": "boolean", "description": f"more than the {SEARCH_GROUP_ROWS} listed match"}}}


def openapi_paths(spec) -> None:
    """Document the lookup in the API's OpenAPI document (called by openapi.build_spec)."""
    spec.components.schema("ObservableQuery", schema=QuerySchema)
    spec.components.schema("MatchedReport", schema=MatchedReportSchema)
    spec.components.schema("Sightings", schema=SightingsSchema)
    report = {"$ref": "#/components/schemas/MatchedReport"}
    answer = {"type": "object", "required": ["query", "reports", "warnings"], "properties": {
        "query": {"$ref": "#/components/schemas/ObservableQuery"},
        "reports": _group(report, "reports the caller may read (members: their organization's; CERT staff: all "
                                  "but the TLP:RED ones they are not named on), newest first"),
        "warnings": _group({"$ref": "#/components/schemas/Warning"},
                           "early warnings on the value the caller may read, newest first (members get the "
                           "fields of GET /warnings/{id}; CERT staff the state fields too)"),
        "sightings": _group({"$ref": "#/components/schemas/Sightings"},
                            "CERT staff only (absent for everyone else): which organizations reported it, most "
                            "sightings first, counting only reports the caller may read")}}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    text = {"type": "string", "minLength": 1, "maxLength": MAX_SEARCH_TEXT}
    spec.path(path="/api/v1/observables", operations={"get": {
        "summary": "Look a value up: the reports and warnings that hold it (give value or cidr)",
        "description": "value: an IP address, CIDR range, domain (finds its subdomains and the URLs and e-mail "
                       "addresses on them), URL, e-mail address, file hash, AS number (AS64500) or words (report "
                       "and warning titles); defanged input (hxxp, [.]) is accepted. cidr: a range; every single "
                       "address inside it is found. Ranges wider than /16 (IPv4) or /32 (IPv6; /112 over the "
                       "IPv4-mapped ::ffff:0:0/96) are refused, and so is a public suffix (co.uk). Fraud "
                       "identifiers: a bank account (IBAN, or BIC/account), a phone number (E.164, or national "
                       "with PHONE_DEFAULT_REGION), a crypto-currency wallet, a payment card as BIN and last "
                       "four (411111******1111; a full card number is refused with 400 and never repeated). "
                       "A member holding a phone number, bank account or card finds the warnings on it that "
                       "reached it: they carry the keyed hash (observable.value and value_hmac), not the value, "
                       "unless the CERT published it in clear. value may also be such a keyed hash, "
                       "hmac-sha256:<key id>:<64 hex> = HMAC-SHA256(key, '<type>:<normalized value>') under "
                       "any key the CERT accepts now (docs/observable-hashing.md): it finds the same warnings "
                       "(and the caller's own reports that raised them), and query repeats the hash, never "
                       "the value. The answer is the same whether or not a value appears in what the caller "
                       "may not read: a value reported only by others, or in warnings not sent to the caller, "
                       "answers exactly as a value nobody reported.",
        "security": [{"bearer": []}],
        "parameters": [{"name": "value", "in": "query", "schema": text},
                       {"name": "cidr", "in": "query", "schema": text}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": answer}}},
                      "400": {"description": "Neither or both parameters, or a value that cannot be searched "
                                             "(a CIDR range too wide, a public suffix, a full card number, a "
                                             "malformed keyed hash or one under a key no longer accepted)",
                              "content": error},
                      "401": {"description": "Missing or bad token", "content": error},
                      # maxLength counts characters; the limit counts the URL-encoded bytes.
                      "414": {"description": "Query string too long (over MAX_QUERY_STRING_LENGTH bytes, once "
                                             "URL-encoded)", "content": error}}}})
