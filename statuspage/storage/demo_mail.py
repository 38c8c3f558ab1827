"""Mail the demo's local sink caught (`upwatch-statuspage mail-sink`), for the admin to read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql

MAX_BODY_CHARS = 200_000
KEEP = 200  # the sink keeps the newest messages only: it is a demo, not an archive


@dataclass(frozen=True)
class CaughtMail:
    id: int
    received_at: datetime
    sender: str
    recipients: str
    subject: str
    body: str


def store(db: sql.Store, sender: str, recipients: list[str], subject: str, body: str, now: datetime) -> int:
    """Keep one caught message (and forget all but the newest KEEP); return its id."""
    with sql.write(db):
        mail_id = sql.insert_returning_id(
            db,
            "INSERT INTO demo_mail (received_at, sender, recipients, subject, body)"
            " VALUES (:at, :sender, :recipients, :subject, :body) RETURNING id",
            {
                "at": to_iso(now),
                "sender": sender[:320],
                "recipients": ", ".join(recipients)[:2000],
                "subject": subject[:500],
                "body": body[:MAX_BODY_CHARS],
            },  # fmt: skip
        )
        sql.run(
            db,
            "DELETE FROM demo_mail WHERE id <= (SELECT max(id) FROM demo_mail) - :keep",
            {"keep": KEEP},
        )
    return mail_id


def _mail(row: dict[str, object]) -> CaughtMail:
    return CaughtMail(int(str(row["id"])), from_iso(str(row["received_at"])), str(row["sender"]),
                      str(row["recipients"]), str(row["subject"]), str(row["body"]))  # fmt: skip


def recent(db: sql.Store, limit: int = 50) -> list[CaughtMail]:
    """The newest caught messages, newest first."""
    found = sql.rows(
        db,
        "SELECT id, received_at, sender, recipients, subject, body FROM demo_mail"
        " ORDER BY id DESC LIMIT :limit",
        {"limit": limit},
    )
    return [_mail(r) for r in found]


def get(db: sql.Store, mail_id: int) -> CaughtMail | None:
    row = sql.one(
        db,
        "SELECT id, received_at, sender, recipients, subject, body FROM demo_mail WHERE id = :id",
        {"id": mail_id},
    )
    return _mail(row) if row else None
