"""Impersonation: an admin views the portal as a client, for a stated reason and for a limited time.

Every start, stop and expiry is audited with the reason; actions taken meanwhile are audited with both the
admin (`actor`) and the client (`on_behalf_of`) by `audit.record`. The client sees each session in its
access history (`history._access`). The session itself (which browser holds it) is the job of
`portal.components.browser_session`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from portal.config import get_settings
from portal.core import audit
from portal.core.actors import Actor, require_admin, require_staff
from portal.core.clock import now_utc
from portal.db.models import Client, ImpersonationSession
from portal.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.domain.status import Role
from portal.i18n import _

REASON_MAX = 500


@dataclass(frozen=True)
class ImpersonationView:
    """One impersonation session as the portal shows it."""

    id: int
    admin_id: int
    client_id: int
    client_name: str
    reason: str
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        """Not stopped and not past its time limit."""
        return self.ended_at is None and self.expires_at > now_utc()


def _view(session: ImpersonationSession, client_name: str) -> ImpersonationView:
    return ImpersonationView(
        id=session.id,
        admin_id=session.admin_id,
        client_id=session.client_id,
        client_name=client_name,
        reason=session.reason,
        started_at=session.started_at,
        expires_at=session.expires_at,
        ended_at=session.ended_at,
    )


def _check_reason(reason: str) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise InvalidInput(
            _("Say why you need to view the portal as this client (for example a support ticket)."),
            field="reason",
        )
    if len(text) > REASON_MAX:
        raise InvalidInput(_("Keep the reason under {limit} characters.", limit=REASON_MAX), field="reason")
    return text


async def _client_name(client_id: int) -> str:
    client = await Client.get_or_none(id=client_id)
    return client.name if client else ""


async def start(*, actor: Actor, client_id: int, reason: str, ip: str = "") -> ImpersonationView:
    """Begin viewing the portal as a client (admins only, with a reason); audited as `impersonation.start`.

    Any other session this admin still has open ends first: an admin views as one client at a time.
    """
    require_admin(actor)
    text = _check_reason(reason)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_("That client does not exist."))
    now = now_utc()
    minutes = get_settings().impersonation_minutes
    async with in_transaction():
        for previous in await ImpersonationSession.filter(
            admin_id=actor.user_id, ended_at__isnull=True, expires_at__gt=now
        ):
            previous.ended_at = now
            await previous.save(update_fields=["ended_at"])
            await audit.record(
                actor=actor,
                action="impersonation.stop",
                subject=f"impersonation:{previous.id}",
                client_id=previous.client_id,
                details={"reason": previous.reason, "impersonation_id": previous.id, "replaced": True},
                ip=ip,
            )
        session = await ImpersonationSession.create(
            admin_id=actor.user_id,
            client_id=client.id,
            reason=text,
            started_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        await audit.record(
            actor=actor,
            action="impersonation.start",
            subject=f"impersonation:{session.id}",
            client_id=client.id,
            details={"reason": text, "impersonation_id": session.id, "minutes": minutes},
            ip=ip,
        )
    return _view(session, client.name)


async def _own_session(actor: Actor) -> ImpersonationSession:
    """The session an impersonating actor is in (refuses anyone else)."""
    if not actor.is_impersonating or actor.impersonation_id is None:
        raise Forbidden(_("You are not viewing the portal as a client."))
    session = await ImpersonationSession.get_or_none(
        id=actor.impersonation_id, admin_id=actor.impersonator_id, client_id=actor.client_id
    )
    if session is None:
        raise NotFound(_("This view as a client no longer exists."))
    return session


async def _close_lapsed(session: ImpersonationSession, actor: Actor, ip: str) -> bool:
    """Mark a session that ran out of time as ended at its time limit; audited once (True: this call did)."""
    closed = await ImpersonationSession.filter(id=session.id, ended_at__isnull=True).update(
        ended_at=session.expires_at
    )
    session.ended_at = session.expires_at
    if closed:
        await audit.record(
            actor=actor,
            action="impersonation.expired",
            subject=f"impersonation:{session.id}",
            client_id=session.client_id,
            details={
                "reason": session.reason,
                "impersonation_id": session.id,
                "minutes": get_settings().impersonation_minutes,
            },
            ip=ip,
        )
    return bool(closed)


async def stop(*, actor: Actor, ip: str = "") -> ImpersonationView:
    """End the actor's impersonation now; audited as `impersonation.stop` (or `.expired` if it had lapsed).

    Stopping twice is harmless: the second call changes nothing.
    """
    session = await _own_session(actor)
    name = await _client_name(session.client_id)
    if session.ended_at is not None:
        return _view(session, name)
    async with in_transaction():
        if session.expires_at <= now_utc():
            await _close_lapsed(session, _admin_of(actor), ip)
            return _view(session, name)
        now = now_utc()
        if not await ImpersonationSession.filter(id=session.id, ended_at__isnull=True).update(ended_at=now):
            await session.refresh_from_db(fields=["ended_at"])
            return _view(session, name)
        session.ended_at = now
        await audit.record(
            actor=actor,
            action="impersonation.stop",
            subject=f"impersonation:{session.id}",
            details={"reason": session.reason},
            ip=ip,
        )
    return _view(session, name)


def _admin_of(actor: Actor) -> Actor:
    """The admin behind an impersonating actor (for entries written after the view ended)."""
    return Actor(
        user_id=actor.impersonator_id or actor.user_id,
        role=Role.admin,
        email="",
        name="",
        locale=actor.locale,
    )


async def current(*, actor: Actor) -> ImpersonationView | None:
    """The impersonating actor's session while it is still running, None once it has ended or lapsed."""
    session = await _own_session(actor)
    view = _view(session, actor.name)
    return view if view.active else None


async def end_lapsed(*, actor: Actor, impersonation_id: int, ip: str = "") -> ImpersonationView:
    """Close a session of this admin that is over (stopped elsewhere or out of time) and return it.

    `portal.components.browser_session` calls this when a browser still holds a session that no longer
    grants the view. A lapsed session gets `ended_at` (its time limit) and an `impersonation.expired` audit
    entry, once. A session that is still running is a conflict: stop it instead.
    """
    require_staff(actor)  # an admin, or one who was demoted meanwhile: both may close their own session
    session = await ImpersonationSession.get_or_none(id=impersonation_id, admin_id=actor.user_id)
    if session is None:
        raise NotFound(_("This view as a client no longer exists."))
    name = await _client_name(session.client_id)
    if session.ended_at is None:
        if session.expires_at > now_utc():
            raise Conflict(_("This view as a client is still running: stop it instead."))
        async with in_transaction():
            await _close_lapsed(session, actor, ip)
    return _view(session, name)


async def close_lapsed_sessions() -> int:
    """Job: close every view that ran out of time while no browser came back to notice (audited once)."""
    closed = 0
    lapsed = await ImpersonationSession.filter(ended_at__isnull=True, expires_at__lte=now_utc())
    for session in lapsed:
        admin = Actor(user_id=session.admin_id, role=Role.admin, email="", name="")
        async with in_transaction():
            closed += await _close_lapsed(session, admin, "")
    return closed
