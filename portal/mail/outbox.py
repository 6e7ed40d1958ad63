"""The outbox: mail written inside the business transaction, sent after commit by the worker."""

from __future__ import annotations

import secrets

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.db.models import OutboxEmail


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
) -> int | None:
    """Queue one email; with a dedupe key, the same message is queued once (returns None the second time)."""
    message_id = f"<{secrets.token_hex(16)}@billing-portal>"
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
            )
    except IntegrityError:
        if dedupe_key and await OutboxEmail.exists(dedupe_key=dedupe_key):
            return None
        raise
    return row.id
