"""SMTP sending with aiosmtplib: which server to use, how an outbox row becomes a message, what failed.

Every failure becomes a `MailError` that says whether retrying can help (`permanent=False`: connection
errors, timeouts, 4xx answers) or not (`permanent=True`: 5xx answers, a refused username or password),
with the server's own answer in the text so that the settings page and the client record can show it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Literal

import aiosmtplib

from portal.config import get_settings
from portal.core import vault
from portal.core.clock import now_utc
from portal.db.models import Organization, OutboxEmail

log = logging.getLogger(__name__)

TIMEOUT = 20.0  # seconds, for connecting and for each SMTP command
Tls = Literal["none", "starttls", "tls"]


class MailError(Exception):
    """Sending failed; `permanent` is True when retrying the same message cannot succeed."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send; the password never appears in repr() (and so never in a log line)."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    sender: str
    reply_to: str = ""
    tls: Tls = "starttls"
    sender_name: str = ""  # the organization's name, shown as From's display name


async def smtp_config() -> SmtpConfig:
    """The organization's custom SMTP when it chose one (password decrypted), else the server's default."""
    org = await Organization.get_or_none(id=1)
    name = org.name if org else ""
    if org is not None and org.smtp_mode == "custom":
        if not org.smtp_host or not org.smtp_from:
            raise MailError("Custom SMTP is switched on but its host or From address is missing.", True)
        password = vault.decrypt(org.smtp_password_enc)
        if org.smtp_password_enc and not password:
            log.warning("the custom SMTP password cannot be decrypted (was SECRET_KEY changed?)")
        return SmtpConfig(
            host=org.smtp_host,
            port=org.smtp_port,
            username=org.smtp_username,
            password=password,
            sender=org.smtp_from,
            reply_to=org.smtp_reply_to,
            tls=_tls(org.smtp_tls),
            sender_name=name,
        )
    return default_config(sender_name=name)


def default_config(*, sender_name: str = "") -> SmtpConfig:
    """The server's own SMTP settings (SMTP_* in the environment)."""
    settings = get_settings()
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        tls=settings.smtp_tls,
        sender_name=sender_name,
    )


def _tls(value: str) -> Tls:
    return value if value in ("none", "tls") else "starttls"  # type: ignore[return-value]


def _address(value: str, display_name: str = "") -> Address:
    """An `Address` from 'a@b.c' or 'Name <a@b.c>'; `display_name` wins over a name in the text."""
    parsed_name, addr = parseaddr(value)
    return Address(display_name=display_name or parsed_name, addr_spec=addr or value)


def _compose(
    *, config: SmtpConfig, to: str, reply_to: str, subject: str, text: str, html: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = _address(config.sender, config.sender_name)
    message["To"] = to
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(now_utc())
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def build_message(row: OutboxEmail, config: SmtpConfig) -> EmailMessage:
    """The email for an outbox row; its Message-ID is the row's, the same on every attempt."""
    return _compose(
        config=config,
        to=row.to_address,
        reply_to=row.reply_to or config.reply_to,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        message_id=row.message_id,
    )


def _answer(exc: aiosmtplib.SMTPResponseException) -> str:
    """The server's answer as it sent it: '550 5.7.1 Message rejected'."""
    return f"{exc.code} {exc.message}".strip()


def _classify(exc: Exception, config: SmtpConfig) -> MailError:
    """Turn an aiosmtplib (or socket) error into a MailError that says what happened."""
    where = f"{config.host}:{config.port}"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        if 400 <= exc.code < 500:
            return MailError(f"The mail server could not check the login just now ({_answer(exc)}).", False)
        return MailError(f"The mail server refused the username or password ({_answer(exc)}).", True)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        answers = [_answer(r) for r in exc.recipients]
        temporary = any(400 <= r.code < 500 for r in exc.recipients)
        return MailError(f"The mail server refused the recipient ({'; '.join(answers)}).", not temporary)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 400:
        if exc.code >= 500:
            return MailError(f"The mail server refused the message ({_answer(exc)}).", True)
        return MailError(f"The mail server asked to try again later ({_answer(exc)}).", False)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return MailError(f"The mail server at {where} does not support this: {exc}", True)
    if isinstance(exc, (aiosmtplib.SMTPTimeoutError, TimeoutError)):
        return MailError(f"The mail server at {where} did not answer in time ({exc}).", False)
    if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError)):
        return MailError(f"Could not talk to the mail server at {where} ({exc}).", False)
    return MailError(f"Sending through {where} failed ({type(exc).__name__}: {exc}).", False)


async def send(message: EmailMessage, config: SmtpConfig) -> None:
    """Deliver one message to the SMTP server; raises MailError (permanent or temporary)."""
    login = bool(config.username)
    try:
        await aiosmtplib.send(
            message,
            hostname=config.host,
            port=config.port,
            username=config.username if login else None,
            password=config.password if login else None,
            use_tls=config.tls == "tls",
            start_tls=config.tls == "starttls",
            timeout=TIMEOUT,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:  # OSError includes TimeoutError and ssl.SSLError
        raise _classify(exc, config) from exc


async def send_test_email(*, to: str, config: SmtpConfig) -> str:
    """Send a short test message (the settings page's button); the answer to show, or MailError."""
    to = (to or "").strip()
    if "@" not in to or " " in to:
        raise MailError("Enter the email address the test should go to.", True)
    name = config.sender_name or "the billing portal"
    message = _compose(
        config=config,
        to=to,
        reply_to=config.reply_to,
        subject=f"Test email from {name}",
        text=f"This is a test email from {name}.\n\nIf you can read it, the mail settings work.\n",
        html="",
        message_id=make_msgid(domain="billing-portal"),
    )
    await send(message, config)
    log.info("test email sent to %s through %s:%s", to, config.host, config.port)
    return f"Test email sent to {to}."
