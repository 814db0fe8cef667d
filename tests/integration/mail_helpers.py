"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, with switchable failures."""
from __future__ import annotations

import asyncio
import socket
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller

from cert_share.config import TestConfig, settings_of


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    """Keeps every accepted message; ``data_reply`` set to e.g. '451 …' refuses DATA for now;
    addresses in ``reject`` get '554' at RCPT; ``seconds_per_message`` makes a slow relay (each
    DATA answered that much later; other connections are served meanwhile); ``on_message`` is
    called with the count of messages accepted so far."""

    def __init__(self):
        self.messages = []
        self.raw: list[bytes] = []  # as received, for checks on the exact bytes (OpenPGP signatures)
        self.seconds_per_message = 0.0
        self.on_message = None
        self.data_reply: str | None = None
        self.reject: set[str] = set()
        self.refuse_sender = False

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_sender:
            return "553 5.7.1 sender address not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "554 5.7.1 mailbox refused by policy"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        if self.seconds_per_message:
            await asyncio.sleep(self.seconds_per_message)
        self.raw.append(envelope.content)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        if self.on_message is not None:
            self.on_message(len(self.messages))
        return "250 Message accepted for delivery"

    @property
    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


class SmtpServer:
    """Start/stop on a fixed port, so a stop is an outage and a start is the recovery."""

    def __init__(self, **controller_options):
        self.handler = Collector()
        self.port = free_port()
        self.controller: Controller | None = None
        self.options = controller_options

    def start(self) -> "SmtpServer":
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def config(self, **extra) -> dict:
        """The test app's settings, pointed at this server."""
        return {**settings_of(TestConfig), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_TIMEOUT": 5,
                "MAIL_FROM": "cert@cert.example", "MAIL_MAX_ATTEMPTS": 5, "MAIL_BACKOFF_BASE_SECONDS": 60,
                "MAIL_BACKOFF_MAX_SECONDS": 600, "MAIL_LEASE_SECONDS": 300, "MAIL_BATCH_SIZE": 100, **extra}


def password_checker(login: str, password: str):
    """An aiosmtpd authenticator accepting exactly one login."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == login \
            and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535 on failure

    return check


def self_signed_cert(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (openssl CLI); returns (cert, key) paths."""
    import subprocess

    cert, key = str(directory / "smtp.crt"), str(directory / "smtp.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key
