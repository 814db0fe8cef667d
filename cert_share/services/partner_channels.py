"""How a partner CERT is reached, the one question both cooperation (which route a delivery takes)
and partner mail (where the mail goes, whether it may go) ask of the partner directory."""
from __future__ import annotations

from ..models import Organization


def channel_of(partner: Organization) -> str | None:
    """How a partner is reached: "taxii" (its intake collection), "email" (its 24/7 contact), or
    None when it has neither."""
    if partner.taxii_url:
        return "taxii"
    if partner.duty_email or partner.contact_email:
        return "email"
    return None


def contact_address(partner: Organization) -> str | None:
    """The partner's 24/7 address: its duty address, else its contact address."""
    return partner.duty_email or partner.contact_email
