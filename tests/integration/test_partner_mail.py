"""Does a partner CERT without a TAXII collection get our request by e-mail, with the STIX bundle
attached, encrypted to its contact key when the TLP asks for it, and never as a notice it could
not open? Received through aiosmtpd, checked with the real gpg."""
from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

import pytest
from sqlalchemy import func, select

from cert_share.actor import CLI, actor_for_user
from cert_share.clock import utcnow
from cert_share.errors import InputError
from cert_share.extensions import db
from cert_share.mail.delivery import deliver_outbox
from cert_share.mail.outbox import enqueue
from cert_share.models import (
    AuditEntry,
    CooperationRequest,
    Incident,
    Organization,
    OutboxMessage,
    PartnerDelivery,
    User,
)
from cert_share.services import cooperation
from cert_share.services.partner_delivery import push_partners
from cert_share.services.partner_mail import queue_mail, register_partner_key
from tests.integration.cooperation_world import file_report_in_app, open_requests_in_app, world
from tests.integration.pgp_keys import gpg, make_key, signed_parts, verify

CONTACT = "duty@cert-abroad.example"
TITLE = "Mule accounts phishing kit"
ASK = "Who hosts 203.0.113.9? Please preserve the server logs."


@pytest.fixture(scope="module")
def partner_keyring(tmp_path_factory):
    """The partner CERT's 24/7 contact key, its private half to read what it receives."""
    keyring = make_key(tmp_path_factory.mktemp("partner-gpg"), "partner", CONTACT)
    yield keyring
    subprocess.run(["gpgconf", "--homedir", str(keyring.home), "--kill", "all"], capture_output=True)  # its agent


@pytest.fixture
def coop(ctx, factory):
    """The CERT, a bank's report, a staff member, and CERT Abroad reached only by e-mail."""
    return world(factory, contact=CONTACT)


def report(coop, tlp: str) -> Incident:
    return file_report_in_app(coop["bank"].id, by=coop["analyst"].id, tlp=tlp, title=TITLE,
                              description="Kit at 203.0.113.9")


def open_request(coop, tlp: str, *, kind: str = "preservation") -> CooperationRequest:
    incident = report(coop, tlp)
    [request] = open_requests_in_app(coop["staff"].id, incident.id, [coop["partner"].slug], kind=kind, message=ASK,
                                     tlp=tlp)
    return request


def delivery_of(request: CooperationRequest) -> PartnerDelivery:
    return db.session.execute(select(PartnerDelivery).where(PartnerDelivery.request_id == request.id)).scalar_one()


def mail(request: CooperationRequest) -> tuple[PartnerDelivery, OutboxMessage]:
    delivery = delivery_of(request)
    row = queue_mail(db.session, delivery, utcnow())
    db.session.commit()
    return delivery, row


def signing(smtp, pgp_keys, **extra) -> dict:
    cert = pgp_keys["cert"]
    return smtp.config(**{"MAIL_GPG_HOME": str(cert.home), "MAIL_SIGNING_KEY": cert.fingerprint, **extra})


def attachments(message) -> list:
    return [part for part in message.walk() if part.get_content_disposition() == "attachment"
            and part.get_content_type() != "application/pgp-signature"]


def register(coop, keyring) -> None:
    register_partner_key(db.session, db.session.get(Organization, coop["partner"].id), keyring.public, CLI)


def test_a_partner_without_taxii_gets_the_request_by_mail_with_the_bundle_attached(coop, smtp, pgp_keys, tmp_path):
    request = open_request(coop, "green")
    delivery, row = mail(request)
    assert delivery.channel == "email" and delivery.outbox_id == row.id
    assert (row.kind, row.recipient_org_id, row.to) == ("cooperation", coop["partner"].id, CONTACT)

    report_ = deliver_outbox(db.session, signing(smtp, pgp_keys), now=utcnow())
    assert (report_.sent, report_.dead) == (1, 0), report_.summary()
    [received] = smtp.handler.messages
    assert str(received["To"]) == CONTACT
    assert str(received["Subject"]).startswith("[TLP:GREEN] Cooperation request from National CERT")
    assert received.get_content_type() == "multipart/signed"
    body = received.get_body(("plain",)).get_content()
    for fact in (TITLE, ASK, "Expedited preservation of stored data", request.stix_id,
                 f"{request.due_at:%Y-%m-%d %H:%M}", "24/7 point of contact of CERT Abroad"):
        assert fact in body, fact
    assert "Sign in" not in body and "/account/mail" not in body  # no account here, nothing to change
    [attached] = attachments(received)
    assert attached.get_filename() == f"cooperation-{request.id}-request.json"
    assert attached.get_content_type() == "application/json"
    assert json.loads(attached.get_content()) == delivery.bundle  # the bundle, exactly as it was frozen

    # The attachment is under the platform's signature, which gpg verifies.
    reader = tmp_path / "reader"
    reader.mkdir(mode=0o700)
    gpg(reader, "--import", stdin=pgp_keys["cert"].public.encode())
    data, signature = signed_parts(smtp.handler.raw[0])
    assert verify(reader, data, signature).returncode == 0
    [signed_file] = attachments(message_from_bytes(data, policy=email_policy.default))
    assert json.loads(signed_file.get_content()) == delivery.bundle


def test_the_mail_is_queued_once_per_delivery(coop):
    request = open_request(coop, "green")
    delivery, first = mail(request)
    again = queue_mail(db.session, delivery_of(request), utcnow())
    db.session.commit()
    assert again.id == first.id
    assert db.session.execute(select(func.count(OutboxMessage.id))).scalar_one() == 1


def test_an_amber_request_to_a_partner_with_a_key_arrives_encrypted_with_the_bundle_inside(
        coop, smtp, pgp_keys, partner_keyring):
    register(coop, partner_keyring)
    request = open_request(coop, "amber")
    delivery, _row = mail(request)
    assert deliver_outbox(db.session, signing(smtp, pgp_keys), now=utcnow()).sent == 1
    [raw] = smtp.handler.raw
    [received] = smtp.handler.messages
    assert received.get_content_type() == "multipart/encrypted"
    assert str(received["Subject"]) == "[TLP:AMBER] Encrypted message from cert-share"
    for secret in (TITLE, "203.0.113.9", "Who hosts", "cooperation-"):
        assert secret not in raw.decode(), secret  # nothing of it, not even the file's name, outside
    ciphertext = received.get_payload()[1].get_content()
    plain = partner_keyring.decrypt(ciphertext.encode() if isinstance(ciphertext, str) else ciphertext)
    inner = message_from_bytes(plain, policy=email_policy.default)
    assert inner["Subject"].startswith("[TLP:AMBER] Cooperation request from National CERT")
    assert ASK in inner.get_body(("plain",)).get_content()
    [attached] = attachments(inner)
    assert attached.get_filename() == f"cooperation-{request.id}-request.json"
    assert json.loads(attached.get_content()) == delivery.bundle
    # Someone else's private key reads none of it.
    assert gpg(pgp_keys["alice"].home, "--decrypt", stdin=ciphertext.encode() if isinstance(ciphertext, str)
               else ciphertext, check=False).returncode != 0


@pytest.mark.parametrize("tlp", ["amber", "amber+strict"])
def test_an_amber_request_to_a_keyless_mail_only_partner_is_refused_when_opened(coop, tlp):
    incident = report(coop, tlp)
    with pytest.raises(InputError) as refused:
        open_requests_in_app(coop["staff"].id, incident.id, [coop["partner"].slug], message=ASK, tlp=tlp,
                             confirm_strict=True)
    db.session.rollback()
    message = refused.value.message
    assert message.startswith("CERT Abroad has no OpenPGP key and is reached by e-mail")
    assert f"TLP:{tlp.upper()} request cannot be sent to it in clear" in message
    assert f"cert-share partner key {coop['partner'].slug} FILE" in message and "TAXII" in message
    assert refused.value.field == "partners"
    for model in (CooperationRequest, PartnerDelivery, OutboxMessage):
        assert db.session.execute(select(func.count()).select_from(model)).scalar_one() == 0, model


def test_an_expired_partner_key_is_refused_when_opened_and_a_taxii_partner_is_not_asked_for_one(
        coop, partner_keyring):
    register(coop, partner_keyring)
    partner = db.session.get(Organization, coop["partner"].id)
    partner.pgp_expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    with pytest.raises(InputError, match="has an OpenPGP key that has expired"):
        open_request(coop, "amber")
    db.session.rollback()
    partner = db.session.get(Organization, coop["partner"].id)
    partner.taxii_url, partner.pgp_key = "https://taxii.cert-abroad.example/api/collections/abc/", None
    db.session.commit()
    assert open_request(coop, "amber").state == "queued"  # TAXII, not mail: no key needed


def test_a_key_that_expires_after_the_request_was_queued_makes_a_dead_letter_not_a_notice(
        coop, smtp, pgp_keys, partner_keyring):
    register(coop, partner_keyring)
    request = open_request(coop, "amber")
    mail(request)
    partner = db.session.get(Organization, coop["partner"].id)
    partner.pgp_expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    report_ = deliver_outbox(db.session, signing(smtp, pgp_keys), now=utcnow())
    assert (report_.sent, report_.dead) == (0, 1)
    assert smtp.handler.messages == []  # no notice: a partner has no account to follow its link
    row = db.session.execute(select(OutboxMessage)).scalar_one()
    assert row.state == "dead"
    assert "CERT Abroad" in row.last_error and "cert-share partner key" in row.last_error
    # push-partners reads the mail's fate: the request failed, with why.
    push_partners(db.session, signing(smtp, pgp_keys), now=utcnow())
    db.session.expire_all()
    failed = db.session.get(CooperationRequest, request.id)
    assert failed.state == "failed" and "no valid OpenPGP key" in failed.last_error


def test_a_green_request_goes_in_clear_to_a_keyless_partner(coop, smtp):
    request = open_request(coop, "green", kind="information")
    delivery, _row = mail(request)
    assert deliver_outbox(db.session, smtp.config(), now=utcnow()).sent == 1
    [received] = smtp.handler.messages
    assert received.get_content_type() == "multipart/mixed"
    assert str(received["Subject"]).startswith("[TLP:GREEN] ")
    assert ASK in received.get_body(("plain",)).get_content()
    [attached] = attachments(received)
    assert json.loads(attached.get_content()) == delivery.bundle


def test_a_partner_key_must_name_its_contact_address_and_the_cli_registers_it(
        coop, runner, pgp_keys, partner_keyring, tmp_path):
    partner = db.session.get(Organization, coop["partner"].id)
    with pytest.raises(InputError, match=f"no user id of this key is {CONTACT}"):
        register_partner_key(db.session, partner, pgp_keys["alice"].public, CLI)
    db.session.rollback()
    assert db.session.get(Organization, coop["partner"].id).pgp_key is None

    wrong = tmp_path / "alice.asc"
    wrong.write_text(pgp_keys["alice"].public)
    result = runner.invoke(args=["partner", "key", partner.slug, str(wrong)])
    assert result.exit_code == 2 and f"no user id of this key is {CONTACT}" in result.output

    # The slug comes first, as with `partner set`; a binary export is read as well as an armored one.
    good = tmp_path / "partner.gpg"
    good.write_bytes(gpg(partner_keyring.home, "--export", partner_keyring.fingerprint).stdout)
    result = runner.invoke(args=["partner", "key", partner.slug, str(good)])
    assert result.exit_code == 0, result.output
    assert partner_keyring.fingerprint in result.output
    db.session.expire_all()
    stored = db.session.get(Organization, coop["partner"].id)
    assert stored.pgp_fingerprint == partner_keyring.fingerprint
    assert db.session.execute(select(AuditEntry).where(AuditEntry.action == "partner.pgp_key")).scalar_one()

    listed = runner.invoke(args=["partner", "list"])
    [row] = [line.split("\t") for line in listed.output.splitlines() if line.startswith(partner.slug + "\t")]
    assert row[-2:] == [partner_keyring.fingerprint, f"{stored.pgp_expires_at:%Y-%m-%d}"]

    # The older form of this morning's README still works.
    armored = tmp_path / "partner.asc"
    armored.write_text(partner_keyring.public)
    result = runner.invoke(args=["partner", "key", "--partner", partner.slug, str(armored)])
    assert result.exit_code == 0, result.output
    missing = runner.invoke(args=["partner", "key", partner.slug])
    assert missing.exit_code == 2 and "missing FILE" in missing.output

    result = runner.invoke(args=["partner", "key", "bank-one", str(good)])
    assert result.exit_code == 2 and "not a partner CERT" in result.output


def test_an_attachment_that_is_not_a_named_text_file_is_refused(ctx):
    for bad in ([{"filename": "x.json", "content_type": "application/json", "content": b"{}"}],
                [{"filename": "../x.json", "content_type": "application/json", "content": "{}"}],
                [{"filename": "x.json", "content": "{}"}]):
        with pytest.raises(InputError) as refused:
            enqueue(db.session, to=CONTACT, subject="s", text="t", kind="cooperation", attachments=bad)
        assert refused.value.field == "attachments"


def test_push_partners_mails_the_request_and_the_mail_sent_makes_it_sent(coop, smtp, pgp_keys, partner_keyring):
    register(coop, partner_keyring)
    request = open_request(coop, "amber")
    config = signing(smtp, pgp_keys)
    first = push_partners(db.session, config, now=utcnow())
    assert first.mailed == 1, first.summary()
    assert db.session.get(CooperationRequest, request.id).state == "queued"  # in the outbox, not yet out
    assert deliver_outbox(db.session, config, now=utcnow()).sent == 1
    push_partners(db.session, config, now=utcnow())
    push_partners(db.session, config, now=utcnow())  # nothing left to do: nothing twice
    db.session.expire_all()
    assert db.session.get(CooperationRequest, request.id).state == "sent"
    assert delivery_of(request).state == "sent"
    assert db.session.execute(select(func.count(OutboxMessage.id))).scalar_one() == 1
    [received] = smtp.handler.messages
    assert received.get_content_type() == "multipart/encrypted" and str(received["To"]) == CONTACT
    timeline = db.session.execute(select(AuditEntry.action).where(AuditEntry.target_id == str(request.incident_id))
                                  ).scalars().all()
    assert "cooperation.sent" in timeline


def incoming(coop, tlp: str) -> CooperationRequest:
    """A request CERT Abroad pushed into our intake (as services.cooperation.receive records it)."""
    request = CooperationRequest(
        direction="incoming", partner_org_id=coop["partner"].id, kind="assistance", message="Sinkhole evil.example",
        due_at=utcnow() + timedelta(days=1), tlp=tlp, state="received",
        stix_id="note--6f0a3c1e-7d43-4a4e-9d67-1b8d8e0c1a11", created_by="partner:cert-abroad", answer_object_ids=[])
    db.session.add(request)
    db.session.commit()
    return request


def test_our_acknowledgement_and_answer_go_to_a_mail_only_partner_encrypted_or_not_at_all(
        coop, smtp, pgp_keys, partner_keyring):
    staff = actor_for_user(db.session.get(User, coop["staff"].id))
    request = incoming(coop, "amber")
    with pytest.raises(InputError, match="a TLP:AMBER acknowledgement cannot be sent to it in clear"):
        cooperation.acknowledge(db.session, staff, request)
    db.session.rollback()
    assert db.session.get(CooperationRequest, request.id).state == "received"
    assert db.session.execute(select(func.count(PartnerDelivery.id))).scalar_one() == 0

    register(coop, partner_keyring)
    cooperation.acknowledge(db.session, staff, db.session.get(CooperationRequest, request.id))
    cooperation.answer(db.session, staff, db.session.get(CooperationRequest, request.id),
                       message="Sinkholed at 09:00 UTC.")
    for delivery in db.session.execute(select(PartnerDelivery).order_by(PartnerDelivery.id)).scalars():
        queue_mail(db.session, delivery, utcnow())
    db.session.commit()
    assert deliver_outbox(db.session, signing(smtp, pgp_keys), now=utcnow()).sent == 2
    inner = []
    for received in smtp.handler.messages:
        ciphertext = received.get_payload()[1].get_content()
        plain = partner_keyring.decrypt(ciphertext.encode() if isinstance(ciphertext, str) else ciphertext)
        inner.append(message_from_bytes(plain, policy=email_policy.default))
    ack, answer = inner
    assert "acknowledges your cooperation request" in ack["Subject"]
    assert "Sinkhole evil.example" in ack.get_body(("plain",)).get_content()
    assert attachments(ack)[0].get_filename() == f"cooperation-{request.id}-acknowledgement.json"
    assert "answers your cooperation request" in answer["Subject"]
    assert "Sinkholed at 09:00 UTC." in answer.get_body(("plain",)).get_content()
    [bundle_file] = attachments(answer)
    notes = [o for o in json.loads(bundle_file.get_content())["objects"] if o["type"] == "note"]
    assert [note["content"] for note in notes] == ["Sinkholed at 09:00 UTC."]
    assert notes[0]["object_refs"] == [request.stix_id]


def test_the_api_refuses_an_amber_request_to_a_keyless_mail_partner_with_a_400_and_members_get_403(
        coop, client, factory, partner_keyring):
    incident = report(coop, "amber")
    url = f"/api/v1/incidents/{incident.id}/cooperation-requests"
    body = {"partners": [coop["partner"].slug], "kind": "information", "message": ASK, "tlp": "amber",
            "due_at": (utcnow() + timedelta(days=2)).isoformat()}
    member = client.post(url, json=body, headers={"Authorization": f"Bearer {factory.token(coop['bank'])}"})
    assert member.status_code == 403
    staff = {"Authorization": f"Bearer {factory.token(coop['cert'])}"}
    refused = client.post(url, json=body, headers=staff)
    assert refused.status_code == 400, refused.get_json()
    assert "CERT Abroad has no OpenPGP key and is reached by e-mail" in refused.get_json()["message"]
    assert "partners" in refused.get_json().get("errors", {})
    assert db.session.execute(select(func.count(CooperationRequest.id))).scalar_one() == 0
    register(coop, partner_keyring)
    assert client.post(url, json=body, headers=staff).status_code == 201
