"""A partner CERT without a TAXII collection gets our request (or our acknowledgement or answer to
its request) by e-mail to its 24/7 contact, with the delivery's STIX bundle attached, through the
outbox: the same retries, dead letters and signing as all mail, encrypted to the partner's
OpenPGP key (``Organization.pgp_key``) when its TLP asks for it.

A notice in the message's place (content withheld, a link to sign in) is no use to a foreign CERT,
which has no account here: a request by e-mail that would need encryption is refused when it is
opened unless the partner has a valid key (``mail_refusal``), and a key registered with
``cert-share partner key SLUG FILE`` or on /admin/partners (``register_partner_key``) makes
it possible; ``remove_partner_key`` forgets it.
"""
from __future__ import annotations

import json
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from ..actor import Actor
from ..clock import utcnow
from ..config import setting
from ..database import DbSession
from ..errors import InputError
from ..mail import encryption, messages
from ..mail.outbox import enqueue
from ..mail.pgp import KeyInfo, inspect_key
from ..models import Organization, OutboxMessage, PartnerDelivery
from ..store.audit import record
from ..store.organizations import cert_organization
from ..vocab import N_, tlp_label
from .partner_channels import channel_of, contact_address


def attachment_name(delivery: PartnerDelivery) -> str:
    """The bundle's file name in the mail: cooperation-<request id>-<purpose>.json."""
    return f"cooperation-{delivery.request_id}-{delivery.purpose}.json"


def queue_mail(session: DbSession, delivery: PartnerDelivery, now: datetime) -> OutboxMessage:
    """Queue the delivery's mail to the partner's 24/7 address, its bundle attached; no commit.

    Queued once per delivery (its dedupe key): called again, it returns the row queued before.
    The delivery's ``outbox_id`` names the row, whose fate (sent, dead) is the delivery's."""
    request = delivery.request
    partner = session.get(Organization, delivery.partner_org_id)
    address = contact_address(partner) if partner is not None else None
    if partner is None or address is None:
        raise InputError(gettext("the partner CERT of delivery %(id)s has no contact address to mail", id=delivery.id),
                         field="partners")
    cert = cert_organization(session)
    filename = attachment_name(delivery)
    message = messages.cooperation(
        request, delivery.purpose, messages.Recipient(address, None, messages.PARTNER_CONTACT, partner.name),
        sender=cert.name if cert is not None else "the national CERT", attachment=filename,
        incident_title=request.incident.title if request.incident is not None else None)
    key = f"cooperation-delivery:{delivery.id}"
    bundle = json.dumps(delivery.bundle, indent=2, ensure_ascii=False)
    row = enqueue(session, to=address, subject=message.subject, text=message.text, html=message.html,
                  tlp=message.tlp, kind=message.kind, dedupe_key=key, now=now, recipient_org_id=partner.id,
                  attachments=[{"filename": filename, "content_type": "application/json", "content": bundle}])
    if row is None:  # queued before, by an earlier run or a concurrent one that committed
        row = session.execute(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).scalar_one()
    session.flush()
    delivery.outbox_id = row.id
    return row


# Why a partner cannot be mailed (mail_refusal), one sentence per problem and purpose of the mail.
_MAIL_REFUSALS = {
    ("no-key-for-address", "request"): N_(
        "%(name)s has no OpenPGP key for its contact address and is reached by e-mail: a %(tlp)s request "
        "cannot be sent to it in clear; register its key (cert-share partner key %(slug)s FILE, or on "
        "/admin/partners) or give it a TAXII URL (cert-share partner set %(slug)s --taxii-url URL)"),
    ("no-key-for-address", "acknowledgement"): N_(
        "%(name)s has no OpenPGP key for its contact address and is reached by e-mail: a %(tlp)s "
        "acknowledgement cannot be sent to it in clear; register its key (cert-share partner key %(slug)s "
        "FILE, or on /admin/partners) or give it a TAXII URL (cert-share partner set %(slug)s --taxii-url "
        "URL)"),
    ("no-key-for-address", "answer"): N_(
        "%(name)s has no OpenPGP key for its contact address and is reached by e-mail: a %(tlp)s answer "
        "cannot be sent to it in clear; register its key (cert-share partner key %(slug)s FILE, or on "
        "/admin/partners) or give it a TAXII URL (cert-share partner set %(slug)s --taxii-url URL)"),
    ("no-key", "request"): N_(
        "%(name)s has no OpenPGP key and is reached by e-mail: a %(tlp)s request cannot be sent to it in "
        "clear; register its key (cert-share partner key %(slug)s FILE, or on /admin/partners) or give it a "
        "TAXII URL (cert-share partner set %(slug)s --taxii-url URL)"),
    ("no-key", "acknowledgement"): N_(
        "%(name)s has no OpenPGP key and is reached by e-mail: a %(tlp)s acknowledgement cannot be sent to it "
        "in clear; register its key (cert-share partner key %(slug)s FILE, or on /admin/partners) or give it "
        "a TAXII URL (cert-share partner set %(slug)s --taxii-url URL)"),
    ("no-key", "answer"): N_(
        "%(name)s has no OpenPGP key and is reached by e-mail: a %(tlp)s answer cannot be sent to it in "
        "clear; register its key (cert-share partner key %(slug)s FILE, or on /admin/partners) or give it a "
        "TAXII URL (cert-share partner set %(slug)s --taxii-url URL)"),
    ("expired", "request"): N_(
        "%(name)s has an OpenPGP key that has expired and is reached by e-mail: a %(tlp)s request cannot be "
        "sent to it in clear; register its key (cert-share partner key %(slug)s FILE, or on /admin/partners) "
        "or give it a TAXII URL (cert-share partner set %(slug)s --taxii-url URL)"),
    ("expired", "acknowledgement"): N_(
        "%(name)s has an OpenPGP key that has expired and is reached by e-mail: a %(tlp)s acknowledgement "
        "cannot be sent to it in clear; register its key (cert-share partner key %(slug)s FILE, or on "
        "/admin/partners) or give it a TAXII URL (cert-share partner set %(slug)s --taxii-url URL)"),
    ("expired", "answer"): N_(
        "%(name)s has an OpenPGP key that has expired and is reached by e-mail: a %(tlp)s answer cannot be "
        "sent to it in clear; register its key (cert-share partner key %(slug)s FILE, or on /admin/partners) "
        "or give it a TAXII URL (cert-share partner set %(slug)s --taxii-url URL)"),
}


def mail_refusal(partner: Organization, tlp: str, now: datetime | None = None, *, what: str = "request") -> str | None:
    """Why a ``what`` marked ``tlp`` cannot be mailed to ``partner``: it may not travel in clear
    text (mail/encryption: MAIL_REQUIRE_ENCRYPTION_FROM, TLP:RED) and the partner has no valid key
    for its contact address. None when it can go, or when the partner is reached over TAXII."""
    if channel_of(partner) != "email":
        return None
    if not encryption.encryption_required(tlp, setting("MAIL_REQUIRE_ENCRYPTION_FROM")):
        return None
    now = now or utcnow()
    if encryption.key_of(partner, contact_address(partner) or "") is None:
        problem = "no-key-for-address" if partner.pgp_key else "no-key"
    elif encryption.key_expired(partner, now):
        problem = "expired"
    else:
        return None
    message = _MAIL_REFUSALS.get((problem, what), _MAIL_REFUSALS[problem, "request"])
    return gettext(message, name=partner.name, tlp=tlp_label(tlp), slug=partner.slug)


def register_partner_key(session: DbSession, partner: Organization, key_bytes: str | bytes, actor: Actor,
                         now: datetime | None = None) -> KeyInfo:
    """Check ``key_bytes`` as the public key of the partner's 24/7 contact address (mail.pgp.inspect_key:
    one key, not expired or revoked, able to encrypt, a user id naming the address) and keep it in
    place of any earlier one; commits. InputError (nothing changed) names what is wrong."""
    if partner.kind != "partner":
        raise InputError(gettext("%(name)s is not a partner CERT", name=partner.name), field="partner")
    address = contact_address(partner)
    if address is None:
        raise InputError(gettext("%(name)s has no contact address for a key to name: set one first (cert-share "
                                 "partner set %(slug)s --contact EMAIL)",
                                 name=partner.name, slug=partner.slug), field="partner")
    info = inspect_key(key_bytes, address, now=now or utcnow())
    partner.pgp_key, partner.pgp_fingerprint, partner.pgp_expires_at = info.armored, info.fingerprint, info.expires_at
    record(session, actor, "partner.pgp_key", "organization", partner.slug, fingerprint=info.fingerprint,
           address=address, expires_at=info.expires_at.isoformat() if info.expires_at else None)
    session.commit()
    return info


def remove_partner_key(session: DbSession, partner: Organization, actor: Actor) -> bool:
    """Forget the partner's key (mail that needs encryption is refused again); audited as
    "partner.pgp_key_removed"; commits. False when it had none."""
    if partner.kind != "partner":
        raise InputError(gettext("%(name)s is not a partner CERT", name=partner.name), field="partner")
    if partner.pgp_key is None:
        return False
    record(session, actor, "partner.pgp_key_removed", "organization", partner.slug,
           fingerprint=partner.pgp_fingerprint)
    partner.pgp_key = partner.pgp_fingerprint = partner.pgp_expires_at = None
    session.commit()
    return True
