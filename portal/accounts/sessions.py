"""Accounts: sign-in with lockout, one-time session tokens, loading the actor of a session."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from portal.accounts import passwords
from portal.config import get_settings
from portal.core import audit
from portal.core.actors import Actor
from portal.core.clock import now_utc
from portal.db.models import Client, ImpersonationSession, LoginAttempt, OneTimeToken, User
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.status import Role
from portal.domain.tokens import hash_token, new_token
from portal.i18n import N_, SUPPORTED, _, format_time, ngettext, normalize_locale

WRONG_CREDENTIALS = N_("Wrong email or password.")
LINK_NO_LONGER_VALID = N_("This sign-in link is no longer valid.")
IP_MAX_FAILURES = 20
SESSION_TOKEN_SECONDS = 60


def normalize_email(email: str) -> str:
    """Trim and lower-case an email address."""
    return (email or "").strip().lower()


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return ngettext(
        "Too many failed sign-in attempts. Try again after {time} UTC (in {count} minute).",
        "Too many failed sign-in attempts. Try again after {time} UTC (in {count} minutes).",
        minutes,
        time=format_time(until),
    )


async def _locked_until(
    *, email: str, ip: str, now: datetime, other_than: int | None = None
) -> datetime | None:
    """When a lockout of this account or address ends, or None if there is none (`other_than`: leave
    that attempt out of the count)."""
    settings = get_settings()
    window = timedelta(minutes=settings.login_window_minutes)
    since = now - window
    attempts = LoginAttempt.exclude(id=other_than) if other_than is not None else LoginAttempt.all()
    recent = await attempts.filter(email=email, at__gte=since).order_by("-at").values("at", "succeeded")
    failures: list[datetime] = []
    for row in recent:
        if row["succeeded"]:
            break
        failures.append(row["at"])
    candidates = []
    if len(failures) >= settings.login_max_failures:
        candidates.append(failures[settings.login_max_failures - 1] + window)
    if ip:
        ip_failures = (
            await attempts.filter(ip=ip, succeeded=False, at__gte=since)
            .order_by("-at")
            .limit(IP_MAX_FAILURES)
            .values_list("at", flat=True)
        )
        if len(ip_failures) >= IP_MAX_FAILURES:
            candidates.append(ip_failures[-1] + window)
    return max(candidates) if candidates else None


async def authenticate(*, email: str, password: str, ip: str = "") -> Actor:
    """Check an email and password; raise InvalidInput (wrong) or Conflict (locked out)."""
    email = normalize_email(email)
    if not email or not password:
        raise InvalidInput(_("Enter your email and password."), field="email" if not email else "password")
    now = now_utc()
    until = await _locked_until(email=email, ip=ip, now=now)
    if until is not None and until > now:
        raise Conflict(_locked_message(until, now))
    # Counted as a failure before the password is checked, then the count is read again: guesses sent at
    # the same moment see each other, so no more than the limit are ever checked, one by one or all at once
    # (each is written before it counts the others, so the last of any six to count sees five).
    attempt = await LoginAttempt.create(email=email, ip=ip, succeeded=False)
    until = await _locked_until(email=email, ip=ip, now=now, other_than=attempt.id)
    if until is not None and until > now:
        raise Conflict(_locked_message(until, now))
    user = await User.get_or_none(email=email)
    ok = await passwords.verify_password(password, user.password_hash if user else None)
    ok = ok and user is not None and user.is_active
    if ok:
        await LoginAttempt.filter(id=attempt.id).update(succeeded=True)
    if not ok or user is None:
        raise InvalidInput(_(WRONG_CREDENTIALS))
    user.last_login_at = now
    await user.save(update_fields=["last_login_at"])
    actor = await _actor_for(user)
    await audit.record(
        actor=actor, action="login", subject=f"user:{user.id}", client_id=user.client_id, ip=ip
    )
    return actor


async def _actor_for(user: User, *, client_locale: str | None = None) -> Actor:
    """The actor a user acts as; `client_locale`: their client record's language, when read already."""
    locale = (
        normalize_locale(client_locale)
        if client_locale is not None and user.role == Role.client
        else await reading_locale(user)
    )
    return Actor(
        user_id=user.id,
        role=Role(user.role),
        email=user.email,
        name=user.full_name or user.email,
        client_id=user.client_id if user.role == Role.client else None,
        locale=locale,
    )


async def reading_locale(user: User) -> str:
    """The language a person reads the portal in from sign-in on: a client's is the language stored on
    their client record (the one their emails are written in, set by staff or by the client in the menu);
    staff read in their own account's."""
    if user.role == Role.client and user.client_id is not None:
        stored = await Client.filter(id=user.client_id).values_list("locale", flat=True)
        if stored:
            return normalize_locale(str(stored[0]))
    return normalize_locale(user.locale)


@dataclass(frozen=True)
class SessionGrant:
    """What a consumed one-time session token grants: the session to start (user_id None = signed out)."""

    user_id: int | None
    impersonation_id: int | None = None
    next_url: str = "/"
    payload: dict[str, Any] = field(default_factory=dict)
    notice: dict[str, str] = field(default_factory=dict)  # shown once on the next page (see auth)


async def issue_session_token(
    *,
    user_id: int | None,
    bound_to: str,
    next_url: str = "/",
    impersonation_id: int | None = None,
    notice: dict[str, str] | None = None,
) -> str:
    """A single-use token, valid for a minute, that only the browser session `bound_to` can exchange."""
    token, digest = new_token()
    await OneTimeToken.create(
        token_hash=digest,
        purpose="session",
        user_id=user_id,
        payload={
            "next": safe_next(next_url),
            "impersonation_id": impersonation_id,
            "session": hash_token(bound_to),
            "notice": dict(notice or {}),
        },
        expires_at=now_utc() + timedelta(seconds=SESSION_TOKEN_SECONDS),
    )
    return token


async def consume_session_token(*, token: str, bound_to: str) -> SessionGrant:
    """Exchange a session token once, from the session it was issued to; otherwise raise NotFound."""
    now = now_utc()
    row = await OneTimeToken.get_or_none(
        token_hash=hash_token(token or ""), purpose="session", used_at__isnull=True, expires_at__gt=now
    )
    if row is None or row.payload.get("session") != hash_token(bound_to):
        raise NotFound(_(LINK_NO_LONGER_VALID))
    # the conditional update is the atomic "use once", on SQLite and PostgreSQL alike
    if await OneTimeToken.filter(id=row.id, used_at__isnull=True).update(used_at=now) != 1:
        raise NotFound(_(LINK_NO_LONGER_VALID))
    return SessionGrant(
        user_id=row.user_id,
        impersonation_id=row.payload.get("impersonation_id"),
        next_url=row.payload.get("next") or "/",
        notice=dict(row.payload.get("notice") or {}),
    )


def safe_next(url: str | None) -> str:
    """Only same-site paths are allowed as a redirect target after sign-in."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url


async def load_actor(*, user_id: int | None, impersonation_id: int | None = None) -> Actor | None:
    """Reload the session's user from the database (None when signed out, gone or deactivated)."""
    if user_id is None:
        return None
    user = await User.get_or_none(id=user_id).select_related("client")  # one statement, every page
    if user is None or not user.is_active:
        return None
    actor = await _actor_for(user, client_locale=user.client.locale if user.client_id else None)
    if impersonation_id is None or user.role != Role.admin:
        return actor
    session = await ImpersonationSession.get_or_none(id=impersonation_id, admin_id=user.id)
    if session is None or session.ended_at is not None or session.expires_at <= now_utc():
        return actor
    client = await Client.get_or_none(id=session.client_id)
    if client is None:
        return actor
    # The acting user is the client's own sign-in account, or 0 ("no account") when the client has none:
    # never the admin's id, so nothing keyed on `user_id` can reach the admin's own account or rights.
    # Who really acts is `impersonator_id`, which the audit trail and every `*_by` column record.
    client_user = (
        await User.filter(client_id=client.id, role=Role.client, is_active=True).order_by("id").first()
    )
    return Actor(
        user_id=client_user.id if client_user else 0,
        role=Role.client,
        email=client.email,
        name=client.name,
        client_id=client.id,
        impersonator_id=user.id,
        impersonation_id=session.id,
        locale=user.locale,
    )


async def create_user(
    *,
    email: str,
    password: str,
    role: Role,
    full_name: str = "",
    client_id: int | None = None,
) -> int:
    """Create a sign-in account; return its id."""
    email = normalize_email(email)
    if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
        raise InvalidInput(_("Enter a valid email address."), field="email")
    passwords.check_strength(password)
    if role == Role.client and client_id is None:
        raise InvalidInput(_("A client account must belong to a client."), field="client")
    if await User.exists(email=email):
        raise Conflict(_("An account for {email} already exists.", email=email))
    user = await User.create(
        email=email,
        password_hash=await passwords.hash_password(password),
        role=role.value,
        full_name=full_name,
        client_id=client_id if role == Role.client else None,
    )
    return user.id


async def set_user_locale(*, actor: Actor, locale: str) -> None:
    """Change the language the acting person reads the portal in (while viewing as a client: the admin's)."""
    code = (locale or "").strip().lower()
    if code not in SUPPORTED or normalize_locale(code) != code:
        raise InvalidInput(_("Choose English or French."), field="locale")
    user_id = actor.impersonator_id or actor.user_id
    user = await User.get_or_none(id=user_id, is_active=True) if user_id else None
    if user is None:
        raise NotFound(_("That account does not exist."))
    previous = await reading_locale(user)
    if previous == code and user.locale == code:
        return
    user.locale = code
    await user.save(update_fields=["locale"])
    if user.role == Role.client and user.client_id is not None and not actor.is_impersonating:
        # A client's choice is their language from now on: the portal after the next sign-in and the
        # emails, which follow the client record.
        await Client.filter(id=user.client_id).update(locale=code)
    await audit.record(
        actor=actor,
        action="user.locale",
        subject=f"user:{user.id}",
        client_id=user.client_id,
        details={"from": previous, "to": code},
    )
