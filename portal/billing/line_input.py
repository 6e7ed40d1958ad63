"""What staff type into the invoice and quote editors: lines, prices, quantities, dates, tax choices.

Typed text (`LineForm`) is parsed here, so that the page's live preview (`preview`) and the saved invoice
or quote use the same rules and the same per-line rounding (`portal.domain.tax`). Tax rates are chosen by
key from `tax_choices` and resolved against the organization's `TaxRate` rows when saving: a number typed
by the browser is never trusted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal, get_decimal_symbol

from portal.billing.invoices import LineDraft, _check_lines
from portal.db.models import InvoiceLine, QuoteLine, TaxRate
from portal.domain.errors import InvalidInput
from portal.domain.money import (
    MAX_AMOUNT_MINOR,
    AmbiguousAmount,
    currency_exponent,
    format_amount,
    normalize_currency,
    parse_amount,
)
from portal.domain.reverse_charge import charged_lines
from portal.domain.tax import LineInput, invoice_totals, line_amounts
from portal.i18n import _

DESCRIPTION_LIMIT = 500
NOTES_LIMIT = 5000
QUANTITY_LIMIT = Decimal(10**8)  # quantity is DECIMAL(12, 4): eight digits before the point
QUANTITY_PLACES = 4
NO_TAX = "none"
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
    """Totals of what is typed so far and every error by field. Lines with errors count as nothing, except
    one that lacks only its service: it counts, and its error says so at the line."""

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
    except AmbiguousAmount as exc:  # '0,500' in English: it says what it could mean and how to write it
        raise InvalidInput(exc.message, field=field_name) from None
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
    if set(errors) == {line_field(index, "description")} and (line.unit_price or "").strip():
        # quantity and price are fine: `preview` counts the line, and says so where the service is missing
        errors[line_field(index, "description")] = _(
            "Describe the service: this line is in the totals, but it cannot be saved without one."
        )
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


def _counted(
    line: LineForm,
    index: int,
    errors: Mapping[str, str],
    *,
    currency: str,
    locale: str,
    taxes: Mapping[str, TaxChoice],
) -> LineDraft | None:
    """A line whose only problem is its missing service, as it will count once described (its error
    stays at the line): the totals never silently leave out a quantity and price that were typed."""
    prefix = line_field(index, "")
    wrong = {name for name in errors if name.startswith(prefix)}
    if wrong != {line_field(index, "description")} or (line.description or "").strip():
        return None
    described = replace(line, description="-")
    draft, _errors = parse_line(described, index=index, currency=currency, locale=locale, taxes=taxes)
    return draft


def preview(
    lines: Sequence[LineForm],
    *,
    currency: str,
    locale: str,
    taxes: Mapping[str, TaxChoice],
    reverse_charge: bool = False,
) -> Preview:
    """Live totals as the page shows them while staff type (the same rounding the saved invoice uses, and
    the same `charged_lines`: no tax on a reverse-charged document)."""
    try:
        currency = normalize_currency(currency)
    except InvalidInput as exc:
        return Preview(0, 0, 0, [None] * len(lines), {"currency": exc.message})
    drafts, errors = parse_lines(lines, currency=currency, locale=locale, taxes=taxes)
    drafts = [
        draft or _counted(line, index, errors, currency=currency, locale=locale, taxes=taxes)
        for index, (line, draft) in enumerate(zip(lines, drafts, strict=True))
    ]
    counted = charged_lines([d for d in drafts if d is not None], reverse_charge=reverse_charge)
    inputs = [LineInput(d.quantity, d.unit_price_minor, d.tax_rate) for d in counted]
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
