"""The sections of a client's record in the console: its header card and one tab per list (invoices,
quotes, requests, subscriptions, methods, credit, payments, emails, audit trail)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from nicegui import ui

from portal import i18n
from portal.billing.credit_notes import CreditNoteSummary
from portal.clients import client_record
from portal.clients.client_record import ClientRecord, Header, Section
from portal.components.client_form import vat_check_text
from portal.components.refund_dialog import REFUND_CELL
from portal.components.tables import LINK_CELL, money_cell, quiet_empty, table_columns
from portal.domain import status
from portal.domain.mentions import party_numbers
from portal.i18n import N_, _, pgettext

STATUS_LABELS = {  # the domain's labels, plus the states only these lists show
    **status.LABELS,
    "overdue": N_("Overdue"),
    "trialing": N_("Trial"),
    "queued": N_("Queued"),
    "sending": N_("Sending"),
}
KIND_LABELS = {
    "estimate": N_("Estimate"),
    "proposal": N_("Proposal"),
    "one_time": N_("One-time"),
    "recurring": N_("Recurring"),
    "card": N_("Card"),
    "bank_transfer": N_("Bank transfer"),
    "direct_debit": N_("Direct debit"),
    "online": N_("Online"),
    "offline": N_("Offline"),
}
LOGIN_LABELS = {
    "none": N_("No login yet"),
    "invited": N_("Invited, no password set yet"),
    "active": N_("Can log in as {email}"),
    "disabled": N_("Login switched off"),
}
BADGE_CELL = """
<q-td :props="props">
  <q-badge v-if="props.value" rounded :label="props.value"
           :color="{Overdue: 'red', Failed: 'red', 'Past due': 'red', Paid: 'green', Approved: 'green',
                    Active: 'green', Succeeded: 'green', Sent: 'blue', Open: 'blue', Pending: 'orange',
                    Queued: 'orange', Sending: 'orange'}[props.row.status_en] || 'grey'" />
</q-td>
"""
ERROR_CELL = """
<q-td :props="props" :class="props.row.failed ? 'bg-red-1 text-red-10 text-weight-medium' : ''">
  {{ props.value }}
</q-td>
"""


def _status(value: str) -> str:
    if value == "void":  # an invoice's: its French needs the context (Annulée)
        return status.local_label(value)
    return _(STATUS_LABELS.get(value, value.replace("_", " ").capitalize()))


def _kind(value: str) -> str:
    return _(KIND_LABELS.get(value, value.replace("_", " ").capitalize()))


def _day(value: date | datetime | None) -> str:
    return i18n.format_date(value)


def _moment(value: datetime | None) -> str:
    return i18n.format_datetime(value)


INVOICE_COLUMNS = (
    ("number", N_("Invoice"), "left"),
    ("status", N_("Status"), "left"),
    ("issue_date", N_("Issued"), "left"),
    ("due_date", N_("Due"), "left"),
    ("total", N_("Total"), "right"),
    ("amount_due", N_("Amount due"), "right"),
)
INVOICE_LINK_CELL = """
<q-td :props="props">
  <a :href="props.row.invoice_href" class="text-primary">{{ props.value }}</a>
</q-td>
"""
"""The invoice a credit note cancels, linked (text stays text: Vue escapes it)."""
CREDIT_NOTE_COLUMNS = (
    ("number", N_("Credit note"), "left"),
    ("issue_date", N_("Issued"), "left"),
    ("invoice", N_("Cancels invoice"), "left"),
    ("amount", N_("Amount"), "right"),
)
QUOTE_COLUMNS = (
    ("number", N_("Number"), "left"),
    ("kind", N_("Kind"), "left"),
    ("title", N_("Title"), "left"),
    ("status", N_("Status"), "left"),
    ("total", N_("Total"), "right"),
    ("valid_until", N_("Valid until"), "left"),
)
REQUEST_COLUMNS = (
    ("description", N_("Description"), "left"),
    ("amount", N_("Amount"), "right"),
    ("type", N_("Billing"), "left"),
    ("status", N_("Status"), "left"),
    ("sent_at", N_("Sent"), "left"),
    ("expires_at", N_("Expires"), "left"),
)
CREDIT_REQUEST_COLUMNS = (
    ("description", N_("Description"), "left"),
    ("amount", N_("Amount"), "right"),
    ("status", N_("Status"), "left"),
    ("due_date", N_("Due"), "left"),
    ("created", N_("Created"), "left"),
)
SUBSCRIPTION_COLUMNS = (
    ("name", N_("Plan"), "left"),
    ("price", N_("Price"), "right"),
    ("status", N_("Status"), "left"),
    ("period_end", N_("Current period ends"), "left"),
    ("method", N_("Paid with"), "left"),
)
METHOD_COLUMNS = (
    ("label", N_("Method"), "left"),
    ("kind", N_("Kind"), "left"),
    ("default", N_("Default"), "left"),
    ("state", N_("State"), "left"),
    ("gateway", N_("Account"), "left"),
)
CREDIT_COLUMNS = (
    ("date", N_("Date"), "left"),
    ("reason", N_("Reason"), "left"),
    ("note", N_("Note"), "left"),
    ("invoice", N_("Invoice"), "left"),
    ("amount", N_("Amount"), "right"),
    ("balance", N_("Balance"), "right"),
)
PAYMENT_COLUMNS = (
    ("date", N_("Received"), "left"),
    ("method", N_("Method"), "left"),
    ("reference", N_("Reference"), "left"),
    ("amount", N_("Amount"), "right"),
    ("status", N_("Status"), "left"),
    ("refunds", N_("Refunds"), "left"),
    ("refund", "", "right"),
)
REFUNDABLE = ("succeeded", "partially_refunded")
RECEIPTS = (*REFUNDABLE, "refunded")  # payments with a receipt (staff see it at /admin/receipts/{id})
EMAIL_COLUMNS = (
    ("queued_at", N_("Queued"), "left"),
    ("subject", N_("Subject"), "left"),
    ("to", N_("To"), "left"),
    ("status", N_("Status"), "left"),
    ("sent_at", N_("Sent"), "left"),
    ("last_error", N_("Last error"), "left"),
)
AUDIT_COLUMNS = (
    ("at", N_("When"), "left"),
    ("sentence", N_("What happened"), "left"),
    ("details", N_("Details"), "left"),
)


def client_header(header: Header) -> None:
    """The record's header card: avatar, name, contact, credit, auto-charge, login and reminders."""
    with ui.card().classes("w-full").mark("client-header"), ui.row().classes("w-full items-start gap-4"):
        if header.avatar_path:
            avatar = ui.image(header.avatar_path).classes("w-16 h-16 rounded-full").mark("avatar")
            avatar.props["alt"] = _("Avatar of {name}", name=header.name)
        else:
            with ui.avatar(color="primary", text_color="white", size="64px").mark("avatar"):
                ui.label(header.initials).classes("text-lg font-semibold").mark("initials")
        with ui.column().classes("gap-0 grow"):
            ui.label(header.name).classes("text-xl font-semibold").mark("client-name")
            if header.company:
                ui.label(header.company).classes("text-gray-700").mark("client-company")
            ui.label(header.email).classes("text-gray-700").mark("client-email")
            if header.company_id or header.vat_number:
                # the PDF's labels; the record does not read the client's country, so "Register no."
                numbers = party_numbers(header.company_id, header.vat_number, "", i18n.get_locale())
                if header.vat_number and header.vat_check:
                    numbers.append(vat_check_text(header.vat_check, header.vat_checked_at))
                ui.label(" · ".join(numbers)).classes("text-sm text-gray-700").mark("client-numbers")
            ui.label(
                _(
                    "Billed in {currency} · {language}",
                    currency=header.currency,
                    language=i18n.LABELS.get(header.locale, header.locale),
                )
            ).classes("text-sm text-gray-600").mark("client-currency")
            if header.archived:
                ui.badge(_("Archived"), color="grey").props("rounded").mark("client-archived")
        with ui.column().classes("gap-1 items-end"):
            credit = (
                " · ".join(money_cell(amount, cur) for cur, amount in header.credit.items())
                if header.credit
                else money_cell(0, header.currency)
            )
            ui.label(_("Credit: {amount}", amount=credit)).classes("font-medium tabular-nums").mark(
                "credit-balance"
            )
            if header.auto_charge:
                since = _day(header.auto_charge_consent_at)
                text = _("Auto-charge on (consent {date})", date=since) if since else _("Auto-charge on")
            else:
                text = _("Auto-charge off")
            ui.label(text).classes("text-sm").mark("auto-charge")
            ui.label(_(LOGIN_LABELS[header.login], email=header.login_email)).classes(
                "text-sm text-gray-600"
            ).mark("login-state")
            ui.label(_("Reminders on") if header.reminders_enabled else _("Reminders off")).classes(
                "text-sm text-gray-600"
            ).mark("reminders-state")


def record_sections(record: ClientRecord, *, on_refund: Callable[[Any], object] | None = None) -> None:
    """One tab per list of the record, each with its count; `on_refund` gets a payment row's `refund`
    event (`{payment_id}`) and opens the refund dialog (no Refund buttons without it)."""
    specs: list[tuple[str, str, Section[Any], Callable[[Section[Any]], None]]] = [
        ("invoices", _("Invoices"), record.invoices, _invoices),
        ("credit-notes", _("Credit notes"), record.credit_notes, _credit_notes),
        ("quotes", _("Estimates & proposals"), record.quotes, _quotes),
        ("billing-requests", _("Billing requests"), record.billing_requests, _billing_requests),
        ("credit-requests", _("Credit requests"), record.credit_requests, _credit_requests),
        ("subscriptions", _("Subscriptions"), record.subscriptions, _subscriptions),
        ("payment-methods", _("Payment methods"), record.methods, _methods),
        ("credit-ledger", _("Credit ledger"), record.credit, _credit),
        ("payments", _("Payments"), record.payments, lambda section: _payments(section, on_refund)),
        ("emails", _("Emails"), record.emails, _emails),
        ("audit", _("Audit trail"), record.audit, _audit),
    ]
    with ui.tabs().classes("w-full portal-tabs-wrap").props("dense align=left") as tabs:
        tab_of = {}
        for key, title, section, _draw in specs:
            label = f"{title} ({section.total})"
            if key == "emails" and record.failed_emails:
                label = _(
                    "{title} ({count}, {failed} failed)",
                    title=title,
                    count=section.total,
                    failed=record.failed_emails,
                )
            tab_of[key] = ui.tab(key, label=label).props("no-caps").mark(f"tab-{key}")
    with ui.tab_panels(tabs, value=tab_of["invoices"]).classes("w-full"):
        for key, _title, section, draw in specs:
            with ui.tab_panel(tab_of[key]).mark(f"panel-{key}"):
                if section.truncated:
                    ui.label(
                        _(
                            "Showing the latest {shown} of {total}.",
                            shown=len(section.items),
                            total=section.total,
                        )
                    ).classes("text-sm text-gray-600").mark(f"{key}-count")
                draw(section)


def _table(key: str, columns: tuple[tuple[str, str, str], ...], rows: list[dict[str, Any]]) -> ui.table:
    table = ui.table(columns=table_columns(*columns), rows=rows, row_key="id").classes("w-full")
    table.props("flat dense wrap-cells").mark(key)
    return quiet_empty(table)


def _invoices(section: Section[client_record.InvoiceItem]) -> None:
    rows = [
        {
            "id": i.id,
            "number": i.number,
            "href": f"/admin/invoices/{i.id}",
            "status": _status(status.invoice_display_status(i.status, overdue=i.overdue)),
            "status_en": STATUS_LABELS.get(status.invoice_display_status(i.status, overdue=i.overdue), ""),
            "issue_date": _day(i.issue_date),
            "due_date": _day(i.due_date),
            "total": money_cell(i.total_minor, i.currency),
            "amount_due": money_cell(i.amount_due_minor, i.currency),
        }
        for i in section.items
    ]
    table = _table("invoices", INVOICE_COLUMNS, rows)
    table.add_slot("body-cell-number", LINK_CELL)
    table.add_slot("body-cell-status", BADGE_CELL)


def _credit_notes(section: Section[CreditNoteSummary]) -> None:
    rows = [
        {
            "id": n.id,
            "number": n.number,
            "href": n.pdf_url,
            "issue_date": _day(n.issue_date),
            "invoice": n.invoice_number,
            "invoice_href": f"/admin/invoices/{n.invoice_id}",
            "amount": money_cell(-n.total_minor, n.currency),
        }
        for n in section.items
    ]
    table = _table("credit-notes", CREDIT_NOTE_COLUMNS, rows)
    table.add_slot("body-cell-number", LINK_CELL)
    table.add_slot("body-cell-invoice", INVOICE_LINK_CELL)


def _quotes(section: Section[client_record.QuoteItem]) -> None:
    rows = [
        {
            "id": q.id,
            "number": q.number,
            "href": f"/admin/quotes/{q.id}",
            "kind": _kind(q.kind),
            "title": q.title,
            "status": _status(q.status),
            "status_en": STATUS_LABELS.get(q.status, ""),
            "total": money_cell(q.total_minor, q.currency),
            "valid_until": _day(q.valid_until),
        }
        for q in section.items
    ]
    table = _table("quotes", QUOTE_COLUMNS, rows)
    table.add_slot("body-cell-number", LINK_CELL)
    table.add_slot("body-cell-status", BADGE_CELL)


def _billing_requests(section: Section[client_record.BillingRequestItem]) -> None:
    rows = [
        {
            "id": r.id,
            "description": r.description,
            "amount": money_cell(r.amount_minor, r.currency),
            "type": _kind(r.billing_type),
            "status": _status(r.status),
            "status_en": STATUS_LABELS.get(r.status, ""),
            "sent_at": _moment(r.sent_at),
            "expires_at": _moment(r.expires_at),
        }
        for r in section.items
    ]
    _table("billing-requests", REQUEST_COLUMNS, rows).add_slot("body-cell-status", BADGE_CELL)


def _credit_requests(section: Section[client_record.CreditRequestItem]) -> None:
    rows = [
        {
            "id": r.id,
            "description": r.description,
            "amount": money_cell(r.amount_minor, r.currency),
            "status": _status(r.status),
            "status_en": STATUS_LABELS.get(r.status, ""),
            "due_date": _day(r.due_date),
            "created": _day(r.created_at),
        }
        for r in section.items
    ]
    _table("credit-requests", CREDIT_REQUEST_COLUMNS, rows).add_slot("body-cell-status", BADGE_CELL)


def _subscriptions(section: Section[client_record.SubscriptionItem]) -> None:
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "price": f"{money_cell(s.amount_minor, s.currency)} {s.interval}",
            "status": _status(s.status),
            "status_en": STATUS_LABELS.get(s.status, ""),
            "period_end": _day(s.period_end)
            + (f" ({_('cancels then')})" if s.cancel_at_period_end and s.period_end else ""),
            "method": s.method,
        }
        for s in section.items
    ]
    _table("subscriptions", SUBSCRIPTION_COLUMNS, rows).add_slot("body-cell-status", BADGE_CELL)


def _methods(section: Section[client_record.MethodItem]) -> None:
    rows = [
        {
            "id": m.id,
            "label": m.label,
            "kind": _kind(m.kind),
            "default": _("Default") if m.is_default else "",
            "state": _("Expired") if m.expired else _("Usable"),
            "gateway": m.gateway,
        }
        for m in section.items
    ]
    _table("payment-methods", METHOD_COLUMNS, rows)


def _credit(section: Section[client_record.CreditItem]) -> None:
    rows = [
        {
            "id": c.id,
            "date": _day(c.at),
            "reason": c.reason,
            "note": c.note,
            "invoice": c.invoice_number,
            "amount": ("+" if c.amount_minor > 0 else "") + money_cell(c.amount_minor, c.currency),
            "balance": money_cell(c.balance_minor, c.currency),
        }
        for c in section.items
    ]
    _table("credit-ledger", CREDIT_COLUMNS, rows)


def _payments(
    section: Section[client_record.PaymentItem], on_refund: Callable[[Any], object] | None = None
) -> None:
    rows = [
        {
            "id": p.id,
            "date": _day(p.received_on),
            "method": f"{p.method} ({_kind(p.source).lower()})",
            "reference": p.reference,
            "amount": money_cell(p.amount_minor, p.currency),
            "status": _status(p.status),
            "status_en": STATUS_LABELS.get(p.status, ""),
            "refunds": "; ".join(
                _(
                    "{amount} on {date}",
                    amount=money_cell(r.amount_minor, r.currency),
                    date=_day(r.at),
                )
                + (f" ({r.reason})" if r.reason else "")
                for r in p.refunds
            ),
            "payment_id": p.id,
            "href": f"/admin/receipts/{p.id}" if on_refund is not None and p.status in RECEIPTS else "",
            "refundable": on_refund is not None
            and p.status in REFUNDABLE
            and p.refunded_minor < p.amount_minor,
            "refund": pgettext("action", "Refund") if on_refund is not None else "",
            "refund_label": _(
                "Refund the payment of {amount}", amount=money_cell(p.amount_minor, p.currency)
            ),
        }
        for p in section.items
    ]
    table = _table("payments", PAYMENT_COLUMNS, rows)
    table.add_slot("body-cell-status", BADGE_CELL)
    if on_refund is not None:
        table.add_slot("body-cell-refund", REFUND_CELL)
        table.add_slot("body-cell-method", LINK_CELL)
        table.on("refund", on_refund)


def _emails(section: Section[client_record.EmailItem]) -> None:
    rows = [
        {
            "id": e.id,
            "queued_at": _moment(e.created_at),
            "subject": e.subject,
            "to": e.to,
            "status": _status(e.status),
            "status_en": STATUS_LABELS.get(e.status, ""),
            "failed": e.failed,
            "sent_at": _moment(e.sent_at),
            "last_error": e.last_error,
        }
        for e in section.items
    ]
    table = _table("emails", EMAIL_COLUMNS, rows)
    table.add_slot("body-cell-status", BADGE_CELL)
    table.add_slot("body-cell-last_error", ERROR_CELL)


def _audit(section: Section[client_record.AuditItem]) -> None:
    rows = [
        {
            "id": a.id,
            "at": _moment(a.at),
            "who": a.who,
            "action": a.action,  # the code, for tests and filters; people read the sentence
            "sentence": a.sentence,
            "details": a.details_text,
        }
        for a in section.items
    ]
    _table("audit", AUDIT_COLUMNS, rows)
