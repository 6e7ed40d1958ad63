"""The sandbox's hosted checkout page: what it shows and what paying on it does."""

from __future__ import annotations

from dataclasses import dataclass

from portal.domain.errors import NotFound
from portal.i18n import _
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import ChargeStatus, GatewayError, NewCard


@dataclass(frozen=True)
class CheckoutPage:
    """A sandbox checkout session as its page shows it."""

    session_id: str
    description: str
    amount_minor: int
    currency: str
    method_kinds: list[str]
    success_url: str
    cancel_url: str
    status: str
    locale: str = ""  # the payer's language, given when the checkout was started; empty: unknown


@dataclass(frozen=True)
class CheckoutResult:
    """What happened when the payer pressed Pay."""

    ok: bool
    message: str
    redirect_url: str = ""


async def details(*, session_id: str) -> CheckoutPage:
    """The session behind a sandbox checkout URL."""
    try:
        data = await selector.sandbox().checkout_details(session_id)
    except GatewayError as exc:
        raise NotFound(_("This checkout page does not exist.")) from exc
    return CheckoutPage(
        session_id=data["id"],
        description=data["description"],
        amount_minor=data["amount_total"],
        currency=data["currency"],
        method_kinds=data["method_kinds"],
        success_url=data["success_url"],
        cancel_url=data["cancel_url"],
        status=data["status"],
        locale=str(data.get("locale") or ""),
    )


async def pay(
    *, session_id: str, number: str = "", exp_month: int = 0, exp_year: int = 0, cvc: str = "", iban: str = ""
) -> CheckoutResult:
    """Pay the session with a typed card or IBAN; a decline is reported in plain words."""
    page = await details(session_id=session_id)
    card = None if iban else NewCard(number, exp_month, exp_year, cvc)
    try:
        result = await selector.sandbox().complete_checkout(session_id, card=card, iban=iban)
    except GatewayError as exc:
        return CheckoutResult(False, exc.message)
    if result.status in (ChargeStatus.succeeded, ChargeStatus.processing):
        return CheckoutResult(True, _("Payment accepted."), page.success_url)
    return CheckoutResult(False, result.message or _("The payment was declined."))
