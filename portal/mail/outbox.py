"""The outbox: mail written inside the business transaction, sent after commit by the worker."""

from __future__ import annotations

import re
import secrets
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.core.clock import now_utc
from portal.db.bulk import insert_rows
from portal.db.models import OutboxEmail
from portal.domain.status import OutboxStatus

SUBJECT_MAX = 300  # OutboxEmail.subject
_BREAKS = re.compile(r"[ \t]*[\r\n\v\f\x85\u2028\u2029]+[ \t]*")


def one_line(text: str, limit: int) -> str:
    """Line breaks (with the blanks around them) become one space, so no-break spaces in amounts stay;
    longer than `limit` ends with '…'."""
    text = _BREAKS.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def enqueue(
    *,
    kind: str,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    client_id: int | None = None,
    dedupe_key: str | None = None,
    reply_to: str = "",
    values: dict[str, Any] | None = None,
) -> int | None:
    """Queue one email; with a dedupe key, the same message is queued once (returns None the second time).
    With `values` (and an empty subject and text) it is written when it is sent (mail/worker.py).

    Call it inside the business transaction: the email is stored (as a savepoint) with the change it
    announces and the worker sends it only after that commits. The subject is made one line and cut to
    the column's length (a description with a line break or of 300 characters must not fail the change).
    """
    message_id = f"<{secrets.token_hex(16)}@billing-portal>"
    subject = one_line(subject, SUBJECT_MAX)
    try:
        async with in_transaction():  # a savepoint inside the caller's transaction
            row = await OutboxEmail.create(
                kind=kind,
                dedupe_key=dedupe_key,
                message_id=message_id,
                client_id=client_id,
                to_address=to,
                reply_to=reply_to,
                subject=subject,
                text_body=text,
                html_body=html,
                values=values,
            )
    except IntegrityError:
        if dedupe_key and await OutboxEmail.exists(dedupe_key=dedupe_key):
            return None
        raise
    return row.id


def queued(
    *,
    kind: str,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    client_id: int | None = None,
    dedupe_key: str | None = None,
    reply_to: str = "",
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One email as a row to queue, for a batch job that stores many with `enqueue_many`; with `values`
    (and an empty subject and text) it is written when it is sent (mail/worker.py)."""
    return {
        "kind": kind,
        "dedupe_key": dedupe_key,
        "message_id": f"<{secrets.token_hex(16)}@billing-portal>",
        "client_id": client_id,
        "to_address": to,
        "reply_to": reply_to,
        "subject": one_line(subject, SUBJECT_MAX),
        "text_body": text,
        "html_body": html,
        "values": values,
        "status": OutboxStatus.queued.value,
        "attempts": 0,
        "last_error": "",
        "created_at": now_utc(),
    }


async def enqueue_many(rows: list[dict[str, Any]], *, connection: BaseDBAsyncClient | None = None) -> None:
    """Queue many emails in one statement, inside the caller's transaction (pass its connection). A row
    whose dedupe key is queued already is left out (the database's unique key), as `enqueue` does for one."""
    await insert_rows(OutboxEmail, rows, connection=connection, skip_conflicts=True)
