"""Getting one message out: over SMTP, or into a local maildir when no SMTP host is set.

    DeliveryError
    ├── TransientError   try again later: connection refused/reset, timeouts, 4xx replies
    │   └── ServerUnavailable   no usable connection at all (the rest of a batch would fail too)
    └── PermanentError   the server refused this message for good: 5xx to MAIL FROM/RCPT/DATA

A 5xx while connecting, authenticating or to MAIL FROM is a problem of the set-up, not of the
message, so it is transient: fixing the configuration must not have dead-lettered the queue.
"""
from __future__ import annotations

import mailbox
import os
import smtplib
import ssl
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime

from ..models import OutboxMessage
from .templates import render_text_as_html


class DeliveryError(Exception):
    pass


class TransientError(DeliveryError):
    pass


class PermanentError(DeliveryError):
    pass


class ServerUnavailable(TransientError):
    pass


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 30
    ca_file: str | None = None  # a private CA for the relay's certificate


# Lines up to the RFC 5322 limit of 998: Python's folding at 78 mangles subjects such as
# "[TLP:AMBER] Report: …" (it folds right after "Subject:", and readers see a leading space).
MAIL_POLICY = email_policy.SMTP.clone(max_line_length=998)


def build_message(row: OutboxMessage, mail_from: str, *, subject: str | None = None, text: str | None = None,
                  html: str | None = None) -> EmailMessage:
    """Plain text plus HTML alternative, then the row's attachments, with the Message-ID fixed at
    enqueue time; ``subject``, ``text`` and ``html`` replace the row's (a notice sent in its place,
    which carries none of its attachments)."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = mail_from
    msg["To"] = row.to
    msg["Subject"] = subject or row.subject
    msg["Date"] = format_datetime(row.created_at)
    msg["Message-ID"] = row.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Cert-Share-Kind"] = row.kind
    if row.tlp:
        msg["X-Cert-Share-TLP"] = row.tlp.upper()
    if text is not None:
        msg.set_content(text)
        msg.add_alternative(html or render_text_as_html(str(msg["Subject"]), text), subtype="html")
        return msg
    msg.set_content(row.text)
    msg.add_alternative(row.html if row.html else render_text_as_html(row.subject, row.text), subtype="html")
    for item in row.attachments or ():
        maintype, _, subtype = item["content_type"].partition("/")
        # Bytes, so base64: the file arrives byte for byte, whatever its lines (a signature over it holds).
        msg.add_attachment(item["content"].encode("utf-8"), maintype=maintype, subtype=subtype,
                           filename=item["filename"])
    return msg


class SmtpTransport:
    """One SMTP connection reused for a batch; reconnects after a failure."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.starttls:
                conn.starttls(context=ssl.create_default_context(cafile=s.ca_file))
            if s.username:
                conn.login(s.username, s.password)
        except (smtplib.SMTPException, OSError) as exc:
            raise ServerUnavailable(f"cannot connect to SMTP {s.host}:{s.port}: {_describe(exc)}") from exc
        return conn

    def send(self, message: EmailMessage) -> None:
        if self._conn is None:
            self._conn = self._connect()
        try:
            refused = self._conn.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset()
            codes = [code for code, _msg in exc.recipients.values()]
            error = f"recipient refused: {_describe(exc)}"
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentError(error) from exc
            raise TransientError(error) from exc
        except smtplib.SMTPSenderRefused as exc:
            # MAIL_FROM is refused for every message alike: a set-up problem, not this message's.
            self.close()
            raise ServerUnavailable(f"sender refused: {_describe(exc)}") from exc
        except smtplib.SMTPResponseException as exc:  # data error, …
            self.close()
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(_describe(exc)) from exc
            raise TransientError(_describe(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientError(_describe(exc)) from exc
        if refused:  # only one recipient per message, so a partial refusal cannot happen; be safe
            raise TransientError(f"recipient refused: {refused}")

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                try:
                    self._conn.close()
                except OSError:
                    pass
            self._conn = None


class MaildirTransport:
    """No SMTP host configured: keep the mail where CERT admins can read it (the workspace)."""

    def __init__(self, path: str):
        self.path = path

    def send(self, message: EmailMessage) -> None:
        try:
            for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips these if the dir exists
                os.makedirs(os.path.join(self.path, sub), mode=0o700, exist_ok=True)
            mailbox.Maildir(self.path, create=False).add(message)
        except OSError as exc:
            raise ServerUnavailable(f"cannot write to maildir {self.path}: {exc}") from exc

    def close(self) -> None:
        pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
