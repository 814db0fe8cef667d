"""Two-factor sign-in state kept beside the user (the secret itself is on User.totp_secret)."""
from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class TotpUse(db.Model):
    """The last TOTP time step accepted for a user: a code is good once (services/totp.py)."""

    __tablename__ = "totp_uses"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    last_step: Mapped[int] = mapped_column(db.BigInteger, nullable=False)
