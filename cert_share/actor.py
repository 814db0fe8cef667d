"""Who is acting: the authenticated party behind a request, a command or a scheduled job.

Below policy, services and every interface, so each of them can name the actor without importing
the others."""
from __future__ import annotations

from dataclasses import dataclass, field

from .models import Organization, User


@dataclass(frozen=True)
class Actor:
    """The authenticated party behind a request or command."""

    label: str  # "user:alice@bank.example", "token:bank/ops", "cli", "system"
    org: Organization | None = None
    user: User | None = None
    token_id: int | None = None
    remote_addr: str | None = None
    role: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def org_id(self) -> int | None:
        return self.org.id if self.org is not None else None

    @property
    def is_platform(self) -> bool:
        """The platform itself (the command line, scheduled jobs): no person, no organization."""
        return self.label in {"cli", "system"}

    @property
    def is_cert(self) -> bool:
        """Acts for the operating CERT (a CERT user, a CERT token, or the CLI)."""
        if self.is_platform:
            return True
        return self.org is not None and self.org.kind == "cert"


CLI = Actor(label="cli")
SYSTEM = Actor(label="system")


def actor_for_user(user: User, remote_addr: str | None = None) -> Actor:
    return Actor(label=f"user:{user.email}", org=user.organization, user=user,
                 remote_addr=remote_addr, role=user.role)
