"""The mail settings: the server's default SMTP or the organization's own, and the test email (admin only).

The SMTP password is encrypted at rest (portal/core/vault.py) and never leaves this module: views only say
whether one is saved; it never goes into the audit details.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from portal.core import audit, vault
from portal.core.actors import Actor, require_admin
from portal.core.organization import get_organization
from portal.db.models import Organization
from portal.domain.errors import InvalidFields, InvalidInput
from portal.i18n import N_, _
from portal.mail import transport
from portal.mail.transport import MailError, SmtpConfig
from portal.settings.fields import NAME_MAX, collect, raise_if_any, save_fields

SMTP_MODES = ("default", "custom")
TLS_MODES = ("none", "starttls", "tls")
TLS_LABELS = {
    "none": N_("None (plain text)"),
    "starttls": N_("STARTTLS (usually port 587)"),
    "tls": N_("TLS from the start (usually port 465)"),
}
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@{_LABEL}(?:\.{_LABEL})*$")


@dataclass(frozen=True)
class DefaultSmtpView:
    """The server's own SMTP settings, as far as they can be shown (never the password)."""

    host: str
    port: int
    sender: str
    tls: str
    username: str
    password_set: bool


@dataclass(frozen=True)
class EmailView:
    """The mail settings page: which server, the custom server's fields, whether a password is saved."""

    mode: str  # default | custom
    host: str
    port: int
    username: str
    password_saved: bool
    from_address: str
    reply_to: str
    tls: str
    default: DefaultSmtpView


@dataclass(frozen=True)
class SmtpForm:
    """What the admin typed in the mail settings form; an empty password keeps the saved one."""

    mode: str = "default"
    host: str = ""
    port: str | int = 587
    username: str = ""
    password: str = ""
    from_address: str = ""
    reply_to: str = ""
    tls: str = "starttls"
    clear_password: bool = False


@dataclass(frozen=True)
class TestEmailResult:
    """What the test email did: `ok` and the message to show (the server's own answer on failure)."""

    ok: bool
    message: str


def _default_view() -> DefaultSmtpView:
    config = transport.default_config()
    return DefaultSmtpView(
        host=config.host,
        port=config.port,
        sender=config.sender,
        tls=config.tls,
        username=config.username,
        password_set=bool(config.password),
    )


def _email_view(org: Organization) -> EmailView:
    return EmailView(
        mode=org.smtp_mode if org.smtp_mode in SMTP_MODES else "default",
        host=org.smtp_host,
        port=org.smtp_port,
        username=org.smtp_username,
        password_saved=bool(org.smtp_password_enc),
        from_address=org.smtp_from,
        reply_to=org.smtp_reply_to,
        tls=org.smtp_tls if org.smtp_tls in TLS_MODES else "starttls",
        default=_default_view(),
    )


def check_email_address(value: str, *, field: str, required: bool = True) -> str:
    """A plain address ('billing@agency.example'), or InvalidInput on `field`."""
    address = (value or "").strip()
    if not address:
        if required:
            raise InvalidInput(_("Enter an email address."), field=field)
        return ""
    if len(address) > 254 or not _EMAIL.match(address):
        raise InvalidInput(_("Enter a valid email address, for example billing@example.com."), field=field)
    return address


def _check_host(value: str) -> str:
    host = (value or "").strip()
    if not host:
        raise InvalidInput(_("Enter the mail server's name, for example smtp.example.com."), field="host")
    if "://" in host:
        raise InvalidInput(
            _("Enter only the server's name, without smtp:// (for example smtp.example.com)."), field="host"
        )
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host.strip("[]")
    except ValueError:
        pass
    if ":" in host:
        raise InvalidInput(_("Put the port in the Port field, not after the server's name."), field="host")
    if not _HOSTNAME.match(host):
        raise InvalidInput(_("Enter a valid server name, for example smtp.example.com."), field="host")
    return host.lower().rstrip(".")


def _check_port(value: str | int) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidInput(
            _("The port is a whole number from 1 to 65535 (usually 587, 465 or 25)."), field="port"
        )
    return int(text)


def _check_username(value: str) -> str:
    username = (value or "").strip()
    if len(username) > NAME_MAX:
        raise InvalidInput(
            _("The username is too long ({most} characters at most).", most=NAME_MAX), field="username"
        )
    if any(not ch.isprintable() or ch.isspace() for ch in username):
        raise InvalidInput(_("The username cannot contain spaces or line breaks."), field="username")
    return username


def _check_password(value: str) -> str:
    password = value or ""
    if len(password) > 500:
        raise InvalidInput(_("The password is too long (500 characters at most)."), field="password")
    if any(ch in password for ch in "\r\n\x00"):
        raise InvalidInput(_("The password cannot contain line breaks."), field="password")
    return password


def _check_tls(value: str) -> str:
    if value not in TLS_MODES:
        raise InvalidInput(_("Choose how the connection is secured."), field="tls")
    return value


@dataclass(frozen=True)
class _CleanSmtp:
    host: str
    port: int
    username: str
    from_address: str
    reply_to: str
    tls: str
    password: str  # the typed password ('' when none was typed)


def _check_smtp(form: SmtpForm, *, password_saved: bool) -> _CleanSmtp:
    """Every field of a custom SMTP form, all problems at once."""
    errors: dict[str, str | None] = {}
    host = collect(errors, "host", lambda: _check_host(form.host))
    port = collect(errors, "port", lambda: _check_port(form.port))
    username = collect(errors, "username", lambda: _check_username(form.username))
    password = collect(errors, "password", lambda: _check_password(form.password))
    sender = collect(
        errors, "from_address", lambda: check_email_address(form.from_address, field="from_address")
    )
    reply_to = collect(
        errors, "reply_to", lambda: check_email_address(form.reply_to, field="reply_to", required=False)
    )
    tls = collect(errors, "tls", lambda: _check_tls(form.tls))
    if "password" not in errors:
        if form.clear_password and password:
            errors["password"] = _("Either type a new password or clear the saved one, not both.")
        elif username and not password and (form.clear_password or not password_saved):
            errors["password"] = _("Enter the password for this username.")
        elif password and not username and "username" not in errors:
            errors["username"] = _("Enter the username this password belongs to.")
    raise_if_any(errors)
    return _CleanSmtp(
        host=str(host),
        port=int(port),  # type: ignore[arg-type]
        username=str(username),
        from_address=str(sender),
        reply_to=str(reply_to),
        tls=str(tls),
        password=str(password),
    )


def _check_mode(mode: str) -> str:
    if mode not in SMTP_MODES:
        raise InvalidInput(
            _("Choose the server's default mail settings or your own SMTP server."), field="mode"
        )
    return mode


async def get_email_settings(*, actor: Actor) -> EmailView:
    """The mail settings page's values (the password only as 'saved' or not)."""
    require_admin(actor)
    return _email_view(await get_organization())


async def update_email_settings(*, actor: Actor, form: SmtpForm) -> EmailView:
    """Use the server's default SMTP or the organization's own; an empty password keeps the saved one.

    In default mode only the choice is stored (the custom fields are kept for later); in custom mode every
    field is checked first and nothing changes when one is wrong.
    """
    require_admin(actor)
    mode = _check_mode(form.mode)
    org = await get_organization()
    if mode == "default":
        if org.smtp_mode != "default":
            async with in_transaction():
                org.smtp_mode = "default"
                await save_fields(org, ["smtp_mode"])
                await audit.record(actor=actor, action="settings.email", details={"mode": "default"})
        return _email_view(org)
    clean = _check_smtp(form, password_saved=bool(org.smtp_password_enc))
    if clean.password:
        password_change, encrypted = "changed", vault.encrypt(clean.password)
    elif form.clear_password:
        password_change, encrypted = ("cleared" if org.smtp_password_enc else "unchanged"), ""
    else:
        password_change, encrypted = "unchanged", org.smtp_password_enc
    values = {
        "smtp_mode": "custom",
        "smtp_host": clean.host,
        "smtp_port": clean.port,
        "smtp_username": clean.username,
        "smtp_from": clean.from_address,
        "smtp_reply_to": clean.reply_to,
        "smtp_tls": clean.tls,
    }
    changed = [field for field, value in values.items() if getattr(org, field) != value]
    if changed or password_change != "unchanged":
        async with in_transaction():
            for field in changed:
                setattr(org, field, values[field])
            org.smtp_password_enc = encrypted
            await save_fields(org, [*changed, "smtp_password_enc"])
            details = {field.removeprefix("smtp_"): values[field] for field in changed}
            details["password"] = password_change
            await audit.record(actor=actor, action="settings.email", details=details)
    return _email_view(org)


async def _test_config(form: SmtpForm, org: Organization) -> SmtpConfig:
    """The SMTP settings as typed (unsaved); the saved password when none was typed."""
    mode = _check_mode(form.mode)
    if mode == "default":
        return transport.default_config(sender_name=org.name)
    clean = _check_smtp(form, password_saved=bool(org.smtp_password_enc))
    password = clean.password or ("" if form.clear_password else vault.decrypt(org.smtp_password_enc))
    return SmtpConfig(
        host=clean.host,
        port=clean.port,
        username=clean.username,
        password=password,
        sender=clean.from_address,
        reply_to=clean.reply_to,
        tls=clean.tls,  # type: ignore[arg-type]
        sender_name=org.name,
    )


async def send_test_email(*, actor: Actor, to: str, form: SmtpForm) -> TestEmailResult:
    """Send a test email with the settings as typed (before saving them); the server's answer on failure."""
    require_admin(actor)
    errors: dict[str, str | None] = {}
    address = collect(errors, "test_to", lambda: check_email_address(to, field="test_to"))
    org = await get_organization()
    try:
        config = await _test_config(form, org)
    except InvalidFields as exc:
        errors.update(exc.errors)
    except InvalidInput as exc:
        errors[exc.field or "mode"] = exc.message
    raise_if_any(errors)
    try:
        await transport.send_test_email(to=str(address), config=config)
    except MailError as exc:
        result = TestEmailResult(
            ok=False, message=_("The test email was not sent: {reason}", reason=exc.message)
        )
    else:
        result = TestEmailResult(ok=True, message=_("Test email sent to {address}.", address=address))
    await audit.record(
        actor=actor,
        action="settings.email.test",
        details={"to": address, "mode": form.mode, "host": config.host, "port": config.port, "ok": result.ok},
    )
    return result
