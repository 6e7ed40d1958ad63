"""The email that invites a client to the portal: choose a password to sign in."""

from __future__ import annotations

from datetime import datetime

from portal.db.models import Organization
from portal.i18n import N_, format_datetime, translate
from portal.mail.compose import Email, brand, button, compose_email, para
from portal.mail.templates import Block


def invitation(*, org: Organization, locale: str, name: str, link: str, expires_at: datetime) -> Email:
    """'Set your password' for a client invited to log in."""
    b = brand(org)
    subject = translate("Set your password for the billing portal", locale)
    blocks: list[Block] = [
        para(
            N_(
                "{org} invited you to its billing portal, where you can see your invoices, pay them "
                "and keep your payment details up to date."
            ),
            locale,
            strong=("org",),
            org=b.name,
        ),
        para(N_("Choose your password to sign in for the first time."), locale),
        button(locale, translate(N_("Set your password"), locale), link),
        para(
            N_("This link works once and expires on {when}. If it has expired, ask us for a new one."),
            locale,
            when=format_datetime(expires_at, locale),
        ),
        para(N_("If you did not expect this invitation, you can ignore this email."), locale),
    ]
    return compose_email(
        name=name,
        locale=locale,
        subject=subject,
        heading=translate(N_("Welcome"), locale),
        blocks=blocks,
        brand_=b,
    )
