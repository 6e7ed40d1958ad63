"""The staff invoice editor: drafts from what staff type, send, resend, void, duplicate, and the list.

What staff type arrives as text (`InvoiceForm`, `LineForm`) and is parsed here, so that the page's live
preview (`preview`, `check_form`) and the saved invoice use the same rules and the same per-line rounding
(`portal.domain.tax`). Tax rates are chosen by key from `tax_choices` and resolved against the
organization's `TaxRate` rows when saving: a number typed by the browser is never trusted.

Lock order (as in `payments`): client, then invoice. Sending locks both and checks the status inside the
transaction, so two clicks on Send number the invoice once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal, get_decimal_symbol
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from portal.billing.documents import InvoiceDetail, get_invoice
from portal.billing.invoices import (
    LineDraft,
    _check_lines,
    allocated_by_invoice,
    queue_invoice_email,
    send_draft,
)
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import today
from portal.core.organization import get_organization
from portal.core.paging import Page, bounds, client_matches, fetch
from portal.db.models import Client, Invoice, InvoiceLine, Payment, QuoteLine, TaxRate
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import (
    MAX_AMOUNT_MINOR,
    currency_exponent,
    format_amount,
    format_money,
    normalize_currency,
    parse_amount,
)
from portal.domain.status import InvoiceStatus, PaymentStatus, check_transition
from portal.domain.tax import LineInput, invoice_totals, line_amounts
from portal.events import Event, publish
from portal.i18n import N_, _

NOT_FOUND = N_("That invoice does not exist.")
CLIENT_NOT_FOUND = N_("That client does not exist.")
PAGE_SIZE = 25
DEFAULT_TERM_DAYS = 14
DESCRIPTION_LIMIT = 500
NOTES_LIMIT = 5000
QUANTITY_LIMIT = Decimal(10**8)  # quantity is DECIMAL(12, 4): eight digits before the point
QUANTITY_PLACES = 4
NO_TAX = "none"
STATUS_FILTERS = ("", "draft", "open", "paid", "deleted")
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK")
_MINUS = ("-", "\u2212", "\u2012", "\u2013", "(")


# -- what staff type --------------------------------------------------------------------------------
@dataclass
class LineForm:
    """One line as typed: date (YYYY-MM-DD or empty), service, quantity, unit price text, tax key."""

    description: str = ""
    quantity: str = "1"
    unit_price: str = ""
    tax: str = NO_TAX
    date: str = ""


@dataclass
class InvoiceForm:
    """The editor's fields as typed (dates as YYYY-MM-DD)."""

    currency: str
    issue_date: str
    due_date: str
    notes: str = ""
    lines: list[LineForm] = field(default_factory=list)


@dataclass(frozen=True)
class TaxChoice:
    """One entry of the tax menu: 'No tax', a current tax rate, or a tax a stored line already has."""

    key: str  # "none" | "rate:<id>" | "kept:<rate>:<name>"
    name: str
    rate: Decimal

    @property
    def rate_text(self) -> str:
        """'20', '8.875'."""
        return f"{self.rate.normalize():f}"

    @property
    def label(self) -> str:
        """'No tax', 'VAT 20%', or 'TVA 20% (not a current rate)'."""
        if self.key == NO_TAX:
            return _("No tax")
        if self.key.startswith("kept:"):
            return _("{name} {rate}% (not a current rate)", name=self.name or _("Tax"), rate=self.rate_text)
        return _("{name} {rate}%", name=self.name, rate=self.rate_text)


@dataclass(frozen=True)
class Preview:
    """Totals of what is typed so far (lines with errors count as nothing) and every error by field."""

    subtotal_minor: int
    tax_minor: int
    total_minor: int
    line_net_minor: list[int | None]
    errors: dict[str, str]


def line_field(index: int, name: str) -> str:
    """The field name of one input of one line ('lines.0.unit_price')."""
    return f"lines.{index}.{name}"


def kept_key(name: str, rate: Decimal) -> str:
    """The menu key of a tax a stored line has but no current tax rate matches."""
    return f"kept:{Decimal(rate).normalize():f}:{name}"


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def price_example(currency: str, locale: str) -> str:
    """'12.50' for USD, '1,250' for JPY, '12.500' for KWD (in the locale's format)."""
    exponent = currency_exponent(currency)
    minor = 1250 * 10 ** max(exponent - 2, 0)
    return format_amount(minor, currency, locale)


def _fraction_digits(text: str, locale: str) -> int:
    """How many significant digits follow the locale's decimal mark (or '.') at the end of the number."""
    marks = {get_decimal_symbol(locale), "."}
    best = 0
    for mark in marks:
        found = re.search(re.escape(mark) + r"([0-9]+)[^0-9]*$", text)
        if found:
            best = max(best, len(found.group(1).rstrip("0")))
    return best


def parse_price(text: str, currency: str, locale: str, *, field_name: str = "unit_price") -> int:
    """A unit price typed in the currency, in minor units, with a message that says what to type."""
    cleaned = _nfkc(text)
    example = price_example(currency, locale)
    if not cleaned:
        raise InvalidInput(_("Enter a price like {example}.", example=example), field=field_name)
    try:
        return parse_amount(cleaned, currency, locale)
    except InvalidInput:
        pass
    exponent = currency_exponent(currency)
    if cleaned.startswith(_MINUS):
        raise InvalidInput(_("The price cannot be negative."), field=field_name) from None
    if sum(ch.isdigit() for ch in cleaned) > 16:
        raise InvalidInput(_("The price is too large."), field=field_name) from None
    if _fraction_digits(cleaned, locale) > exponent:
        if exponent == 0:
            message = _("{currency} has no decimals.", currency=currency)
        else:
            message = _("{currency} has at most {places} decimals.", currency=currency, places=exponent)
        raise InvalidInput(message, field=field_name) from None
    raise InvalidInput(_("Enter a price like {example}.", example=example), field=field_name) from None


def format_quantity(quantity: Decimal, locale: str) -> str:
    """'2.5' ('2,5' in French), without grouping, so that `parse_quantity` reads it back."""
    return format_decimal(Decimal(quantity).normalize(), format="0.####", locale=locale)


def parse_quantity(text: str, locale: str, *, field_name: str = "quantity") -> Decimal:
    """A quantity typed with '.' or the locale's decimal mark; more than 0, at most 4 decimals."""
    cleaned = _nfkc(text).replace(" ", "")
    if not cleaned:
        raise InvalidInput(_("Enter a quantity."), field=field_name)
    mark = get_decimal_symbol(locale)
    if mark != ".":
        cleaned = cleaned.replace(mark, ".")
    if cleaned.startswith(_MINUS):
        raise InvalidInput(_("Quantity must be more than 0."), field=field_name)
    if not re.fullmatch(r"[0-9]*\.?[0-9]+|[0-9]+\.", cleaned):
        example = format_quantity(Decimal("2.5"), locale)
        raise InvalidInput(_("Enter a quantity like 1 or {example}.", example=example), field=field_name)
    try:
        quantity = Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern above only lets numbers through
        raise InvalidInput(_("Enter a quantity."), field=field_name) from None
    if quantity <= 0:
        raise InvalidInput(_("Quantity must be more than 0."), field=field_name)
    if -quantity.normalize().as_tuple().exponent > QUANTITY_PLACES:  # type: ignore[operator]
        raise InvalidInput(_("Use at most 4 decimals for the quantity."), field=field_name)
    if quantity >= QUANTITY_LIMIT:
        raise InvalidInput(_("The quantity is too large."), field=field_name)
    return quantity


def parse_day(text: str, *, field_name: str, required: bool = True) -> date | None:
    """A date typed as YYYY-MM-DD (what a date input sends)."""
    cleaned = _nfkc(text)
    if not cleaned:
        if required:
            raise InvalidInput(_("Enter a date."), field=field_name)
        return None
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise InvalidInput(
            _("Enter a date like {example}.", example="2026-11-21"), field=field_name
        ) from None


def parse_line(
    line: LineForm, *, index: int, currency: str, locale: str, taxes: Mapping[str, TaxChoice]
) -> tuple[LineDraft | None, dict[str, str]]:
    """One typed line as a `LineDraft`, or None and its errors by field."""
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    description = (line.description or "").strip()
    if not description:
        errors[line_field(index, "description")] = _("Describe the service.")
    elif len(description) > DESCRIPTION_LIMIT:
        errors[line_field(index, "description")] = _(
            "Keep the description under {limit} characters.", limit=DESCRIPTION_LIMIT
        )
    for name, parse in (
        ("date", lambda: parse_day(line.date, field_name="date", required=False)),
        ("quantity", lambda: parse_quantity(line.quantity, locale)),
        ("unit_price", lambda: parse_price(line.unit_price, currency, locale)),
    ):
        try:
            values[name] = parse()
        except InvalidInput as exc:
            errors[line_field(index, name)] = exc.message
    tax = taxes.get(line.tax or NO_TAX)
    if tax is None:
        errors[line_field(index, "tax")] = _("Choose a tax rate from the list.")
    if errors:
        return None, errors
    assert tax is not None
    draft = LineDraft(
        description=description,
        quantity=values["quantity"],  # type: ignore[arg-type]
        unit_price_minor=values["unit_price"],  # type: ignore[arg-type]
        tax_rate=tax.rate,
        tax_name=tax.name,
        date=values["date"],  # type: ignore[arg-type]
    )
    amounts = line_amounts(LineInput(draft.quantity, draft.unit_price_minor, draft.tax_rate))
    if amounts.gross_minor > MAX_AMOUNT_MINOR:
        return None, {line_field(index, "unit_price"): _("This line's amount is too large.")}
    return draft, {}


def parse_lines(
    lines: Sequence[LineForm], *, currency: str, locale: str, taxes: Mapping[str, TaxChoice]
) -> tuple[list[LineDraft | None], dict[str, str]]:
    """Every typed line parsed (None where it has errors) and all the errors by field."""
    drafts: list[LineDraft | None] = []
    errors: dict[str, str] = {}
    for index, line in enumerate(lines):
        draft, line_errors = parse_line(line, index=index, currency=currency, locale=locale, taxes=taxes)
        drafts.append(draft)
        errors.update(line_errors)
    if not lines:
        errors["lines"] = _("Add at least one line.")
    return drafts, errors


def preview(
    lines: Sequence[LineForm], *, currency: str, locale: str, taxes: Mapping[str, TaxChoice]
) -> Preview:
    """Live totals as the page shows them while staff type (the same rounding the saved invoice uses)."""
    try:
        currency = normalize_currency(currency)
    except InvalidInput as exc:
        return Preview(0, 0, 0, [None] * len(lines), {"currency": exc.message})
    drafts, errors = parse_lines(lines, currency=currency, locale=locale, taxes=taxes)
    inputs = [LineInput(d.quantity, d.unit_price_minor, d.tax_rate) for d in drafts if d is not None]
    totals = invoice_totals(inputs)
    nets = [
        line_amounts(LineInput(d.quantity, d.unit_price_minor, d.tax_rate)).net_minor if d else None
        for d in drafts
    ]
    if totals.total_minor > MAX_AMOUNT_MINOR:
        errors["lines"] = _("The total is too large.")
    return Preview(totals.subtotal_minor, totals.tax_minor, totals.total_minor, nets, errors)


def check_dates(issue_text: str, due_text: str) -> tuple[date | None, date | None, dict[str, str]]:
    """Issue and due dates, and their errors (the due date cannot be before the issue date)."""
    errors: dict[str, str] = {}
    issue = due = None
    try:
        issue = parse_day(issue_text, field_name="issue_date")
    except InvalidInput as exc:
        errors["issue_date"] = exc.message
    try:
        due = parse_day(due_text, field_name="due_date")
    except InvalidInput as exc:
        errors["due_date"] = exc.message
    if issue and due and due < issue:
        errors["due_date"] = _("Due date cannot be before the issue date.")
    return issue, due, errors


def check_notes(notes: str, *, field_name: str = "notes") -> dict[str, str]:
    """Notes and terms are free text up to a limit."""
    if len(notes or "") > NOTES_LIMIT:
        return {field_name: _("Keep this under {limit} characters.", limit=NOTES_LIMIT)}
    return {}


def check_form(form: InvoiceForm, *, locale: str, taxes: Mapping[str, TaxChoice]) -> dict[str, str]:
    """Every error of an invoice form, by field (empty when it can be saved)."""
    errors: dict[str, str] = {}
    try:
        currency = normalize_currency(form.currency)
    except InvalidInput as exc:
        return {"currency": exc.message}
    errors.update(check_dates(form.issue_date, form.due_date)[2])
    errors.update(check_notes(form.notes))
    errors.update(preview(form.lines, currency=currency, locale=locale, taxes=taxes).errors)
    return errors


def raise_first(errors: Mapping[str, str]) -> None:
    """Raise the first error as InvalidInput naming its field."""
    for name, message in errors.items():
        raise InvalidInput(message, field=name)


# -- tax rates --------------------------------------------------------------------------------------
async def tax_choices(*, kept: Iterable[tuple[str, Decimal]] = ()) -> list[TaxChoice]:
    """'No tax', the organization's current tax rates, and any other tax the given lines already have."""
    rows = await TaxRate.filter(archived=False).order_by("name", "id")
    choices = [TaxChoice(NO_TAX, "", Decimal(0))]
    choices += [TaxChoice(f"rate:{row.id}", row.name, Decimal(row.rate)) for row in rows]
    for name, rate in kept:
        if tax_key(name, Decimal(rate), choices) not in {c.key for c in choices}:
            choices.append(TaxChoice(kept_key(name, rate), name, Decimal(rate)))
    return choices


def tax_key(name: str, rate: Decimal, choices: Sequence[TaxChoice]) -> str:
    """The menu key of a stored line's tax."""
    for choice in choices:
        if choice.key != NO_TAX and choice.name == name and choice.rate == rate:
            return choice.key
    if rate == 0 and not name:
        return NO_TAX
    return kept_key(name, rate)


def by_key(choices: Iterable[TaxChoice]) -> dict[str, TaxChoice]:
    """Tax choices indexed by key."""
    return {choice.key: choice for choice in choices}


def line_forms(
    rows: Sequence[InvoiceLine] | Sequence[QuoteLine],
    currency: str,
    locale: str,
    choices: Sequence[TaxChoice],
) -> list[LineForm]:
    """Stored lines as the editor shows them."""
    return [
        LineForm(
            description=row.description,
            quantity=format_quantity(row.quantity, locale),
            unit_price=format_amount(row.unit_price_minor, currency, locale),
            tax=tax_key(row.tax_name, Decimal(row.tax_rate), choices),
            date=row.date.isoformat() if row.date else "",
        )
        for row in rows
    ]


def currency_choices(*codes: str) -> list[str]:
    """The codes offered in the currency menu: the given ones first, then the common ones."""
    seen: list[str] = []
    for code in (*codes, *COMMON_CURRENCIES):
        if code and code not in seen:
            seen.append(code)
    return seen


async def checked_lines(
    lines: Sequence[LineForm], *, currency: str, locale: str, taxes: Mapping[str, TaxChoice]
) -> tuple[list[LineDraft], list[LineInput]]:
    """Typed lines as drafts and tax inputs, or InvalidInput naming the first wrong field."""
    drafts, errors = parse_lines(lines, currency=currency, locale=locale, taxes=taxes)
    raise_first(errors)
    valid = [d for d in drafts if d is not None]
    try:
        inputs = _check_lines(valid)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="lines") from exc
    if invoice_totals(inputs).total_minor > MAX_AMOUNT_MINOR:
        raise InvalidInput(_("The total is too large."), field="lines")
    return valid, inputs


async def write_lines(
    model: type[Model],
    owner: str,
    owner_id: int,
    drafts: Sequence[LineDraft],
    *,
    line_date: date | None = None,
) -> None:
    """Replace the lines of an invoice or a quote (`owner` is 'invoice_id' or 'quote_id')."""
    await model.filter(**{owner: owner_id}).delete()
    for position, draft in enumerate(drafts):
        amounts = line_amounts(LineInput(draft.quantity, draft.unit_price_minor, draft.tax_rate))
        await model.create(
            **{owner: owner_id},
            position=position,
            date=line_date if line_date and draft.date else draft.date,
            description=draft.description,
            quantity=draft.quantity,
            unit_price_minor=draft.unit_price_minor,
            tax_name=draft.tax_name,
            tax_rate=draft.tax_rate,
            net_minor=amounts.net_minor,
            tax_minor=amounts.tax_minor,
            gross_minor=amounts.gross_minor,
        )


def drafts_of(rows: Iterable[InvoiceLine] | Iterable[QuoteLine]) -> list[LineDraft]:
    """Stored lines as drafts (to copy them onto another document)."""
    return [
        LineDraft(
            description=row.description,
            quantity=Decimal(row.quantity),
            unit_price_minor=row.unit_price_minor,
            tax_rate=Decimal(row.tax_rate),
            tax_name=row.tax_name,
            date=row.date,
        )
        for row in rows
    ]


# -- views ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientRef:
    """The client a document is for."""

    id: int
    name: str
    email: str
    currency: str


@dataclass(frozen=True)
class InvoiceEditorView:
    """Everything the staff invoice page shows: the form, the tax menu, and (once saved) the document."""

    id: int | None
    number: str | None
    status: str  # draft | open | paid | deleted ("draft" for a new one too)
    client: ClientRef
    form: InvoiceForm
    taxes: list[TaxChoice]
    currencies: list[str]
    detail: InvoiceDetail | None = None

    @property
    def editable(self) -> bool:
        """Only a draft's lines can be changed."""
        return self.status == InvoiceStatus.draft

    @property
    def display_status(self) -> str:
        """'overdue' for an overdue open invoice, else the status."""
        return self.detail.display_status if self.detail else self.status

    @property
    def title(self) -> str:
        """'Invoice INV-2026-0001', 'Draft invoice 12', 'New invoice'."""
        if self.id is None:
            return _("New invoice")
        if self.number:
            return _("Invoice {number}", number=self.number)
        return _("Draft invoice {id}", id=self.id)

    @property
    def amount_due_minor(self) -> int:
        """What is still due (the total for a draft)."""
        return self.detail.amount_due_minor if self.detail else 0


async def editor_client(client_id: int | None) -> Client:
    """The client a new or saved document is for (NotFound when there is none)."""
    client = await Client.get_or_none(id=client_id) if client_id is not None else None
    if client is None:
        raise NotFound(_(CLIENT_NOT_FOUND))
    return client


def client_ref(client: Client) -> ClientRef:
    """The client as the editors show it."""
    return ClientRef(client.id, client.name, client.email, client.currency)


async def new_invoice(*, actor: Actor, client_id: int) -> InvoiceEditorView:
    """An empty editor for a client: its currency, issued today, due in 14 days, one empty line."""
    require_staff(actor)
    client = await editor_client(client_id)
    taxes = await tax_choices()
    org = await get_organization()
    form = InvoiceForm(
        currency=client.currency,
        issue_date=today().isoformat(),
        due_date=(today() + timedelta(days=DEFAULT_TERM_DAYS)).isoformat(),
        lines=[LineForm(date=today().isoformat())],
    )
    currencies = currency_choices(client.currency, org.default_currency)
    return InvoiceEditorView(None, None, InvoiceStatus.draft, client_ref(client), form, taxes, currencies)


async def get_invoice_editor(*, actor: Actor, invoice_id: int) -> InvoiceEditorView:
    """A saved invoice in the editor (drafts) or as a document with its payments (the others)."""
    require_staff(actor)
    invoice = await Invoice.get_or_none(id=invoice_id)
    if invoice is None:
        raise NotFound(_(NOT_FOUND))
    client = await editor_client(invoice.client_id)
    rows = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position", "id")
    taxes = await tax_choices(kept=[(row.tax_name, Decimal(row.tax_rate)) for row in rows])
    org = await get_organization()
    form = InvoiceForm(
        currency=invoice.currency,
        issue_date=invoice.issue_date.isoformat(),
        due_date=invoice.due_date.isoformat(),
        notes=invoice.notes,
        lines=line_forms(rows, invoice.currency, actor.locale, taxes),
    )
    return InvoiceEditorView(
        id=invoice.id,
        number=invoice.number,
        status=invoice.status,
        client=client_ref(client),
        form=form,
        taxes=taxes,
        currencies=currency_choices(invoice.currency, client.currency, org.default_currency),
        detail=await get_invoice(actor=actor, invoice_id=invoice.id),
    )


# -- saving -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Checked:
    currency: str
    issue_date: date
    due_date: date
    notes: str
    drafts: list[LineDraft]
    inputs: list[LineInput]


async def _check(form: InvoiceForm, *, locale: str, kept: Iterable[tuple[str, Decimal]] = ()) -> _Checked:
    """Parse and check a form; InvalidInput names the first wrong field and nothing is saved."""
    currency = normalize_currency(form.currency)
    issue, due, errors = check_dates(form.issue_date, form.due_date)
    errors.update(check_notes(form.notes))
    raise_first(errors)
    assert issue is not None and due is not None
    taxes = by_key(await tax_choices(kept=kept))
    drafts, inputs = await checked_lines(form.lines, currency=currency, locale=locale, taxes=taxes)
    return _Checked(currency, issue, due, form.notes.strip(), drafts, inputs)


async def _lock_invoice(invoice_id: int) -> tuple[Client, Invoice]:
    """Lock the client, then the invoice (the order payments use); NotFound if it does not exist."""
    found = await Invoice.get_or_none(id=invoice_id)
    if found is None:
        raise NotFound(_(NOT_FOUND))
    client = await Client.select_for_update().get(id=found.client_id)
    invoice = await Invoice.select_for_update().get(id=invoice_id)
    return client, invoice


def _not_draft(invoice: Invoice) -> Conflict:
    if invoice.status == InvoiceStatus.deleted:
        return Conflict(_("This invoice has been voided and can no longer be changed."))
    return Conflict(
        _(
            "This invoice has been sent, so its lines can no longer be edited. "
            "Void it and duplicate it to make changes."
        )
    )


async def _kept(invoice_id: int) -> list[tuple[str, Decimal]]:
    rows = await InvoiceLine.filter(invoice_id=invoice_id).values_list("tax_name", "tax_rate")
    return [(name, Decimal(rate)) for name, rate in rows]


async def _store(invoice: Invoice, checked: _Checked) -> None:
    totals = invoice_totals(checked.inputs)
    invoice.currency, invoice.issue_date, invoice.due_date = (
        checked.currency,
        checked.issue_date,
        checked.due_date,
    )
    invoice.notes = checked.notes
    invoice.subtotal_minor, invoice.tax_minor = totals.subtotal_minor, totals.tax_minor
    invoice.total_minor = totals.total_minor
    await invoice.save()
    await write_lines(InvoiceLine, "invoice_id", invoice.id, checked.drafts)


async def _save(
    actor: Actor, form: InvoiceForm, *, invoice_id: int | None, client_id: int | None
) -> tuple[Client, Invoice]:
    """Create or update a draft inside the caller's transaction."""
    if invoice_id is None:
        client = await editor_client(client_id)
        checked = await _check(form, locale=actor.locale)
        await Client.select_for_update().get(id=client.id)
        invoice = await Invoice.create(
            client_id=client.id,
            status=InvoiceStatus.draft,
            currency=checked.currency,
            issue_date=checked.issue_date,
            due_date=checked.due_date,
            created_by_id=actor.user_id,
        )
        await _store(invoice, checked)
        await audit.record(
            actor=actor, action="invoice.create", subject=f"invoice:{invoice.id}", client_id=client.id
        )
        return client, invoice
    kept = await _kept(invoice_id)
    checked = await _check(form, locale=actor.locale, kept=kept)
    client, invoice = await _lock_invoice(invoice_id)
    if invoice.status != InvoiceStatus.draft:
        raise _not_draft(invoice)
    await _store(invoice, checked)
    await audit.record(
        actor=actor, action="invoice.update", subject=f"invoice:{invoice.id}", client_id=client.id
    )
    return client, invoice


async def save_draft(
    *, actor: Actor, form: InvoiceForm, invoice_id: int | None = None, client_id: int | None = None
) -> int:
    """Create a draft for `client_id`, or update draft `invoice_id`: no number, nothing sent."""
    require_staff(actor)
    async with in_transaction():
        _client_row, invoice = await _save(actor, form, invoice_id=invoice_id, client_id=client_id)
    return invoice.id


async def send_invoice(
    *,
    actor: Actor,
    invoice_id: int | None = None,
    client_id: int | None = None,
    form: InvoiceForm | None = None,
) -> int:
    """Number a draft, open it, email a payment link and use credit; with `form`, save it first.

    Without `invoice_id` a new invoice is created for `client_id` from `form` and sent at once.
    """
    require_staff(actor)
    if invoice_id is None and form is None:
        raise InvalidInput(_("Add at least one line."), field="lines")

    async def load() -> tuple[Client, Invoice]:
        if form is not None:
            client, invoice = await _save(actor, form, invoice_id=invoice_id, client_id=client_id)
        else:
            assert invoice_id is not None
            client, invoice = await _lock_invoice(invoice_id)
        if invoice.status != InvoiceStatus.draft:
            if invoice.status == InvoiceStatus.deleted:
                raise _not_draft(invoice)
            raise Conflict(_("This invoice has already been sent. Use Resend to email it again."))
        if not await InvoiceLine.exists(invoice_id=invoice.id):
            raise InvalidInput(_("Add at least one line."), field="lines")
        return client, invoice

    return await send_draft(actor=actor, load=load)


async def resend_invoice(*, actor: Actor, invoice_id: int) -> str:
    """Email an open invoice again with a new link (earlier links keep working); returns the address."""
    require_staff(actor)
    async with in_transaction():
        client, invoice = await _lock_invoice(invoice_id)
        if invoice.status == InvoiceStatus.draft:
            raise Conflict(_("This invoice is still a draft. Send it first."))
        if invoice.status == InvoiceStatus.paid:
            raise Conflict(_("This invoice is paid: there is nothing to ask for."))
        if invoice.status != InvoiceStatus.open:
            raise _not_draft(invoice)
        await queue_invoice_email(invoice, client)
        await audit.record(
            actor=actor,
            action="invoice.resend",
            subject=f"invoice:{invoice.id}",
            client_id=client.id,
            details={"number": invoice.number, "to": client.email},
        )
    return client.email


async def void_invoice(*, actor: Actor, invoice_id: int) -> None:
    """Void (delete) a draft or an open invoice with no money on it, and revoke its payment links."""
    require_staff(actor)
    from portal.payments import links

    async with in_transaction():
        client, invoice = await _lock_invoice(invoice_id)
        if invoice.status == InvoiceStatus.deleted:
            raise Conflict(_("This invoice is already void."))
        allocated = (await allocated_by_invoice([invoice.id])).get(invoice.id, 0)
        if allocated:
            raise Conflict(
                _(
                    "{amount} has been paid or credited to this invoice. "
                    "Refund it first, then void the invoice.",
                    amount=format_money(allocated, invoice.currency, actor.locale),
                )
            )
        if await Payment.exists(invoice_id=invoice.id, status=PaymentStatus.pending):
            raise Conflict(
                _(
                    "A payment for this invoice is in progress. "
                    "Wait for it to finish before voiding the invoice."
                )
            )
        check_transition(InvoiceStatus(invoice.status), InvoiceStatus.deleted)
        previous = invoice.status
        invoice.status = InvoiceStatus.deleted
        await invoice.save(update_fields=["status", "updated_at"])
        revoked = await links.revoke_for(purpose="invoice", target_id=invoice.id)
        await audit.record(
            actor=actor,
            action="invoice.void",
            subject=f"invoice:{invoice.id}",
            client_id=client.id,
            details={"number": invoice.number, "was": previous, "links_revoked": revoked},
        )
    await publish(Event("invoice.voided", client_id=client.id, data={"invoice_id": invoice.id}))


async def duplicate_invoice(*, actor: Actor, invoice_id: int) -> int:
    """A new draft with the same lines, issued today, with the same payment term; returns its id."""
    require_staff(actor)
    source = await Invoice.get_or_none(id=invoice_id)
    if source is None:
        raise NotFound(_(NOT_FOUND))
    drafts = drafts_of(await InvoiceLine.filter(invoice_id=source.id).order_by("position", "id"))
    term = max((source.due_date - source.issue_date).days, 0)
    async with in_transaction():
        copy = await Invoice.create(
            client_id=source.client_id,
            status=InvoiceStatus.draft,
            currency=source.currency,
            issue_date=today(),
            due_date=today() + timedelta(days=term),
            notes=source.notes,
            subtotal_minor=source.subtotal_minor,
            tax_minor=source.tax_minor,
            total_minor=source.total_minor,
            created_by_id=actor.user_id,
        )
        await write_lines(InvoiceLine, "invoice_id", copy.id, drafts, line_date=today())
        await audit.record(
            actor=actor,
            action="invoice.duplicate",
            subject=f"invoice:{copy.id}",
            client_id=source.client_id,
            details={"from_invoice": source.id, "from_number": source.number},
        )
    return copy.id


async def draft_from_lines(
    *, actor: Actor, client_id: int, currency: str, drafts: Sequence[LineDraft], action_details: dict
) -> Invoice:
    """A draft invoice with these lines, issued today, due in 14 days (inside the caller's transaction)."""
    require_staff(actor)
    inputs = [LineInput(d.quantity, d.unit_price_minor, d.tax_rate) for d in drafts]
    totals = invoice_totals(inputs)
    invoice = await Invoice.create(
        client_id=client_id,
        status=InvoiceStatus.draft,
        currency=currency,
        issue_date=today(),
        due_date=today() + timedelta(days=DEFAULT_TERM_DAYS),
        subtotal_minor=totals.subtotal_minor,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        created_by_id=actor.user_id,
    )
    await write_lines(InvoiceLine, "invoice_id", invoice.id, drafts)
    await audit.record(
        actor=actor,
        action="invoice.create",
        subject=f"invoice:{invoice.id}",
        client_id=client_id,
        details=action_details,
    )
    return invoice


# -- the list ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InvoiceRow:
    """An invoice as the console list shows it."""

    id: int
    number: str
    client_id: int
    client_name: str
    status: str  # draft | open | overdue | paid | deleted
    currency: str
    issue_date: date
    due_date: date
    total_minor: int
    amount_due_minor: int


@dataclass(frozen=True)
class InvoicePage(Page[InvoiceRow]):
    """One page of the invoice list, and the currencies the filter offers."""

    currencies: list[str]


async def list_invoices(
    *,
    actor: Actor,
    status: str = "",
    search: str = "",
    currency: str = "",
    overdue: bool = False,
    client_id: int | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> InvoicePage:
    """Staff: invoices newest first, filtered by status, client or number, currency, overdue; one page."""
    require_staff(actor)
    if status not in STATUS_FILTERS:
        raise InvalidInput(_("Choose a status from the list."), field="status")
    page, page_size = bounds(page, page_size)
    query = Invoice.filter(status=status) if status else Invoice.exclude(status=InvoiceStatus.deleted)
    if currency:
        query = query.filter(currency=normalize_currency(currency))
    if overdue:
        query = query.filter(status=InvoiceStatus.open, due_date__lt=today())
    if client_id is not None:
        query = query.filter(client_id=client_id)
    if term := search.strip():
        query = query.filter(Q(number__icontains=term) | client_matches(term))
    query = query.prefetch_related("client")
    invoices, total = await fetch(query, page, page_size, "-issue_date", "-id")
    allocated = await allocated_by_invoice([inv.id for inv in invoices])
    rows = [
        InvoiceRow(
            id=inv.id,
            number=inv.number or _("Draft {id}", id=inv.id),
            client_id=inv.client_id,
            client_name=inv.client.name,
            status="overdue" if inv.status == InvoiceStatus.open and inv.due_date < today() else inv.status,
            currency=inv.currency,
            issue_date=inv.issue_date,
            due_date=inv.due_date,
            total_minor=inv.total_minor,
            amount_due_minor=inv.total_minor - allocated.get(inv.id, 0),
        )
        for inv in invoices
    ]
    used = await Invoice.all().distinct().order_by("currency").values_list("currency", flat=True)
    return InvoicePage(rows, total, page, page_size, sorted(set(used)))
