"""The world the cooperation tests share, as plain functions (their fixtures stay in their own
modules and in conftest): the CERT with a staff member, a bank member with an analyst, a partner
CERT abroad, a member's report, requests opened from it, and what a partner CERT's server pushes
into our intake (its request, acknowledgement or answer notes).

Functions named ``*_in_app`` are called inside an app context; the others open their own."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select

from cert_share.actor import CLI, actor_for_user
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import CooperationRequest, Incident, Organization, PartnerDelivery, User
from cert_share.schemas.incident import IncidentCreateSchema
from cert_share.services import cooperation, intake
from cert_share.services.cooperation import RequestInput
from cert_share.stix import cooperation as stix_coop
from cert_share.stix import markings
from cert_share.store.collections import intake_collection_id
from tests.conftest import auth

PARTNER_AUTHOR = "identity--5b0c6c61-0a6d-4f47-8d5e-2a3a1c8a4f11"
PARTNER_INCIDENT = "incident--6a3f0b7e-8f43-4bd4-9d57-0f3b5e0b4d11"
PARTNER_CONTACT = "duty@cert-abroad.example"
ASK = "Who hosts 203.0.113.9?"
TAXII_MEDIA = "application/taxii+json;version=2.1"


def partner_cert(factory, name: str = "CERT Abroad", *, country: str = "FI", contact: str | None = PARTNER_CONTACT,
                 taxii_url: str | None = None):
    """A partner CERT abroad, reached over TAXII when ``taxii_url`` is given, else by its contact."""
    partner = factory.org(name, sector="government-national", kind="partner", country=country,
                          **({"contact_email": contact} if contact else {}))
    if taxii_url:
        set_taxii(factory.app, partner.id, taxii_url)
    return partner


def set_taxii(app, org_id: int, url: str, username_env: str | None = None, password_env: str | None = None) -> None:
    """Where push-partners posts to a partner (set on the row, as the tests of partners.py check the rules)."""
    with app.app_context():
        org = db.session.get(Organization, org_id)
        org.taxii_url = url
        if username_env or password_env:
            org.taxii_username_env, org.taxii_password_env = username_env, password_env
        db.session.commit()


def world(factory, *, contact: str | None = PARTNER_CONTACT, taxii_url: str | None = None,
          staff_email: str | None = None, analyst_email: str | None = None) -> dict:
    """The CERT and its analyst (``staff``), Bank One (VN) and its analyst, and CERT Abroad (FI)."""
    cert = factory.cert()
    bank = factory.org("Bank One", country="VN")
    partner = partner_cert(factory, contact=contact, taxii_url=taxii_url)
    staff = factory.user(cert, "cert-analyst", email=staff_email)
    analyst = factory.user(bank, "analyst", email=analyst_email)
    return {"cert": cert, "bank": bank, "partner": partner, "staff": staff, "analyst": analyst}


def file_report_in_app(org_id: int, *, by: int | None = None, tlp: str = "amber",
                       title: str = "Mule accounts phishing", description: str | None = None,
                       observables: list[dict] | None = None, share_reporter: bool | None = None,
                       detected_ago: timedelta = timedelta(hours=1)) -> Incident:
    """A member's report, stored and committed as the API stores it; ``by`` the user filing it (else the CLI)."""
    data: dict = {"title": title, "classification": "fraud/phishing", "severity": "high", "tlp": tlp,
                  "detected_at": (utcnow() - detected_ago).isoformat(),
                  "observables": [{"type": "ipv4-addr", "value": "203.0.113.9"}] if observables is None
                  else observables}
    if description is not None:
        data["description"] = description
    if share_reporter is not None:
        data["share_reporter"] = share_reporter
    actor = actor_for_user(db.session.get(User, by)) if by else CLI
    incident, _ = intake.report_incident(db.session, org=db.session.get(Organization, org_id),
                                         data=IncidentCreateSchema().load(json.loads(json.dumps(data))),
                                         actor=actor, source="api")
    return incident


def file_report(app, org_id: int, **kw) -> int:
    """``file_report_in_app`` in its own app context; the report's id."""
    with app.app_context():
        return file_report_in_app(org_id, **kw).id


def open_requests_in_app(staff_id: int, incident_id: int, partners: list[str], *, kind: str = "information",
                         message: str = ASK, due_at: datetime | None = None, tlp: str = "amber",
                         confirm_strict: bool = False, now: datetime | None = None) -> list[CooperationRequest]:
    """Requests a CERT staff member opens from a case, one per partner (due in two days unless said)."""
    data = RequestInput(partners=partners, kind=kind, message=message,
                        due_at=due_at if due_at is not None else utcnow() + timedelta(days=2), tlp=tlp,
                        confirm_strict=confirm_strict)
    return cooperation.open_requests(db.session, actor_for_user(db.session.get(User, staff_id)),
                                     db.session.get(Incident, incident_id), data,
                                     **({"now": now} if now is not None else {}))


def delivery_in_app(request_id: int, purpose: str = "request") -> PartnerDelivery:
    return db.session.execute(select(PartnerDelivery).where(PartnerDelivery.request_id == request_id,
                                                            PartnerDelivery.purpose == purpose)).scalar_one()


def kill_delivery(app, request_id: int, purpose: str, error: str, attempts: int | None = None) -> None:
    """What push-partners records when a delivery fails for good."""
    with app.app_context():
        delivery = delivery_in_app(request_id, purpose)
        delivery.state = "dead"
        if attempts is not None:
            delivery.attempts, delivery.last_error = attempts, error
        cooperation.delivery_failed(db.session, delivery, now=utcnow(), error=error)
        db.session.commit()


# ---- what a partner CERT's server pushes ----------------------------------------------------------

def partner_incident(tlp: str = "green", incident_id: str = PARTNER_INCIDENT, **extra) -> dict:
    """The partner's incident a request of its is about."""
    return {"type": "incident", "spec_version": "2.1", "id": incident_id,
            "created": "2026-11-29T08:00:00.000Z", "modified": "2026-11-29T08:00:00.000Z",
            "name": "Botnet C2 in your country", "object_marking_refs": [markings.marking_id(tlp)], **extra}


def partner_request(*, kind: str = "assistance", message: str = "Sinkhole bad.example",
                    due_in: timedelta = timedelta(days=1), due_at: datetime | None = None, tlp: str = "green",
                    incident_stix_id: str = PARTNER_INCIDENT, country: str = "FI", title: str = "x",
                    created: datetime | None = None) -> dict:
    """A partner's request note, as its cert-share builds it."""
    now = created or utcnow()
    return stix_coop.request_note(note_id=stix_coop.new_note_id(), incident_stix_id=incident_stix_id,
                                  author_ref=PARTNER_AUTHOR, kind=kind, message=message,
                                  due_at=due_at if due_at is not None else now + due_in, tlp=tlp,
                                  requesting_country=country, title=title, created=now)


def partner_reply(purpose: str, request_ref: str, tlp: str = "amber", message: str = "Done.",
                  created: datetime | None = None) -> dict:
    """The partner's acknowledgement or answer of one of our requests."""
    return stix_coop.reply_note(purpose=purpose, request_stix_id=request_ref, message=message,
                                author_ref=PARTNER_AUTHOR, tlp=tlp, created=created or utcnow())


def push_to_intake(client, token: str, objects: list[dict]) -> dict:
    """What a partner CERT's server does: post objects into our intake collection (202); the status."""
    with client.application.app_context():
        collection_id = intake_collection_id(db.session)
    response = client.post(f"/taxii2/api/collections/{collection_id}/objects/", data=json.dumps({"objects": objects}),
                           headers={**auth(token), "Content-Type": TAXII_MEDIA, "Accept": TAXII_MEDIA})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def request_id_of(app, note: dict) -> int:
    """Our id of the request a partner's note became."""
    with app.app_context():
        return db.session.execute(select(CooperationRequest.id).where(
            CooperationRequest.stix_id == note["id"])).scalar_one()
