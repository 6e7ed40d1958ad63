"""Tortoise models: every table of the portal (DESIGN.md section 3).

Money is always an integer count of minor units (`*_minor`, BigInt) beside an ISO 4217 `currency`.
Statuses are stored as the `.value` of the `str` enums in `portal.domain.status`.
Balances are derived from the append-only ledgers (Payment, CreditEntry, Allocation, Refund).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# credit notes and the tables of the portal's own machinery (no relation to the tables below) are kept in
# modules of their own; named here too, so that `portal.db.models` stays the one place tables come from
from portal.db.credit_note_models import CreditNote as CreditNote
from portal.db.credit_note_models import CreditNoteLine as CreditNoteLine
from portal.db.machinery import LoginAttempt as LoginAttempt
from portal.db.machinery import NumberSequence as NumberSequence
from portal.db.machinery import SandboxObject as SandboxObject
from portal.db.machinery import TimestampMixin as TimestampMixin
from portal.db.machinery import WebhookEvent as WebhookEvent

CURRENCY = 3
STATUS = 20


class Organization(Model):
    """The agency running the portal (one row, id 1)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, default="My Agency")
    billing_address = fields.TextField(default="")  # street lines; postcode, city, country below
    bank_details = fields.TextField(default="")
    # legal identity (issue 16): what an invoice must say about its issuer, and a Factur-X seller needs
    legal_name = fields.CharField(max_length=200, default="", db_default="")  # "" = the display name
    legal_form = fields.CharField(max_length=100, default="", db_default="")  # "SAS au capital de 10 000 €"
    company_id = fields.CharField(max_length=40, default="", db_default="")  # SIREN/SIRET or national number
    vat_number = fields.CharField(max_length=20, default="", db_default="")  # "FR40303265045"
    postcode = fields.CharField(max_length=20, default="", db_default="")
    city = fields.CharField(max_length=100, default="", db_default="")
    country = fields.CharField(max_length=2, default="", db_default="")  # ISO 3166-1 alpha-2
    vies_check_enabled = fields.BooleanField(
        default=False, db_default=False
    )  # ask the EU's VIES service about VAT numbers
    # what French invoices must say (issue 16): the nature of the operation (services | goods | mixed), the
    # late-payment penalty rate (None: the legal default, the ECB's rate plus 10 points), an early-payment
    # discount in percent (None: none)
    operation_nature = fields.CharField(max_length=10, default="services", db_default="services")
    late_penalty_rate = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    early_payment_discount = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    vat_franchise = fields.BooleanField(default=False, db_default=False)  # France: article 293 B of the CGI
    default_currency = fields.CharField(max_length=CURRENCY, default="USD")
    default_locale = fields.CharField(max_length=10, default="en")
    apply_credit_automatically = fields.BooleanField(default=False)
    email_offline_receipts = fields.BooleanField(default=True)  # a receipt for cash, transfer, cheque
    # invoice template
    logo_path = fields.CharField(max_length=300, default="")
    theme_color = fields.CharField(max_length=7, default="#2563eb")
    invoice_footer = fields.TextField(default="")
    invoice_number_pattern = fields.CharField(max_length=60, default="INV-{YYYY}-{seq:04}")
    # reminders: days relative to the due date (-3 = three days before)
    reminders_enabled = fields.BooleanField(default=True)
    reminder_offsets = fields.JSONField(default=[-3, 0, 7])
    # payment gateway (Stripe account of the agency; sandbox when no key)
    stripe_mode = fields.CharField(max_length=10, default="sandbox")  # sandbox | test | live
    stripe_secret_key_enc = fields.TextField(default="")
    stripe_webhook_secret_enc = fields.TextField(default="")
    stripe_account_id = fields.CharField(max_length=100, default="")
    stripe_country = fields.CharField(max_length=2, default="")
    privacy_url = fields.CharField(max_length=500, default="")
    terms_url = fields.CharField(max_length=500, default="")
    stripe_connected_at = fields.DatetimeField(null=True)
    # mail
    smtp_mode = fields.CharField(max_length=10, default="default")  # default | custom
    smtp_host = fields.CharField(max_length=200, default="")
    smtp_port = fields.IntField(default=587)
    smtp_username = fields.CharField(max_length=200, default="")
    smtp_password_enc = fields.TextField(default="")
    smtp_from = fields.CharField(max_length=200, default="")
    smtp_reply_to = fields.CharField(max_length=200, default="")
    smtp_tls = fields.CharField(max_length=10, default="starttls")  # none | starttls | tls
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "organization"


class TaxRate(Model, TimestampMixin):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    rate = fields.DecimalField(max_digits=7, decimal_places=4)
    archived = fields.BooleanField(default=False)

    class Meta:
        table = "tax_rate"


class Client(Model, TimestampMixin):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    company = fields.CharField(max_length=200, default="")
    email = fields.CharField(max_length=254, db_index=True)
    phone = fields.CharField(max_length=50, default="")
    avatar_path = fields.CharField(max_length=300, default="")
    currency = fields.CharField(max_length=CURRENCY, default="USD")
    billing_address = fields.TextField(default="")  # street lines; postcode, city, country below
    postcode = fields.CharField(max_length=20, default="", db_default="")
    city = fields.CharField(max_length=100, default="", db_default="")
    country = fields.CharField(max_length=2, default="", db_default="")  # ISO 3166-1 alpha-2, "" = not given
    is_business = fields.BooleanField(default=False, db_default=False)  # a company (B2B), not a person
    company_id = fields.CharField(
        max_length=40, default="", db_default=""
    )  # SIREN/SIRET or the national register number
    vat_number = fields.CharField(max_length=20, default="", db_default="")  # with its country prefix
    vat_checked_at = fields.DatetimeField(null=True)  # when VIES last answered about vat_number
    vat_check = fields.CharField(max_length=12, default="", db_default="")  # "" | valid | invalid | unchecked
    locale = fields.CharField(max_length=10, default="en")
    reminders_enabled = fields.BooleanField(default=True)
    auto_charge = fields.BooleanField(default=False)
    auto_charge_consent_at = fields.DatetimeField(null=True)
    # id of the staff user who recorded the consent (plain id: a foreign key here would form a cycle with
    # User.client, which Tortoise's migration autodetector cannot order; the audit trail names the user too)
    auto_charge_consent_by_id = fields.IntField(null=True)
    archived = fields.BooleanField(default=False)

    class Meta:
        table = "client"
        # the console's list: active clients in name order (its page and count), and their currencies
        indexes = (("name",), ("company",), ("archived", "name", "id"), ("archived", "currency"))


class GatewayCustomer(Model, TimestampMixin):
    """A client's customer record at one gateway account (sandbox, Stripe test, Stripe live)."""

    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="gateway_customers", on_delete=fields.CASCADE
    )
    gateway = fields.CharField(max_length=30)
    ref = fields.CharField(max_length=100)

    class Meta:
        table = "gateway_customer"
        unique_together = (("gateway", "ref"), ("client", "gateway"))


class User(Model, TimestampMixin):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    full_name = fields.CharField(max_length=200, default="")
    password_hash = fields.CharField(max_length=300, default="")
    role = fields.CharField(max_length=10)  # admin | staff | client
    client: fields.ForeignKeyNullableRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="users", null=True, on_delete=fields.CASCADE
    )
    locale = fields.CharField(max_length=10, default="en")
    is_active = fields.BooleanField(default=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "user"


class OneTimeToken(Model, TimestampMixin):
    """Short-lived single-use tokens: session rotation after login/logout/impersonation, set-password."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    purpose = fields.CharField(max_length=30)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.CASCADE
    )
    payload = fields.JSONField(default=dict)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "one_time_token"


class ImpersonationSession(Model):
    id = fields.IntField(primary_key=True)
    admin: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="impersonations", on_delete=fields.CASCADE
    )
    reason = fields.TextField()
    started_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "impersonation_session"
        indexes = (("client_id", "started_at"),)


class Plan(Model, TimestampMixin):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=CURRENCY)
    interval = fields.CharField(max_length=10, default="month")  # day | week | month | year
    interval_count = fields.IntField(default=1)
    gateway_product_id = fields.CharField(max_length=100, default="")
    gateway_price_id = fields.CharField(max_length=100, default="")
    active = fields.BooleanField(default=True)

    class Meta:
        table = "plan"


class PaymentMethod(Model, TimestampMixin):
    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="payment_methods", on_delete=fields.CASCADE
    )
    gateway = fields.CharField(max_length=30)  # the gateway account key: sandbox | stripe:test | stripe:live
    gateway_ref = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=20, default="card")  # card | bank_transfer | direct_debit
    brand = fields.CharField(max_length=30, default="")
    last4 = fields.CharField(max_length=4, default="")
    exp_month = fields.IntField(null=True)
    exp_year = fields.IntField(null=True)
    is_default = fields.BooleanField(default=False)
    detached_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payment_method"
        unique_together = (("gateway", "gateway_ref"),)
        indexes = (("client_id", "detached_at"),)


class BillingRequest(Model, TimestampMixin):
    """The seed's billing request: email, currency, amount, success/cancel URL, billing type."""

    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyNullableRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="billing_requests", null=True, on_delete=fields.SET_NULL
    )
    email = fields.CharField(max_length=254)
    description = fields.CharField(max_length=300, default="")
    currency = fields.CharField(max_length=CURRENCY)
    amount_minor = fields.BigIntField()
    success_url = fields.CharField(max_length=500)
    cancel_url = fields.CharField(max_length=500)
    billing_type = fields.CharField(max_length=10, default="one_time")  # one_time | recurring
    interval = fields.CharField(max_length=10, null=True)
    status = fields.CharField(max_length=STATUS, default="pending")
    mode = fields.CharField(max_length=10, default="sandbox")  # sandbox | test | live
    sent_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "billing_request"
        indexes = (("status", "expires_at"), ("client_id", "status"))


class Subscription(Model, TimestampMixin):
    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="subscriptions", on_delete=fields.CASCADE
    )
    plan: fields.ForeignKeyNullableRelation[Plan] = fields.ForeignKeyField(
        "models.Plan", related_name="subscriptions", null=True, on_delete=fields.SET_NULL
    )
    billing_request: fields.ForeignKeyNullableRelation[BillingRequest] = fields.ForeignKeyField(
        "models.BillingRequest", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    description = fields.CharField(max_length=300, default="")
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=CURRENCY)
    interval = fields.CharField(max_length=10, default="month")
    interval_count = fields.IntField(default=1)
    status = fields.CharField(max_length=STATUS, default="active")
    payment_method: fields.ForeignKeyNullableRelation[PaymentMethod] = fields.ForeignKeyField(
        "models.PaymentMethod", related_name="subscriptions", null=True, on_delete=fields.SET_NULL
    )
    gateway = fields.CharField(max_length=30, default="sandbox")
    gateway_ref = fields.CharField(max_length=100, default="")
    current_period_start = fields.DatetimeField(null=True)
    current_period_end = fields.DatetimeField(null=True)
    cancel_at_period_end = fields.BooleanField(default=False)
    canceled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "subscription"
        indexes = (("client_id", "status"), ("status", "current_period_end"))


class Invoice(Model, TimestampMixin):
    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="invoices", on_delete=fields.RESTRICT
    )
    number = fields.CharField(max_length=60, null=True, unique=True)
    status = fields.CharField(max_length=STATUS, default="draft")
    currency = fields.CharField(max_length=CURRENCY)
    issue_date = fields.DateField()
    due_date = fields.DateField(db_index=True)
    notes = fields.TextField(default="")
    subtotal_minor = fields.BigIntField(default=0)
    tax_minor = fields.BigIntField(default=0)
    total_minor = fields.BigIntField(default=0)
    subscription: fields.ForeignKeyNullableRelation[Subscription] = fields.ForeignKeyField(
        "models.Subscription", related_name="invoices", null=True, on_delete=fields.SET_NULL
    )
    billing_request: fields.ForeignKeyNullableRelation[BillingRequest] = fields.ForeignKeyField(
        "models.BillingRequest", related_name="invoices", null=True, on_delete=fields.SET_NULL
    )
    sent_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    awaiting_transfer_since = fields.DatetimeField(null=True)  # the client said a bank transfer is coming
    # EU reverse charge, decided when the lines are written (portal.domain.reverse_charge): no VAT on any
    # line, the client accounts for it; a later change to the client does not change a written invoice
    reverse_charge = fields.BooleanField(default=False, db_default=False)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "invoice"
        indexes = (("client_id", "status"), ("status", "due_date"))


class InvoiceLine(Model):
    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="lines", on_delete=fields.CASCADE
    )
    position = fields.IntField(default=0)
    date = fields.DateField(null=True)
    description = fields.CharField(max_length=500)
    quantity = fields.DecimalField(max_digits=12, decimal_places=4)
    unit_price_minor = fields.BigIntField()
    tax_name = fields.CharField(max_length=100, default="")
    tax_rate = fields.DecimalField(max_digits=7, decimal_places=4)
    net_minor = fields.BigIntField()
    tax_minor = fields.BigIntField()
    gross_minor = fields.BigIntField()

    class Meta:
        table = "invoice_line"


class Quote(Model, TimestampMixin):
    """An estimate or a proposal: lines the client approves or declines."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=10)  # estimate | proposal
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="quotes", on_delete=fields.RESTRICT
    )
    number = fields.CharField(max_length=60, null=True, unique=True)
    title = fields.CharField(max_length=300, default="")
    status = fields.CharField(max_length=STATUS, default="draft")
    currency = fields.CharField(max_length=CURRENCY)
    issue_date = fields.DateField()
    valid_until = fields.DateField(null=True)
    terms = fields.TextField(default="")
    subtotal_minor = fields.BigIntField(default=0)
    tax_minor = fields.BigIntField(default=0)
    total_minor = fields.BigIntField(default=0)
    decided_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decision_comment = fields.TextField(default="")
    converted_invoice: fields.ForeignKeyNullableRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "quote"
        indexes = (("client_id", "status"),)


class QuoteLine(Model):
    id = fields.IntField(primary_key=True)
    quote: fields.ForeignKeyRelation[Quote] = fields.ForeignKeyField(
        "models.Quote", related_name="lines", on_delete=fields.CASCADE
    )
    position = fields.IntField(default=0)
    date = fields.DateField(null=True)
    description = fields.CharField(max_length=500)
    quantity = fields.DecimalField(max_digits=12, decimal_places=4)
    unit_price_minor = fields.BigIntField()
    tax_name = fields.CharField(max_length=100, default="")
    tax_rate = fields.DecimalField(max_digits=7, decimal_places=4)
    net_minor = fields.BigIntField()
    tax_minor = fields.BigIntField()
    gross_minor = fields.BigIntField()

    class Meta:
        table = "quote_line"


class CreditRequest(Model, TimestampMixin):
    """A request for the client to buy credit (prepay) for an amount."""

    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="credit_requests", on_delete=fields.RESTRICT
    )
    description = fields.CharField(max_length=300, default="")
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=CURRENCY)
    status = fields.CharField(max_length=STATUS, default="pending")
    due_date = fields.DateField(null=True)
    paid_at = fields.DatetimeField(null=True)
    awaiting_transfer_since = fields.DatetimeField(null=True)  # the client said a bank transfer is coming

    class Meta:
        table = "credit_request"
        indexes = (("client_id", "status"),)


class Payment(Model, TimestampMixin):
    """Money received (append-only). Allocations tie it to invoices, the rest becomes credit."""

    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyNullableRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="payments", null=True, on_delete=fields.RESTRICT
    )
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=CURRENCY)
    status = fields.CharField(max_length=STATUS, default="succeeded")
    source = fields.CharField(max_length=10)  # online | offline
    method = fields.CharField(max_length=20)  # card | bank_transfer | direct_debit | cash | cheque | other
    payment_method: fields.ForeignKeyNullableRelation[PaymentMethod] = fields.ForeignKeyField(
        "models.PaymentMethod", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    gateway = fields.CharField(max_length=30, default="")
    gateway_payment_id = fields.CharField(max_length=100, null=True, unique=True)
    gateway_checkout_id = fields.CharField(max_length=100, null=True, unique=True)
    checkout_url = fields.CharField(max_length=500, default="")
    idempotency_key = fields.CharField(max_length=200, null=True, unique=True)
    # what the payer meant to pay (allocations say where the money went)
    purpose = fields.CharField(max_length=20, default="invoice")  # invoice | billing_request | credit_request
    invoice: fields.ForeignKeyNullableRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="payments", null=True, on_delete=fields.SET_NULL
    )
    reference = fields.CharField(max_length=200, default="")
    received_on = fields.DateField()
    refunded_minor = fields.BigIntField(default=0)
    failure_message = fields.TextField(default="")
    needs_review = fields.BooleanField(default=False)
    review_note = fields.TextField(default="")
    billing_request: fields.ForeignKeyNullableRelation[BillingRequest] = fields.ForeignKeyField(
        "models.BillingRequest", related_name="payments", null=True, on_delete=fields.SET_NULL
    )
    credit_request: fields.ForeignKeyNullableRelation[CreditRequest] = fields.ForeignKeyField(
        "models.CreditRequest", related_name="payments", null=True, on_delete=fields.SET_NULL
    )
    recorded_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "payment"
        indexes = (("client_id", "created_at"), ("status", "created_at"), ("invoice_id", "status"))


class Refund(Model, TimestampMixin):
    id = fields.IntField(primary_key=True)
    payment: fields.ForeignKeyRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="refunds", on_delete=fields.RESTRICT
    )
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=CURRENCY)
    reason = fields.TextField(default="")
    gateway_refund_id = fields.CharField(max_length=100, null=True, unique=True)
    idempotency_key = fields.CharField(max_length=200, null=True, unique=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "refund"


class CreditEntry(Model, TimestampMixin):
    """Append-only credit ledger: positive adds credit, negative uses it. Balance = sum per currency."""

    id = fields.IntField(primary_key=True)
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="credit_entries", on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=CURRENCY)
    amount_minor = fields.BigIntField()
    reason = fields.CharField(max_length=30)
    note = fields.TextField(default="")
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="credit_entries", null=True, on_delete=fields.RESTRICT
    )
    invoice: fields.ForeignKeyNullableRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="credit_entries", null=True, on_delete=fields.RESTRICT
    )
    refund: fields.ForeignKeyNullableRelation[Refund] = fields.ForeignKeyField(
        "models.Refund", related_name="credit_entries", null=True, on_delete=fields.RESTRICT
    )
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    idempotency_key = fields.CharField(max_length=200, null=True, unique=True)  # a use of credit, once

    class Meta:
        table = "credit_entry"
        indexes = (("client_id", "currency"),)


class Allocation(Model, TimestampMixin):
    """Ties a payment, a use of credit or a credit note to the invoice it settles (a refund: negative)."""

    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="allocations", on_delete=fields.RESTRICT
    )
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=CURRENCY)
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="allocations", null=True, on_delete=fields.RESTRICT
    )
    credit_entry: fields.ForeignKeyNullableRelation[CreditEntry] = fields.ForeignKeyField(
        "models.CreditEntry", related_name="allocations", null=True, on_delete=fields.RESTRICT
    )
    refund: fields.ForeignKeyNullableRelation[Refund] = fields.ForeignKeyField(
        "models.Refund", related_name="allocations", null=True, on_delete=fields.RESTRICT
    )
    # a credit note that lowers what is owed (a refund that cancels part of the invoice): a positive row
    credit_note: fields.ForeignKeyNullableRelation[CreditNote] = fields.ForeignKeyField(
        "models.CreditNote", related_name="allocations", null=True, on_delete=fields.RESTRICT
    )

    class Meta:
        table = "allocation"
        indexes = (("invoice_id", "created_at"),)


class PaymentLink(Model, TimestampMixin):
    """A secure link from an email, only the SHA-256 of the token is stored."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    purpose = fields.CharField(max_length=20)  # invoice | billing_request | credit_request
    invoice: fields.ForeignKeyNullableRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="links", null=True, on_delete=fields.CASCADE
    )
    billing_request: fields.ForeignKeyNullableRelation[BillingRequest] = fields.ForeignKeyField(
        "models.BillingRequest", related_name="links", null=True, on_delete=fields.CASCADE
    )
    credit_request: fields.ForeignKeyNullableRelation[CreditRequest] = fields.ForeignKeyField(
        "models.CreditRequest", related_name="links", null=True, on_delete=fields.CASCADE
    )
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payment_link"


class OutboxEmail(Model, TimestampMixin):
    """Mail written in the business transaction and sent after commit by the outbox worker."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=40)
    dedupe_key = fields.CharField(max_length=200, null=True, unique=True)
    message_id = fields.CharField(max_length=200, unique=True)
    client: fields.ForeignKeyNullableRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="emails", null=True, on_delete=fields.SET_NULL
    )
    to_address = fields.CharField(max_length=254)
    reply_to = fields.CharField(max_length=254, default="")
    subject = fields.CharField(max_length=300)
    text_body = fields.TextField()
    html_body = fields.TextField(default="")
    # an email written when it is sent, not when it is queued (a reminder: the amount due and the link of
    # that moment): what its writer needs; subject and bodies stay empty until then (mail/worker.py)
    values = fields.JSONField(null=True)
    status = fields.CharField(max_length=STATUS, default="queued")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(default="")
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_email"
        indexes = (("status", "next_attempt_at"),)


class ReminderSent(Model):
    """One row per reminder sent: the unique pair makes each reminder happen once."""

    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "models.Invoice", related_name="reminders", on_delete=fields.CASCADE
    )
    offset_days = fields.IntField()
    sent_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reminder_sent"
        unique_together = (("invoice", "offset_days"),)


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    on_behalf_of: fields.ForeignKeyNullableRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    action = fields.CharField(max_length=60)
    subject = fields.CharField(max_length=100, default="")
    details = fields.JSONField(default=dict)
    ip = fields.CharField(max_length=64, default="")
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_entry"
        indexes = (("on_behalf_of_id", "at"), ("action", "at"))


class IssuedDocument(Model):
    """An issued document's file, stored once (issue 16): served as stored, checked against its SHA-256."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=20)  # invoice | receipt | factur-x | factur-x-xml
    subject_id = fields.IntField()  # the invoice's id; the payment's for a receipt
    storage_key = fields.CharField(max_length=200)  # made from the kind, the id and the hash
    sha256 = fields.CharField(max_length=64)  # hex
    size = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "issued_document"
        unique_together = (("kind", "subject_id"),)
