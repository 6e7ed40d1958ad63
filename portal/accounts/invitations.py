"""Inviting a client to log in, and setting a password from the emailed link.

The link carries a random token; only its SHA-256 is stored (`OneTimeToken`, purpose "set_password").
It works once, for 72 hours, and a newer invitation replaces older links of the same person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from portal.accounts import passwords
from portal.config import get_settings
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import now_utc
from portal.core.organization import get_organization
from portal.db.models import Client, OneTimeToken, User
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.status import Role
from portal.domain.tokens import hash_token, new_token
from portal.i18n import _
from portal.mail import account_emails
from portal.mail.outbox import enqueue

PURPOSE = "set_password"
VALID_FOR = timedelta(hours=72)
SET_PASSWORD_PATH = "/set-password"


@dataclass(frozen=True)
class Invitation:
    """What an invitation did: who gets the link, until when it works, the queued email."""

    user_id: int
    email: str
    expires_at: datetime
    outbox_id: int | None
    created_user: bool


@dataclass(frozen=True)
class SetPasswordTarget:
    """Whom a valid set-password link is for."""

    email: str
    name: str
    expires_at: datetime
    locale: str


def set_password_link(token: str) -> str:
    """The absolute link an invitation email carries."""
    return f"{get_settings().public_url.rstrip('/')}{SET_PASSWORD_PATH}?token={token}"


async def invite_client(*, actor: Actor, client_id: int) -> Invitation:
    """Staff: create (or reuse) the client's login without a usable password and email a set-password link.

    The login, the token and the email are written in one transaction; older unused links of the same
    login stop working.
    """
    require_staff(actor)
    now = now_utc()
    async with in_transaction():
        client = await Client.select_for_update().get_or_none(id=client_id)
        if client is None:
            raise NotFound(_("That client does not exist."))
        if client.archived:
            raise Conflict(
                _("{name} is archived; restore the client before inviting them.", name=client.name)
            )
        user = await User.filter(client_id=client_id, role=Role.client).order_by("id").first()
        created = user is None
        if user is None:
            if await User.exists(email=client.email.lower()):
                raise Conflict(
                    _(
                        "Someone else already signs in with {email}; give the client another email address.",
                        email=client.email,
                    )
                )
            user = await User.create(
                email=client.email.lower(),
                full_name=client.name,
                password_hash="",
                role=Role.client.value,
                client_id=client_id,
                locale=client.locale,
            )
        elif not user.is_active:
            raise Conflict(_("The login of {name} is switched off.", name=client.name))
        await OneTimeToken.filter(user_id=user.id, purpose=PURPOSE, used_at__isnull=True).update(used_at=now)
        token, digest = new_token()
        expires_at = now + VALID_FOR
        await OneTimeToken.create(
            token_hash=digest,
            purpose=PURPOSE,
            user_id=user.id,
            payload={"client_id": client_id, "invited_by": actor.user_id},
            expires_at=expires_at,
        )
        email = account_emails.invitation(
            org=await get_organization(),
            locale=client.locale,
            name=client.name,
            link=set_password_link(token),
            expires_at=expires_at,
        )
        outbox_id = await enqueue(
            kind="invitation",
            to=user.email,
            subject=email.subject,
            text=email.text,
            html=email.html,
            client_id=client_id,
        )
        await audit.record(
            actor=actor,
            action="client.invite",
            subject=f"user:{user.id}",
            client_id=client_id,
            details={"email": user.email, "created_user": created},
        )
    return Invitation(
        user_id=user.id, email=user.email, expires_at=expires_at, outbox_id=outbox_id, created_user=created
    )


async def _usable_token(token: str, now: datetime) -> OneTimeToken:
    """The stored token behind a link, or NotFound saying why it cannot be used."""
    row = None
    if isinstance(token, str) and 20 <= len(token) <= 200:
        row = await OneTimeToken.get_or_none(token_hash=hash_token(token), purpose=PURPOSE)
    if row is None or row.user_id is None:
        raise NotFound(_("This link is not valid. Check that you copied the whole link from the email."))
    if row.used_at is not None:
        raise NotFound(
            _("This link has already been used. Sign in with your password, or ask us for a new link.")
        )
    if row.expires_at <= now:
        raise NotFound(_("This link has expired. Ask us to send you a new invitation."))
    return row


async def check_set_password_token(*, token: str) -> SetPasswordTarget:
    """Who a set-password link is for; NotFound with the reason when it is invalid, used or expired."""
    row = await _usable_token(token, now_utc())
    user = await User.get_or_none(id=row.user_id)
    if user is None or not user.is_active:
        raise NotFound(_("This link is not valid. Check that you copied the whole link from the email."))
    return SetPasswordTarget(
        email=user.email, name=user.full_name or user.email, expires_at=row.expires_at, locale=user.locale
    )


async def set_password(*, token: str, password: str, confirm: str) -> str:
    """Set the password of the link's login and use the link up (once, atomically); return the email."""
    if password != confirm:
        raise InvalidInput(_("The two passwords are not the same."), field="confirm")
    try:
        passwords.check_strength(password)
    except InvalidInput:
        raise InvalidInput(
            _("Use at least {count} characters.", count=passwords.MIN_LENGTH), field="password"
        ) from None
    await check_set_password_token(token=token)  # says why a link cannot be used before the slow hash
    password_hash = await passwords.hash_password(password)  # slow on purpose: before the transaction
    now = now_utc()
    async with in_transaction():
        row = await _usable_token(token, now)
        # the conditional update is the atomic "use once", on SQLite and PostgreSQL alike
        unused = OneTimeToken.filter(id=row.id, used_at__isnull=True, expires_at__gt=now)
        if await unused.update(used_at=now) != 1:
            raise NotFound(
                _("This link has already been used. Sign in with your password, or ask us for a new link.")
            )
        await User.filter(id=row.user_id).update(password_hash=password_hash)
        user = await User.get(id=row.user_id)
        await audit.record(
            actor=None,
            action="user.set_password",
            subject=f"user:{user.id}",
            client_id=user.client_id,
            details={"via": "invitation"},
        )
    return user.email
