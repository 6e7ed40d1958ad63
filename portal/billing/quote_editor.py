"""The staff editor for estimates and proposals: drafts, send, convert an approved one into an invoice.

Lines are typed and checked exactly like invoice lines (`line_input`); approving or declining is the
client's (`quotes.decide`). Numbers come from their own sequences: EST-2026-0001, PRO-2026-0001.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from portal.billing.documents import Letterhead, Party, letterhead
from portal.billing.invoice_editor import (
    ClientRef,
    client_ref,
    draft_from_lines,
    drafts_of,
    editor_client,
)
from portal.billing.invoices import reverse_charged, store_lines
from portal.billing.line_input import (
    LineForm,
    TaxChoice,
    by_key,
    check_notes,
    checked_lines,
    currency_choices,
    line_forms,
    parse_day,
    preview,
    raise_first,
    tax_choices,
)
from portal.billing.quotes import QuoteView, display_status, get_quote, quote_number
from portal.config import get_settings
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import today
from portal.core.numbering import next_number
from portal.core.organization import get_organization
from portal.core.paging import Page, bounds, client_matches, fetch
from portal.db.models import Client, Invoice, Quote, QuoteLine
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import normalize_currency
from portal.domain.status import QuoteStatus, check_transition
from portal.events import Event, publish
from portal.i18n import N_, _
from portal.mail import invoice_emails
from portal.mail.outbox import enqueue

NOT_FOUND = N_("That estimate or proposal does not exist.")
KINDS = ("estimate", "proposal")
NUMBER_PATTERNS = {"estimate": "EST-{YYYY}-{seq:04}", "proposal": "PRO-{YYYY}-{seq:04}"}
STATUS_FILTERS = ("", "draft", "sent", "approved", "declined", "expired", "converted")
DEFAULT_VALID_DAYS = 30
TITLE_LIMIT = 300
PAGE_SIZE = 25


def kind_label(kind: str) -> str:
    """'Estimate' or 'Proposal' in the page's language."""
    return _("Proposal") if kind == "proposal" else _("Estimate")


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(_("Choose estimate or proposal."), field="kind")
    return kind


@dataclass
class QuoteForm:
    """The editor's fields as typed (valid until as YYYY-MM-DD or empty)."""

    currency: str
    title: str = ""
    valid_until: str = ""
    terms: str = ""
    lines: list[LineForm] = field(default_factory=list)


def _valid_until(text: str) -> tuple[date | None, dict[str, str]]:
    try:
        day = parse_day(text, field_name="valid_until", required=False)
    except InvalidInput as exc:
        return None, {"valid_until": exc.message}
    if day is not None and day < today():
        return day, {"valid_until": _("The valid-until date has passed. Choose a later date.")}
    return day, {}


def check_quote_form(form: QuoteForm, *, locale: str, taxes: Mapping[str, TaxChoice]) -> dict[str, str]:
    """Every error of a quote form, by field (empty when it can be saved)."""
    try:
        currency = normalize_currency(form.currency)
    except InvalidInput as exc:
        return {"currency": exc.message}
    errors: dict[str, str] = {}
    if len(form.title or "") > TITLE_LIMIT:
        errors["title"] = _("Keep the title under {limit} characters.", limit=TITLE_LIMIT)
    errors.update(_valid_until(form.valid_until)[1])
    errors.update(check_notes(form.terms, field_name="terms"))
    errors.update(preview(form.lines, currency=currency, locale=locale, taxes=taxes).errors)
    return errors


# -- views ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuoteEditorView:
    """Everything the staff quote page shows: the form while it is a draft, the document afterwards."""

    id: int | None
    kind: str
    number: str | None
    status: str
    client: ClientRef
    form: QuoteForm
    taxes: list[TaxChoice]
    currencies: list[str]
    document: QuoteView | None = None
    converted_invoice_id: int | None = None
    converted_invoice_number: str | None = None

    @property
    def editable(self) -> bool:
        """Only a draft can be changed."""
        return self.status == QuoteStatus.draft

    @property
    def display_status(self) -> str:
        """'expired' for a sent one past its date, else the status."""
        if self.status == QuoteStatus.sent and self.document and not self.document.awaiting_decision:
            return QuoteStatus.expired
        return self.status

    @property
    def title(self) -> str:
        """'Estimate EST-2026-0001', 'Draft proposal 4', 'New estimate'."""
        if self.id is None:
            return _("New proposal") if self.kind == "proposal" else _("New estimate")
        if self.number or self.status != QuoteStatus.draft:
            return _("{kind} {number}", kind=kind_label(self.kind), number=self.number or f"#{self.id}")
        if self.kind == "proposal":
            return _("Draft proposal {id}", id=self.id)
        return _("Draft estimate {id}", id=self.id)


async def new_quote(*, actor: Actor, client_id: int, kind: str) -> QuoteEditorView:
    """An empty editor: the client's currency, valid for 30 days, one empty line."""
    require_staff(actor)
    _check_kind(kind)
    client = await editor_client(client_id)
    org = await get_organization()
    form = QuoteForm(
        currency=client.currency,
        valid_until=(today() + timedelta(days=DEFAULT_VALID_DAYS)).isoformat(),
        lines=[LineForm(date=today().isoformat())],
    )
    return QuoteEditorView(
        id=None,
        kind=kind,
        number=None,
        status=QuoteStatus.draft,
        client=await client_ref(client),
        form=form,
        taxes=await tax_choices(),
        currencies=currency_choices(client.currency, org.default_currency),
    )


async def get_quote_editor(*, actor: Actor, quote_id: int) -> QuoteEditorView:
    """A saved estimate or proposal, with what the client decided and the invoice it became."""
    require_staff(actor)
    quote = await Quote.get_or_none(id=quote_id)
    if quote is None:
        raise NotFound(_(NOT_FOUND))
    client = await editor_client(quote.client_id)
    rows = await QuoteLine.filter(quote_id=quote.id).order_by("position", "id")
    taxes = await tax_choices(kept=[(row.tax_name, Decimal(row.tax_rate)) for row in rows])
    org = await get_organization()
    invoice = await Invoice.get_or_none(id=quote.converted_invoice_id) if quote.converted_invoice_id else None
    form = QuoteForm(
        currency=quote.currency,
        title=quote.title,
        valid_until=quote.valid_until.isoformat() if quote.valid_until else "",
        terms=quote.terms,
        lines=line_forms(rows, quote.currency, actor.locale, taxes),
    )
    return QuoteEditorView(
        id=quote.id,
        kind=quote.kind,
        number=quote.number,
        status=quote.status,
        client=await client_ref(client),
        form=form,
        taxes=taxes,
        currencies=currency_choices(quote.currency, client.currency, org.default_currency),
        document=await get_quote(actor=actor, quote_id=quote.id),
        converted_invoice_id=invoice.id if invoice else None,
        converted_invoice_number=(invoice.number or _("Draft {id}", id=invoice.id)) if invoice else None,
    )


# -- saving -----------------------------------------------------------------------------------------
async def _kept(quote_id: int) -> list[tuple[str, Decimal]]:
    rows = await QuoteLine.filter(quote_id=quote_id).values_list("tax_name", "tax_rate")
    return [(name, Decimal(rate)) for name, rate in rows]


async def _store(quote: Quote, form: QuoteForm, *, locale: str, kept: Iterable[tuple[str, Decimal]]) -> None:
    """Check the form (InvalidInput names the first wrong field) and write it onto the draft; reverse
    charge decided from the client as it is now (a reverse-charged quote's lines carry no tax)."""
    currency = normalize_currency(form.currency)
    errors: dict[str, str] = {}
    if len(form.title or "") > TITLE_LIMIT:
        errors["title"] = _("Keep the title under {limit} characters.", limit=TITLE_LIMIT)
    valid_until, date_errors = _valid_until(form.valid_until)
    errors.update(date_errors)
    errors.update(check_notes(form.terms, field_name="terms"))
    raise_first(errors)
    taxes = by_key(await tax_choices(kept=kept))
    drafts, _inputs = await checked_lines(form.lines, currency=currency, locale=locale, taxes=taxes)
    quote.currency, quote.title, quote.valid_until = currency, (form.title or "").strip(), valid_until
    quote.terms = (form.terms or "").strip()
    reverse_charge = await reverse_charged(await editor_client(quote.client_id))
    await store_lines(quote, drafts, reverse_charge=reverse_charge)


def _not_draft(quote: Quote) -> Conflict:
    return Conflict(
        _(
            "This {kind} has been sent, so it can no longer be edited.",
            kind=kind_label(quote.kind).lower(),
        )
    )


async def _save(
    actor: Actor, form: QuoteForm, *, quote_id: int | None, client_id: int | None, kind: str | None
) -> Quote:
    """Create or update a draft inside the caller's transaction."""
    if quote_id is None:
        client = await editor_client(client_id)
        quote = Quote(
            kind=_check_kind(kind or ""),
            client_id=client.id,
            status=QuoteStatus.draft,
            currency=client.currency,
            issue_date=today(),
        )
        await _store(quote, form, locale=actor.locale, kept=())
        action = "create"
    else:
        kept = await _kept(quote_id)
        quote = await Quote.select_for_update().get_or_none(id=quote_id)
        if quote is None:
            raise NotFound(_(NOT_FOUND))
        if quote.status != QuoteStatus.draft:
            raise _not_draft(quote)
        await _store(quote, form, locale=actor.locale, kept=kept)
        action = "update"
    await audit.record(
        actor=actor, action=f"{quote.kind}.{action}", subject=f"quote:{quote.id}", client_id=quote.client_id
    )
    return quote


async def save_quote_draft(
    *,
    actor: Actor,
    form: QuoteForm,
    quote_id: int | None = None,
    client_id: int | None = None,
    kind: str | None = None,
) -> int:
    """Create a draft estimate or proposal for `client_id`, or update draft `quote_id`."""
    require_staff(actor)
    async with in_transaction():
        quote = await _save(actor, form, quote_id=quote_id, client_id=client_id, kind=kind)
    return quote.id


def quote_url(quote_id: int) -> str:
    """Where the client reviews, approves or declines it."""
    return f"{get_settings().public_url.rstrip('/')}/billing/quotes/{quote_id}"


async def send_quote(
    *,
    actor: Actor,
    quote_id: int | None = None,
    client_id: int | None = None,
    kind: str | None = None,
    form: QuoteForm | None = None,
) -> int:
    """Number a draft, mark it sent and email the client a link to it; with `form`, save it first."""
    require_staff(actor)
    if quote_id is None and form is None:
        raise InvalidInput(_("Add at least one line."), field="lines")
    async with in_transaction():
        if form is not None:
            quote = await _save(actor, form, quote_id=quote_id, client_id=client_id, kind=kind)
            quote = await Quote.select_for_update().get(id=quote.id)
        else:
            quote = await Quote.select_for_update().get_or_none(id=quote_id)
            if quote is None:
                raise NotFound(_(NOT_FOUND))
        if quote.status != QuoteStatus.draft:
            raise Conflict(_("This {kind} has already been sent.", kind=kind_label(quote.kind).lower()))
        if not await QuoteLine.exists(quote_id=quote.id):
            raise InvalidInput(_("Add at least one line."), field="lines")
        if quote.valid_until is not None and quote.valid_until < today():
            raise InvalidInput(
                _("The valid-until date has passed. Choose a later date."), field="valid_until"
            )
        check_transition(QuoteStatus(quote.status), QuoteStatus.sent, subject=quote.kind)
        quote.number = await next_quote_number(quote.kind)
        quote.status, quote.issue_date = QuoteStatus.sent, today()
        await quote.save(update_fields=["number", "status", "issue_date"])
        client = await Client.get(id=quote.client_id)
        email = invoice_emails.quote_sent(
            org=await get_organization(), quote=quote, client=client, link=quote_url(quote.id)
        )
        await enqueue(
            kind="quote",
            to=client.email,
            client_id=client.id,
            subject=email.subject,
            text=email.text,
            html=email.html,
        )
        await audit.record(
            actor=actor,
            action=f"{quote.kind}.sent",
            subject=f"quote:{quote.id}",
            client_id=client.id,
            details={"number": quote.number, "to": client.email},
        )
    await publish(Event("quote.sent", client_id=quote.client_id, data={"quote_id": quote.id}))
    return quote.id


async def next_quote_number(kind: str) -> str:
    """The next EST-/PRO- number (inside the caller's transaction)."""
    return await next_number(kind=kind, pattern=NUMBER_PATTERNS[_check_kind(kind)], on=today())


async def convert_quote(*, actor: Actor, quote_id: int) -> int:
    """Turn an approved estimate or proposal into a draft invoice with its lines; returns the invoice id.

    Converting again returns the invoice it already became.
    """
    require_staff(actor)
    async with in_transaction():
        quote = await Quote.select_for_update().get_or_none(id=quote_id)
        if quote is None:
            raise NotFound(_(NOT_FOUND))
        if quote.converted_invoice_id is not None:
            return quote.converted_invoice_id
        if quote.status != QuoteStatus.approved:
            raise Conflict(
                _(
                    "Only an approved {kind} can be turned into an invoice.",
                    kind=kind_label(quote.kind).lower(),
                )
            )
        check_transition(QuoteStatus(quote.status), QuoteStatus.converted, subject=quote.kind)
        lines = drafts_of(await QuoteLine.filter(quote_id=quote.id).order_by("position", "id"))
        invoice = await draft_from_lines(
            actor=actor,
            client_id=quote.client_id,
            currency=quote.currency,
            drafts=lines,
            action_details={"from_quote": quote.id, "from_number": quote.number},
        )
        quote.status, quote.converted_invoice_id = QuoteStatus.converted, invoice.id
        await quote.save(update_fields=["status", "converted_invoice_id"])
        await audit.record(
            actor=actor,
            action=f"{quote.kind}.converted",
            subject=f"quote:{quote.id}",
            client_id=quote.client_id,
            details={"invoice_id": invoice.id, "number": quote.number},
        )
    return invoice.id


# -- the list ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuoteRow:
    """An estimate or proposal as the console list shows it."""

    id: int
    kind: str
    number: str
    title: str
    client_id: int
    client_name: str
    status: str
    currency: str
    issue_date: date
    valid_until: date | None
    total_minor: int
    decided_on: date | None = None  # the day of the decision (the last valid day of an expired one)
    decision_comment: str = ""


@dataclass(frozen=True)
class QuotePage(Page[QuoteRow]):
    """One page of the estimates and proposals list."""


async def list_quotes(
    *,
    actor: Actor,
    status: str = "",
    kind: str = "",
    search: str = "",
    client_id: int | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> QuotePage:
    """Staff: estimates and proposals newest first, filtered by status, kind, client, number or title."""
    require_staff(actor)
    if status not in STATUS_FILTERS:
        raise InvalidInput(_("Choose a status from the list."), field="status")
    if kind:
        _check_kind(kind)
    page, page_size = bounds(page, page_size)
    query = Quote.all()
    if status == QuoteStatus.expired:
        query = query.filter(
            Q(status=QuoteStatus.expired) | Q(status=QuoteStatus.sent, valid_until__lt=today())
        )
    elif status == QuoteStatus.sent:
        query = query.filter(
            Q(status=QuoteStatus.sent) & (Q(valid_until__isnull=True) | Q(valid_until__gte=today()))
        )
    elif status:
        query = query.filter(status=status)
    if kind:
        query = query.filter(kind=kind)
    if client_id is not None:
        query = query.filter(client_id=client_id)
    if term := search.strip():
        query = query.filter(Q(number__icontains=term) | Q(title__icontains=term) | client_matches(term))
    query = query.prefetch_related("client")
    quotes, total = await fetch(query, page, page_size, "-issue_date", "-id")
    rows = [
        QuoteRow(
            id=q.id,
            kind=q.kind,
            number=quote_number(q.number, q.status, q.id),
            title=q.title,
            client_id=q.client_id,
            client_name=q.client.name,
            status=display_status(q.status, q.valid_until),
            currency=q.currency,
            issue_date=q.issue_date,
            valid_until=q.valid_until,
            total_minor=q.total_minor,
            decided_on=q.decided_at.date()
            if q.decided_at
            else (q.valid_until if display_status(q.status, q.valid_until) == QuoteStatus.expired else None),
            decision_comment=q.decision_comment,
        )
        for q in quotes
    ]
    return QuotePage(rows, total, page, page_size)


# -- the PDF ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuoteDocument:
    """What the quote PDF needs: the quote, the letterhead, the client block and the client's locale."""

    view: QuoteView
    organization: Letterhead
    client: Party
    locale: str

    @property
    def filename(self) -> str:
        """'estimate-EST-2026-0001.pdf'."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", self.view.number).strip("-.") or str(self.view.id)
        return f"{self.view.kind}-{safe}.pdf"


async def quote_document(*, actor: Actor, quote_id: int) -> QuoteDocument:
    """An estimate or proposal for its PDF; the same access as its page (drafts are staff-only)."""
    view = await get_quote(actor=actor, quote_id=quote_id)
    quote = await Quote.get(id=quote_id).prefetch_related("client")
    client = quote.client
    party = Party(
        name=client.name, company=client.company, email=client.email, address=client.billing_address
    )
    return QuoteDocument(view, await letterhead(), party, client.locale or "en")
