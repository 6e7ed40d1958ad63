"""The audit trail: who did what, for whom."""

from __future__ import annotations

from typing import Any

from portal.db.models import AuditEntry
from portal.services.actors import Actor


async def record(
    *,
    actor: Actor | None,
    action: str,
    subject: str = "",
    client_id: int | None = None,
    details: dict[str, Any] | None = None,
    ip: str = "",
) -> None:
    """Append an audit entry; an impersonating admin is recorded with the client they act for."""
    user_id = None
    if actor is not None:
        user_id = actor.impersonator_id or actor.user_id
        if actor.is_impersonating:
            client_id = actor.client_id
            details = {**(details or {}), "impersonation_id": actor.impersonation_id}
    await AuditEntry.create(
        actor_id=user_id,
        on_behalf_of_id=client_id,
        action=action,
        subject=subject,
        details=details or {},
        ip=ip,
    )
