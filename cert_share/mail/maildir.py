"""Reading the local maildir (where mail goes when no SMTP host is configured)."""
from __future__ import annotations

import mailbox
import os
from dataclasses import dataclass
from datetime import datetime
from email import message_from_binary_file, policy
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class StoredMail:
    key: str
    message_id: str
    to: str
    subject: str
    date: datetime | None
    text: str
    html: str | None


def read_maildir(path: str, limit: int | None = None) -> list[StoredMail]:
    """Messages in the maildir, newest first; an absent maildir is simply empty."""
    if not os.path.isdir(path):
        return []
    box = mailbox.Maildir(path, factory=None, create=False)
    found = []
    for key in box.keys():
        with box.get_file(key) as handle:
            msg = message_from_binary_file(handle, policy=policy.default)
        text_part = msg.get_body(preferencelist=("plain",))
        html_part = msg.get_body(preferencelist=("html",))
        try:
            date = parsedate_to_datetime(msg["Date"]) if msg["Date"] else None
        except (TypeError, ValueError):
            date = None
        found.append(StoredMail(
            key=key, message_id=str(msg["Message-ID"] or ""), to=str(msg["To"] or ""),
            subject=str(msg["Subject"] or ""), date=date,
            text=text_part.get_content() if text_part is not None else "",
            html=html_part.get_content() if html_part is not None else None))
    found.sort(key=lambda m: (m.date is not None, m.date or datetime.min, m.key), reverse=True)
    return found[:limit] if limit else found
