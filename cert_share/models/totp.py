"""Two-factor sign-in state kept beside the user (the secret itself is on User.totp_secret)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model, db
from .types import UTCDateTime


class TotpUse(Model):
    """The last TOTP time step accepted for a user (a code is good once) and the wrong codes
    entered since, counted per account whatever the browser (services/totp.py)."""

    __tablename__ = "totp_uses"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    last_step: Mapped[int] = mapped_column(db.BigInteger, nullable=False)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    blocked_until = mapped_column(UTCDateTime)
