"""What goes on the wire for one outbox row: the message as queued, encrypted to its recipient,
or a notice in its place (``encryption.decide``), then signed with the platform's key.

A key problem never stops a message to a person: a key that expired since it was registered, or
that gpg cannot encrypt to, gets the recipient the notice instead, and one mail (per key and
problem) telling them so. A partner CERT (``recipient_org_id``) has no account to read a notice's
link with: a message to it that may not go in clear and cannot be encrypted to its key is refused
for good (a dead letter, which push-partners reports as the delivery's failure). Only the
platform's own signing key failing stops delivery, as a set-up problem (``SigningError``): every
message would meet it, and none may leave unsigned.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import cast

from flask_babel import gettext
from sqlalchemy import func, select

from .. import i18n
from ..config import setting
from ..database import DbSession
from ..models import Organization, OutboxMessage, User
from ..vocab import tlp_label
from . import encryption, kinds, messages, pgp
from .outbox import enqueue, tlp_subject
from .transport import PermanentError, build_message

log = logging.getLogger(__name__)

KEY_PROBLEM_KIND = kinds.KEY_PROBLEM


@dataclass(frozen=True)
class MailSecurity:
    """The OpenPGP settings delivery works with (MAIL_GPG_HOME, MAIL_SIGNING_KEY,
    MAIL_REQUIRE_ENCRYPTION_FROM) and BASE_URL for the links a notice carries; no defaults of
    its own: config.py has them."""
    gpg_home: str | None
    signing_key: str | None
    require_from: str
    base_url: str

    @classmethod
    def from_config(cls, config) -> "MailSecurity":
        return cls(gpg_home=config["MAIL_GPG_HOME"], signing_key=config["MAIL_SIGNING_KEY"],
                   require_from=config["MAIL_REQUIRE_ENCRYPTION_FROM"], base_url=config["BASE_URL"])

    @classmethod
    def current(cls) -> "MailSecurity":
        """The running app's settings (config.setting)."""
        return cls(gpg_home=setting("MAIL_GPG_HOME"), signing_key=setting("MAIL_SIGNING_KEY"),
                   require_from=setting("MAIL_REQUIRE_ENCRYPTION_FROM"), base_url=setting("BASE_URL"))


def recipient_of(session: DbSession, row: OutboxMessage) -> User | None:
    """The account the row is addressed to: its recipient, or the user with that address."""
    if row.recipient_user_id is not None:
        return session.get(User, row.recipient_user_id)
    return session.execute(select(User).where(func.lower(User.email) == row.to.strip().lower())).scalar_one_or_none()


def outgoing(session: DbSession, row: OutboxMessage, *, mail_from: str, security: MailSecurity,
             now: datetime) -> EmailMessage:
    """The message to send for ``row``; may queue a key-problem mail in the session (no commit).
    Raises pgp.SigningError when the platform's key cannot sign, PermanentError when a message
    to a partner CERT may not go in clear and cannot be encrypted."""
    partner = session.get(Organization, row.recipient_org_id) if row.recipient_org_id is not None else None
    user = recipient_of(session, row) if partner is None else None
    holder: encryption.Keyholder | None = partner or user
    outcome = encryption.decide(row, holder, now, security.require_from)
    if user is not None and encryption.key_of(user, row.to) and encryption.key_expired(user, now) \
            and encryption.wants_encryption(row, security.require_from):
        _tell_about_key(session, user, "expired", security, now)
    if outcome == encryption.NOTICE:
        if partner is not None:
            raise PermanentError(_no_way_to_partner(row, partner, "it has no valid OpenPGP key for this address"))
        return _signed(notice(session, row, user, mail_from, security), security)
    message = _signed(build_message(row, mail_from), security)
    if outcome == encryption.CLEAR:
        return message
    assert holder is not None and holder.pgp_key and holder.pgp_fingerprint  # decide() said ENCRYPT
    # The outer subject in the person's language (a partner CERT's mail is English: messages.cooperation).
    with i18n.language(i18n.person_locale(user) if partner is None else i18n.SOURCE_LOCALE):
        outer = gettext("Encrypted message from cert-share")
    try:
        return pgp.encrypt(message, holder.pgp_key, holder.pgp_fingerprint,
                           subject=f"[{tlp_label(row.tlp or 'amber')}] {_drill(row)}{outer}")
    except pgp.PgpError as exc:
        if partner is not None:
            raise PermanentError(_no_way_to_partner(row, partner, str(exc))) from exc
        assert user is not None
        log.warning("mail %s to %s: %s; sending the notice instead", row.message_id, row.to, exc)
        _tell_about_key(session, user, "unusable", security, now)
        return _signed(notice(session, row, user, mail_from, security), security)


def _drill(row: OutboxMessage) -> str:
    """A drill's mail says so in its subject, encrypted or not (the rest of it is hidden)."""
    return "[EXERCISE] " if row.kind == kinds.EXERCISE else ""


def _no_way_to_partner(row: OutboxMessage, partner: Organization, why: str) -> str:
    return (f"not sent to the partner CERT {partner.name}: a {tlp_label(row.tlp or 'amber')} message may not "
            f"go in clear and {why}; register its key (cert-share partner key {partner.slug} FILE), "
            "then queue the message again")


def _signed(message: EmailMessage, security: MailSecurity) -> EmailMessage:
    if security.gpg_home and security.signing_key:
        return pgp.sign(message, gpg_home=security.gpg_home, key=security.signing_key)
    return message


def notice(session: DbSession, row: OutboxMessage, user: User | None, mail_from: str,
           security: MailSecurity) -> EmailMessage:
    """A message in ``row``'s place that says only that something marked ``row.tlp`` waits on
    the platform, and links to it: no title, no facts, nothing of the content (messages.notice,
    in the layout every message has)."""
    message = messages.notice(row.kind, row.tlp, messages.recipient_at(session, user, row.to),
                              action_url=row.action_url or f"{security.base_url}/", has_account=user is not None,
                              has_key=bool(user and user.pgp_key), key_url=f"{security.base_url}/account/key")
    return build_message(row, mail_from, subject=tlp_subject(message.subject, message.tlp), text=message.text,
                         html=message.html)


def _tell_about_key(session: DbSession, user: User, problem: str, security: MailSecurity, now: datetime) -> None:
    """One mail per key, expiry and problem: the key ``expired`` or is ``unusable``; send a new one.
    A key extended and uploaded again has a new expiry, so its next expiry is told again."""
    key_url = f"{security.base_url}/account/key"
    # Labelled TLP:CLEAR in its subject and banner, but queued without a TLP: it holds only the
    # key's fingerprint, and no encryption policy may turn the mail about a key into a notice.
    message = messages.key_problem(messages.recipient_for(user), problem=problem, fingerprint=user.pgp_fingerprint,
                                   expired_at=cast("datetime | None", user.pgp_expires_at), key_url=key_url)
    subject, text, html = tlp_subject(message.subject, message.tlp), message.text, message.html
    enqueue(session, to=user.email, subject=subject, text=text, html=html, kind=KEY_PROBLEM_KIND,
            dedupe_key=f"pgp-key:{user.id}:{user.pgp_fingerprint}:{_expiry_tag(user)}:{problem}",
            recipient_user_id=user.id,
            action_url=key_url, now=now)


def _expiry_tag(user: User) -> str:
    # The column is declared without Mapped[...] (as the model's other times are): a datetime here.
    expires = cast("datetime | None", user.pgp_expires_at)
    return expires.strftime("%Y%m%dT%H%M%S") if expires is not None else "never"
