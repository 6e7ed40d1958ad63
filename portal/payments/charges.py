"""Online payments: Pay Now with a saved method or a new card, credit, refunds, auto-charge, receipts.

How a charge stays exactly-once:
1. In one transaction the target (invoice, billing request, credit request) is locked and a *pending*
   Payment row is written with an idempotency key made of our ids (`invoice:42:attempt:3`). A second
   click finds the pending row and is refused; two racing clicks collide on the unique key.
2. The gateway is called outside any transaction, with that idempotency key (`charge_pending`: the one
   online charge, used by Pay Now, staff charges, auto-charge and a subscription's first period).
3. `settle` moves the row from pending to succeeded with a conditional update (only one caller can win:
   this service, a webhook, the sandbox's own event, or reconciliation) and allocates the money in the
   same transaction. A failure keeps the invoice unpaid and stores the decline reason in plain words.
4. A retry that finds an earlier attempt still pending and not being charged by this process (its process
   died before or after calling the gateway, or the answer was lost) concludes it first, in the same
   request (`_conclude_earlier`): the same create call is sent again under the same idempotency key, so the
   gateway charges it now if it never saw it or answers with what it did the first time, and the answer
   goes through `_finish` like any other. Only then, if that attempt failed, is a new one started.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, check_client_access, require_staff
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.db.models import (
    BillingRequest,
    Client,
    CreditRequest,
    Invoice,
    Payment,
    PaymentMethod,
)
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import format_money
from portal.domain.status import (
    BillingRequestStatus,
    CreditRequestStatus,
    InvoiceStatus,
    PaymentSource,
    PaymentStatus,
)
from portal.i18n import N_, _, get_locale
from portal.mail import payment_emails
from portal.mail.outbox import enqueue
from portal.payments import methods
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import (
    ChargeResult,
    ChargeStatus,
    GatewayError,
    GatewayPayment,
    PaymentGateway,
)
from portal.payments.ledger import (
    amount_due,
)
from portal.payments.methods import OTHER_ACCOUNT_METHOD, ensure_customer
from portal.payments.settlement import DECLINED_MESSAGE, fail_payment, settle

log = logging.getLogger(__name__)

PROCESSING_MESSAGE = N_("Your payment is being processed. This page updates as soon as the bank answers.")
IN_PROGRESS_MESSAGE = N_("A payment for this is already being processed. Please wait a moment.")
NEEDS_PAYER_MESSAGE = N_("Your bank asks you to confirm this payment. Please pay with a new card instead.")
EARLIER_PAID_MESSAGE = N_(
    "Your earlier payment of {amount} with {method} went through, so nothing more was charged. Thank you!"
)
UNCONFIRMED_MESSAGE = N_(
    "An earlier attempt to pay this could not be confirmed with the bank yet ({problem}). Nothing more was "
    "charged: please try again in a moment."
)
NOT_REACHED_MESSAGE = N_("The payment did not reach the bank.")
CHECKOUT_REUSE = timedelta(hours=23)
KEY_LIFETIME = timedelta(hours=23)
"""How long the gateway surely remembers an idempotency key (Stripe: at least 24 hours). An older attempt is
looked for in the gateway's list of payments instead of being sent again."""

_IN_FLIGHT: set[int] = set()
"""Payments whose gateway call this process is making right now: a click that finds one of them pending is
told to wait. Any other pending attempt was left by a process that died (or lost the answer) and is
concluded at once; in another process the same create call, under the same key, is still charged once."""


INVOICE_NOT_FOUND = N_("That invoice does not exist.")
REQUEST_NOT_FOUND = N_("That billing request does not exist.")
CREDIT_NOT_FOUND = N_("That credit request does not exist.")
NOT_FOUND = {
    "invoice": INVOICE_NOT_FOUND,
    "billing_request": REQUEST_NOT_FOUND,
    "credit_request": CREDIT_NOT_FOUND,
}


@dataclass(frozen=True)
class PayOutcome:
    """What the payer is told after pressing Pay."""

    status: str  # succeeded | failed | processing | redirect
    message: str
    payment_id: int | None = None
    redirect_url: str = ""
    amount_minor: int = 0  # the amount of this payment (succeeded or processing), in `currency`
    currency: str = ""


@dataclass(frozen=True)
class Target:
    """What is being paid: its kind, id, client, amount still due and currency."""

    purpose: str  # invoice | billing_request | credit_request
    id: int
    client_id: int
    amount_minor: int
    currency: str
    description: str
    invoice_id: int | None = None


# -- targets --------------------------------------------------------------------------------------
def _check_visible(actor: Actor | None, client_id: int | None, purpose: str) -> None:
    """Another client's record reads as missing, before its state (paid, expired) could say it exists."""
    if actor is not None:
        check_client_access(actor, client_id, message=NOT_FOUND[purpose])


async def load_target(
    *, purpose: str, target_id: int, lock: bool = False, visible_to: Actor | None = None
) -> Target:
    """The payable thing behind an id; NotFound if it does not exist (or `visible_to` may not see it),
    Conflict if it cannot be paid."""
    if purpose == "invoice":
        query = Invoice.select_for_update() if lock else Invoice
        invoice = await query.get_or_none(id=target_id)
        if invoice is None or invoice.status in (InvoiceStatus.draft, InvoiceStatus.deleted):
            raise NotFound(_(INVOICE_NOT_FOUND))
        _check_visible(visible_to, invoice.client_id, "invoice")
        if invoice.billing_request_id is not None:  # paying it means paying its billing request
            return await load_target(
                purpose="billing_request",
                target_id=invoice.billing_request_id,
                lock=lock,
                visible_to=visible_to,
            )
        due = await amount_due(invoice)
        if invoice.status == InvoiceStatus.paid or due <= 0:
            raise Conflict(_("This invoice is already paid."))
        return Target(
            "invoice",
            invoice.id,
            invoice.client_id,
            due,
            invoice.currency,
            _("Invoice {number}", number=invoice.number),
            invoice.id,
        )
    if purpose == "billing_request":
        query = BillingRequest.select_for_update() if lock else BillingRequest
        request = await query.get_or_none(id=target_id)
        if request is None or request.status == BillingRequestStatus.deleted or request.client_id is None:
            raise NotFound(_(REQUEST_NOT_FOUND))
        _check_visible(visible_to, request.client_id, "billing_request")
        if request.status == BillingRequestStatus.paid:
            raise Conflict(_("This billing request is already paid."))
        if request.status == BillingRequestStatus.expired or (
            request.expires_at and request.expires_at <= now_utc()
        ):
            raise Conflict(_("This billing request has expired. Please ask for a new one."))
        invoice = await Invoice.filter(billing_request_id=request.id).first()
        return Target(
            "billing_request",
            request.id,
            request.client_id,
            request.amount_minor,
            request.currency,
            request.description or _("Billing request"),
            invoice.id if invoice else None,
        )
    if purpose == "credit_request":
        query = CreditRequest.select_for_update() if lock else CreditRequest
        credit = await query.get_or_none(id=target_id)
        if credit is None or credit.status == CreditRequestStatus.deleted:
            raise NotFound(_(CREDIT_NOT_FOUND))
        _check_visible(visible_to, credit.client_id, "credit_request")
        if credit.status == CreditRequestStatus.paid:
            raise Conflict(_("This credit request is already paid."))
        return Target(
            "credit_request",
            credit.id,
            credit.client_id,
            credit.amount_minor,
            credit.currency,
            credit.description or _("Credit request"),
        )
    raise InvalidInput(_("Unknown payment purpose."), field="purpose")


def _target_filter(target: Target) -> Q:
    if target.purpose == "invoice":
        return Q(invoice_id=target.id, purpose="invoice")
    if target.purpose == "billing_request":
        return Q(billing_request_id=target.id)
    return Q(credit_request_id=target.id)


def _target_fields(target: Target) -> dict[str, int | None]:
    return {
        "invoice_id": target.invoice_id,
        "billing_request_id": target.id if target.purpose == "billing_request" else None,
        "credit_request_id": target.id if target.purpose == "credit_request" else None,
    }


async def begin_payment(
    target: Target,
    *,
    gateway: PaymentGateway,
    method: PaymentMethod | None,
    actor: Actor | None,
    idempotency_key: str | None = None,
) -> Payment:
    """Write the pending payment (inside the caller's transaction, with the target locked), to be taken to
    its end by `charge_pending` (or a hosted checkout)."""
    attempts = await Payment.filter(_target_filter(target)).count()
    key = idempotency_key or f"{target.purpose}:{target.id}:attempt:{attempts + 1}"
    try:
        async with in_transaction():
            return await Payment.create(
                client_id=target.client_id,
                amount_minor=target.amount_minor,
                currency=target.currency,
                status=PaymentStatus.pending,
                source=PaymentSource.online,
                method=method.kind if method else "card",
                payment_method_id=method.id if method else None,
                gateway=gateway.key,
                idempotency_key=key,
                purpose=target.purpose,
                received_on=today(),
                recorded_by_id=actor.impersonator_id or actor.user_id if actor and actor.is_staff else None,
                **_target_fields(target),
            )
    except IntegrityError as exc:  # another click took the same attempt number
        raise Conflict(_(IN_PROGRESS_MESSAGE)) from exc


# -- paying ---------------------------------------------------------------------------------------
async def _client_method(client_id: int, method_id: int) -> PaymentMethod:
    method = await PaymentMethod.get_or_none(id=method_id, client_id=client_id, detached_at__isnull=True)
    if method is None:
        raise NotFound(_("That payment method does not exist."))
    return method


async def pay_with_saved_method(
    *,
    actor: Actor | None,
    purpose: str,
    target_id: int,
    method_id: int | None = None,
    gateway: PaymentGateway | None = None,
    idempotency_key: str | None = None,
) -> PayOutcome:
    """Charge a stored method (the client's default when none is named) for what is due.

    `idempotency_key` (e.g. one per console dialog) makes the payment row and the gateway call carry that
    key instead of the next attempt number; the caller answers a repeat from the row it finds under it.
    """
    gateway = gateway or await selector.current_gateway()
    earlier = await _conclude_earlier(purpose=purpose, target_id=target_id, actor=actor, gateway=gateway)
    if earlier is not None and earlier[1].status != "failed":
        return earlier[1]  # the earlier attempt paid it, or the bank is still on it: nothing more to charge
    with calling_gateway() as calling:
        async with in_transaction():
            target = await load_target(purpose=purpose, target_id=target_id, lock=True, visible_to=actor)
            if method_id is None:
                method = await PaymentMethod.get_or_none(
                    client_id=target.client_id, is_default=True, detached_at__isnull=True, gateway=gateway.key
                )
                if method is None:
                    raise Conflict(_("There is no saved payment method to charge."))
            else:
                method = await _client_method(target.client_id, method_id)
            if method.gateway != gateway.key:
                raise Conflict(_(OTHER_ACCOUNT_METHOD))
            if earlier is not None and earlier[0].payment_method_id == method.id:
                return earlier[1]  # this very method was just declined for it: not charged again
            if await Payment.filter(
                _target_filter(target), status=PaymentStatus.pending, gateway_checkout_id=None
            ).exists():
                raise Conflict(_(IN_PROGRESS_MESSAGE))
            payment = await begin_payment(
                target, gateway=gateway, method=method, actor=actor, idempotency_key=idempotency_key
            )
            calling(payment.id)  # before the commit makes the row visible to another click
        return await charge_pending(payment=payment, method=method, gateway=gateway)


@contextmanager
def calling_gateway() -> Iterator[Callable[[int], None]]:
    """Within the block, payments passed to the function it gives are being charged by this process (see
    `_IN_FLIGHT`); they are forgotten when the block ends, however it ends."""
    marked: list[int] = []

    def mark(payment_id: int) -> None:
        marked.append(payment_id)
        _IN_FLIGHT.add(payment_id)

    try:
        yield mark
    finally:
        _IN_FLIGHT.difference_update(marked)


async def charge_pending(
    *,
    payment: Payment,
    method: PaymentMethod,
    gateway: PaymentGateway,
    declined: str = DECLINED_MESSAGE,
    needs_payer: str = NEEDS_PAYER_MESSAGE,
    fresh: bool = True,
) -> PayOutcome:
    """The one online charge (Pay Now, staff charges, auto-charge, a subscription's first period): take a
    pending row from `begin_payment` to its end through `_ask_gateway` and `_finish`; a time-out keeps it
    pending (`processing`) for the next try, a webhook or reconciliation. `declined` and `needs_payer` are
    the message ids stored on a decline; `fresh`: the row was written by this request (never too old to
    send, whatever the clock says)."""
    try:
        result = await _ask_gateway(payment, method, gateway, fresh=fresh)
    except GatewayError as exc:
        if exc.retryable:  # charged or not: the next click (or reconciliation) asks the gateway
            log.warning("charge for payment %s not confirmed: %s", payment.id, exc.message)
            return PayOutcome(
                "processing", _(PROCESSING_MESSAGE), payment.id, "", payment.amount_minor, payment.currency
            )
        await fail_payment(payment_id=payment.id, message=exc.message)
        return PayOutcome("failed", exc.message, payment.id)
    if result is None:
        await fail_payment(payment_id=payment.id, message=_(NOT_REACHED_MESSAGE))
        return PayOutcome("failed", _(NOT_REACHED_MESSAGE), payment.id)
    return await _finish(payment, result, declined=declined, needs_payer=needs_payer)


async def _ask_gateway(
    payment: Payment, method: PaymentMethod | None, gateway: PaymentGateway, *, fresh: bool = False
) -> ChargeResult | None:
    """What became of a pending payment at the gateway, None if it never got there (nothing moved): fetched
    by the id the gateway gave it, looked for in its list when too old to send again (or a checkout), or
    its own create call sent (again: charged now or answered with the first outcome). May raise
    GatewayError."""
    if payment.gateway_payment_id:
        return _as_charge(await gateway.retrieve_payment(payment_ref=payment.gateway_payment_id))
    if method is None or (not fresh and payment.created_at < now_utc() - KEY_LIFETIME):
        # a checkout page never made, or a charge too old to send again: did it reach the gateway?
        found = await _find_at_gateway(payment, gateway) if method is not None else None
        return None if found is None else _as_charge(found)
    return await _charge(payment, method, gateway)


async def _charge(payment: Payment, method: PaymentMethod, gateway: PaymentGateway) -> ChargeResult:
    """The one create call for a payment row. Sent again for the same row it is the same request (amount,
    method, metadata, idempotency key), so the gateway answers it with the first outcome, never a second
    charge."""
    customer = await ensure_customer(client=await Client.get(id=payment.client_id), gateway=gateway)
    return await gateway.charge(
        customer_ref=customer,
        method_ref=method.gateway_ref,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        idempotency_key=payment.idempotency_key or "",
        metadata=_metadata(payment),
    )


async def _conclude_earlier(
    *, purpose: str, target_id: int, actor: Actor | None, gateway: PaymentGateway
) -> tuple[Payment, PayOutcome] | None:
    """Ask the gateway at once what became of an earlier attempt still pending for this target, and settle,
    fail or keep it through `_finish`; return it with what to tell the payer, or None when there was none
    (or it is closed without money having moved, and a new attempt may start).

    The attempt's own create call is sent again (same key, same parameters): the gateway charges it now if
    its process died before calling, or replays the first answer if it died after (`_ask_gateway`). One
    that never reached the gateway (e.g. a hosted checkout whose page was never made) is closed.
    Raises Conflict while this process is still calling the gateway for it, or when the gateway cannot
    answer now (nothing is charged again).
    """
    target = await load_target(purpose=purpose, target_id=target_id, visible_to=actor)
    earlier = (
        await Payment.filter(_target_filter(target), status=PaymentStatus.pending, gateway_checkout_id=None)
        .order_by("id")
        .first()
    )
    if earlier is None:
        return None
    told = await conclude_pending(earlier, gateway)
    return None if told is None else (earlier, told)


async def conclude_pending(earlier: Payment, gateway: PaymentGateway) -> PayOutcome | None:
    """Ask the gateway at once what became of a pending attempt (see `_conclude_earlier`) and settle, fail
    or keep it; what to tell the payer, or None when it never reached the gateway (closed: nothing moved).
    Raises Conflict while this process is still calling the gateway for it, or when the gateway cannot
    answer now."""
    if earlier.id in _IN_FLIGHT or earlier.gateway != gateway.key:
        raise Conflict(_(IN_PROGRESS_MESSAGE))
    method = (
        await PaymentMethod.get_or_none(id=earlier.payment_method_id) if earlier.payment_method_id else None
    )
    try:
        result = await _ask_gateway(earlier, method, gateway)
    except GatewayError as exc:
        raise Conflict(_(UNCONFIRMED_MESSAGE, problem=exc.message)) from exc
    if result is None:
        await fail_payment(payment_id=earlier.id, message=_(NOT_REACHED_MESSAGE))
        return None
    log.info("earlier attempt %s concluded by a retry: %s", earlier.id, result.status)
    told = await _finish(earlier, result)
    if told.status == "succeeded":
        amount = format_money(earlier.amount_minor, earlier.currency, get_locale())
        paid_with = methods.method_label(earlier.method, method)
        told = replace(told, message=_(EARLIER_PAID_MESSAGE, amount=amount, method=paid_with))
    return told


async def _find_at_gateway(payment: Payment, gateway: PaymentGateway) -> GatewayPayment | None:
    """The gateway's payment for one of our rows, from its list (found by the portal_payment_id metadata)."""
    since = int((payment.created_at - timedelta(minutes=5)).timestamp())
    wanted = str(payment.id)
    listed = await gateway.list_payments(created_after=since)
    return next((gp for gp in listed if gp.metadata.get("portal_payment_id") == wanted), None)


def _as_charge(payment: GatewayPayment) -> ChargeResult:
    """A payment fetched from the gateway, as the answer its create call would have given."""
    status = {
        "succeeded": ChargeStatus.succeeded,
        "processing": ChargeStatus.processing,
        "requires_capture": ChargeStatus.processing,
        "requires_action": ChargeStatus.requires_action,
    }.get(payment.status, ChargeStatus.failed)
    return ChargeResult(status, payment.ref, message=payment.failure_message)


async def _finish(
    payment: Payment,
    result: ChargeResult,
    *,
    declined: str = DECLINED_MESSAGE,
    needs_payer: str = NEEDS_PAYER_MESSAGE,
) -> PayOutcome:
    """Settle, fail or keep a pending payment by the gateway's answer."""
    if result.status == ChargeStatus.succeeded:
        await settle(payment_id=payment.id, gateway_payment_id=result.payment_ref)
        received = _("Thank you! We received {amount}.", amount=_money(payment))
        return PayOutcome("succeeded", received, payment.id, "", payment.amount_minor, payment.currency)
    if result.status == ChargeStatus.processing:
        await Payment.filter(id=payment.id, gateway_payment_id=None).update(
            gateway_payment_id=result.payment_ref
        )
        return PayOutcome(
            "processing", _(PROCESSING_MESSAGE), payment.id, "", payment.amount_minor, payment.currency
        )
    message = result.message
    if result.status == ChargeStatus.requires_action:
        message = _(needs_payer)
    message = message or _(declined)
    await fail_payment(payment_id=payment.id, message=message, gateway_payment_id=result.payment_ref)
    return PayOutcome("failed", message, payment.id)


async def start_checkout(
    *,
    actor: Actor | None,
    purpose: str,
    target_id: int,
    success_url: str,
    cancel_url: str,
    method_kind: str = "card",
    gateway: PaymentGateway | None = None,
    save_method: bool = False,
) -> PayOutcome:
    """Send the payer to a hosted page to pay with a new card or a bank debit (reusing an open one)."""
    gateway = gateway or await selector.current_gateway()
    earlier = await _conclude_earlier(purpose=purpose, target_id=target_id, actor=actor, gateway=gateway)
    if earlier is not None and earlier[1].status != "failed":  # paid by it, or the bank is on it
        return replace(earlier[1], redirect_url=success_url)
    with calling_gateway() as calling:
        async with in_transaction():
            target = await load_target(purpose=purpose, target_id=target_id, lock=True, visible_to=actor)
            if await Payment.filter(
                _target_filter(target), status=PaymentStatus.pending, gateway_checkout_id=None
            ).exists():
                raise Conflict(_(IN_PROGRESS_MESSAGE))
            reusable = await Payment.filter(
                _target_filter(target),
                status=PaymentStatus.pending,
                gateway_checkout_id__not_isnull=True,
                amount_minor=target.amount_minor,
                method=method_kind,
                created_at__gte=now_utc() - CHECKOUT_REUSE,
            ).first()
            if reusable is not None:  # a second click or a second tab: the same checkout, never two
                return PayOutcome("redirect", "", reusable.id, reusable.checkout_url)
            payment = await begin_payment(target, gateway=gateway, method=None, actor=actor)
            payment.method = method_kind
            await payment.save(update_fields=["method"])
            calling(payment.id)
        client = await Client.get(id=target.client_id)
        customer = await ensure_customer(client=client, gateway=gateway)
        session = await gateway.create_checkout(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            description=target.description,
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=payment.idempotency_key or "",
            metadata=_metadata(payment),
            customer_ref=customer,
            method_kinds=(method_kind,),
            save_method=save_method or await _is_recurring(target),
            locale=get_locale(),  # the hosted page speaks the language of the page the payer came from
        )
        await Payment.filter(id=payment.id).update(
            gateway_checkout_id=session.session_id, checkout_url=session.url
        )
        return PayOutcome("redirect", "", payment.id, session.url)


async def _is_recurring(target: Target) -> bool:
    """A recurring billing request saves the method it is paid with, for its subscription."""
    if target.purpose != "billing_request":
        return False
    return (await BillingRequest.get(id=target.id)).billing_type == "recurring"


def _metadata(payment: Payment) -> dict[str, str]:
    """Our ids on the gateway's payment: the row, and what it pays (as `load_target` names it)."""
    target_id = {
        "billing_request": payment.billing_request_id,
        "credit_request": payment.credit_request_id,
        "pay_all": payment.currency,  # everything due in one currency (payments.pay_all)
    }.get(payment.purpose, payment.invoice_id)
    return {"portal_payment_id": str(payment.id), "purpose": payment.purpose, "target_id": str(target_id)}


# -- auto-charge ----------------------------------------------------------------------------------
async def set_auto_charge(*, actor: Actor, client_id: int, enabled: bool) -> None:
    """Staff switch auto-charge on (recording that the client consented: who and when) or off."""
    require_staff(actor)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_("That client does not exist."))
    if (
        enabled
        and not await PaymentMethod.filter(
            client_id=client_id, is_default=True, detached_at__isnull=True
        ).exists()
    ):
        raise Conflict(_("The client has no default payment method to charge."))
    client.auto_charge = enabled
    client.auto_charge_consent_at = now_utc() if enabled else None
    client.auto_charge_consent_by_id = actor.user_id if enabled else None
    await client.save(update_fields=["auto_charge", "auto_charge_consent_at", "auto_charge_consent_by_id"])
    await audit.record(
        actor=actor,
        action="client.auto_charge",
        subject=f"client:{client_id}",
        client_id=client_id,
        details={"enabled": enabled, "consent_recorded": enabled},
    )


async def auto_charge_if_enabled(
    *, purpose: str, target_id: int, gateway: PaymentGateway | None = None
) -> PayOutcome | None:
    """Charge a newly issued invoice or credit request to the default method when the client agreed to it."""
    target = await load_target(purpose=purpose, target_id=target_id)
    client = await Client.get(id=target.client_id)
    if not client.auto_charge:
        return None
    outcome = await pay_with_saved_method(actor=None, purpose=purpose, target_id=target_id, gateway=gateway)
    if outcome.status == "failed":
        model = {"invoice": Invoice, "billing_request": BillingRequest}.get(target.purpose, CreditRequest)
        email = payment_emails.auto_charge_failed(
            org=await get_organization(),
            client=client,
            target=await model.get(id=target.id),
            reason=outcome.message,
            amount_due_minor=target.amount_minor,
        )
        await enqueue(
            kind="auto_charge_failed",
            to=client.email,
            client_id=client.id,
            dedupe_key=f"auto_charge_failed:{outcome.payment_id}",
            subject=email.subject,
            text=email.text,
            html=email.html,
        )
    return outcome


def _money(payment: Payment) -> str:
    """The payment's amount in the reader's locale."""
    return format_money(payment.amount_minor, payment.currency, get_locale())
