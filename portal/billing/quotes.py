"""Estimates and proposals: the client approves or declines; the decision is recorded with time and who."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from portal import i18n
from portal.core import audit
from portal.core.actors import Actor, check_client_access
from portal.core.clock import now_utc, today
from portal.db.models import Quote, QuoteLine
from portal.domain.errors import Conflict, NotFound
from portal.domain.status import QuoteStatus, check_transition
from portal.events import Event, publish
from portal.i18n import N_, _

COMMENT_LIMIT = 2000
NOT_FOUND = N_("That estimate or proposal does not exist.")
LABELS = {"estimate": N_("Estimate {number}"), "proposal": N_("Proposal {number}")}
EXPIRED_ESTIMATE = N_("This estimate expired on {date}. Please ask for a new one.")
EXPIRED = {
    "estimate": EXPIRED_ESTIMATE,
    "proposal": N_("This proposal expired on {date}. Please ask for a new one."),
}


@dataclass(frozen=True)
class QuoteLineView:
    """One line of an estimate or proposal."""

    date: date | None
    description: str
    quantity: str
    unit_price_minor: int
    tax_name: str
    tax_rate: str
    net_minor: int
    tax_minor: int
    gross_minor: int


@dataclass(frozen=True)
class QuoteView:
    """An estimate or proposal as the client sees it."""

    id: int
    kind: str  # estimate | proposal
    number: str
    title: str
    status: str
    currency: str
    issue_date: date
    valid_until: date | None
    terms: str
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    decided_at: datetime | None
    decision_comment: str
    lines: list[QuoteLineView]

    @property
    def label(self) -> str:
        """'Estimate E-3' / 'Proposal P-4' (the number, or the id while it has none), in the locale."""
        if self.kind in LABELS:
            return _(LABELS[self.kind], number=self.number)
        return f"{self.kind.capitalize()} {self.number}"

    @property
    def awaiting_decision(self) -> bool:
        """Sent and still valid: the client can approve or decline it."""
        return self.status == QuoteStatus.sent and (self.valid_until is None or self.valid_until >= today())

    @property
    def display_status(self) -> str:
        """'expired' for a sent one past its date, else the status."""
        return display_status(self.status, self.valid_until)

    @property
    def decision_date(self) -> date | None:
        """When it was decided: the day of the decision, or the last valid day of an expired one."""
        if self.decided_at is not None:
            return self.decided_at.date()
        return self.valid_until if self.display_status == QuoteStatus.expired else None


def display_status(status: str, valid_until: date | None) -> str:
    """A quote's status as people see it: a sent one past its 'valid until' date has expired."""
    if status == QuoteStatus.sent and valid_until is not None and valid_until < today():
        return QuoteStatus.expired
    return status


DECIDED = (QuoteStatus.approved, QuoteStatus.declined, QuoteStatus.expired, QuoteStatus.converted)


@dataclass(frozen=True)
class DecidedQuote:
    """An estimate or proposal that is no longer open: what the client (or time) decided, and when."""

    id: int
    kind: str
    number: str
    title: str
    status: str  # approved | declined | expired | converted
    decided_on: date | None
    comment: str
    total_minor: int
    currency: str

    @property
    def label(self) -> str:
        """'Estimate EST-2026-0001' in the locale."""
        return _(LABELS[self.kind], number=self.number) if self.kind in LABELS else self.number


async def decided_quotes(*, actor: Actor, client_id: int, limit: int) -> tuple[list[DecidedQuote], int]:
    """A client's decided estimates and proposals, newest first (the latest `limit`), and how many in all."""
    check_client_access(actor, client_id)
    query = Quote.filter(
        Q(client_id=client_id)
        & (Q(status__in=list(DECIDED)) | Q(status=QuoteStatus.sent, valid_until__lt=today()))
    )
    rows = await query.order_by("-issue_date", "-id").limit(limit)
    items = []
    for q in rows:
        status = display_status(q.status, q.valid_until)
        decided = q.decided_at.date() if q.decided_at else (q.valid_until if status == "expired" else None)
        items.append(
            DecidedQuote(
                id=q.id,
                kind=q.kind,
                number=q.number or f"#{q.id}",
                title=q.title,
                status=status,
                decided_on=decided,
                comment=q.decision_comment,
                total_minor=q.total_minor,
                currency=q.currency,
            )
        )
    return items, await query.count()


def quote_number(number: str | None, status: str, quote_id: int) -> str:
    """What lists call a quote: its number (EST-2026-0001) once sent; 'Draft 4' only while it is a draft
    ('#4' for a sent one stored without a number, which `send_quote` never does)."""
    if number:
        return number
    return _("Draft {id}", id=quote_id) if status == QuoteStatus.draft else f"#{quote_id}"


def _view(quote: Quote, lines: list[QuoteLine]) -> QuoteView:
    return QuoteView(
        id=quote.id,
        kind=quote.kind,
        number=quote.number or f"#{quote.id}",
        title=quote.title,
        status=quote.status,
        currency=quote.currency,
        issue_date=quote.issue_date,
        valid_until=quote.valid_until,
        terms=quote.terms,
        subtotal_minor=quote.subtotal_minor,
        tax_minor=quote.tax_minor,
        total_minor=quote.total_minor,
        decided_at=quote.decided_at,
        decision_comment=quote.decision_comment,
        lines=[
            QuoteLineView(
                line.date,
                line.description,
                f"{line.quantity.normalize():f}",
                line.unit_price_minor,
                line.tax_name,
                f"{line.tax_rate.normalize():f}",
                line.net_minor,
                line.tax_minor,
                line.gross_minor,
            )
            for line in lines
        ],
    )


async def awaiting_decision(*, actor: Actor, client_id: int) -> list[QuoteView]:
    """Estimates and proposals sent to the client that are still open, oldest first."""
    check_client_access(actor, client_id)
    rows = await Quote.filter(client_id=client_id, status=QuoteStatus.sent).order_by("issue_date", "id")
    views = [_view(q, []) for q in rows]
    return [v for v in views if v.awaiting_decision]


async def get_quote(*, actor: Actor, quote_id: int) -> QuoteView:
    """One estimate or proposal with its lines; drafts and other clients' quotes are 'not found'."""
    quote = await Quote.get_or_none(id=quote_id)
    if quote is None or (quote.status == QuoteStatus.draft and not actor.is_staff):
        raise NotFound(_(NOT_FOUND))
    check_client_access(actor, quote.client_id, message=NOT_FOUND)
    return _view(quote, await QuoteLine.filter(quote_id=quote.id).order_by("position"))


async def decide(*, actor: Actor, quote_id: int, approve: bool, comment: str = "") -> QuoteView:
    """Approve or decline (an optional comment); records when and who, once."""
    comment = (comment or "").strip()[:COMMENT_LIMIT]
    async with in_transaction():
        quote = await Quote.select_for_update().get_or_none(id=quote_id)
        if quote is None or quote.status == QuoteStatus.draft:
            raise NotFound(_(NOT_FOUND))
        check_client_access(actor, quote.client_id, message=NOT_FOUND)
        if quote.valid_until is not None and quote.valid_until < today() and quote.status == QuoteStatus.sent:
            day = i18n.format_date(quote.valid_until)
            expired = EXPIRED.get(quote.kind) or EXPIRED_ESTIMATE
            raise Conflict(_(expired, date=day))
        new = QuoteStatus.approved if approve else QuoteStatus.declined
        check_transition(QuoteStatus(quote.status), new, subject=quote.kind)
        quote.status, quote.decided_at, quote.decision_comment = new, now_utc(), comment
        quote.decided_by_id = actor.impersonator_id or actor.user_id
        await quote.save(update_fields=["status", "decided_at", "decision_comment", "decided_by_id"])
        await audit.record(
            actor=actor,
            action=f"{quote.kind}.{new.value}",
            subject=f"quote:{quote.id}",
            client_id=quote.client_id,
            details={"comment": comment} if comment else {},
        )
    await publish(Event("quote.decided", client_id=quote.client_id, data={"quote_id": quote.id}))
    return await get_quote(actor=actor, quote_id=quote_id)
