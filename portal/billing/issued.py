"""Issued documents never change (issue 16, item 6): an invoice's PDF, its Factur-X PDF and XML, a
receipt's PDF, and a credit note's PDF, Factur-X PDF and XML are produced once, stored with their SHA-256
(`IssuedDocument` and `portal.core.storage`), and every later download sends those exact bytes, checked
against the hash as they are read.

An invoice's PDF is stored when it is sent (`store_issued_invoice`, after `send_draft` commits); a credit
note's when it is issued (a void, a refund, a voided billing request: `store_issued_credit_note`); a
receipt's when its payment succeeds (`store_issued_receipt`, registered with `payments.receipts`); an
e-invoice with the invoice's PDF once the organization is identified as EN 16931 asks
(`facturx.has_einvoice`), else at its first download, built from the stored PDF's bytes. A document
issued before documents were stored (demo data, older invoices, a subscription renewal) is stored at its
first download. Two first downloads at once store one copy: the row is unique per kind and subject, and
the loser serves the winner's bytes.

What the files show is the document as issued: the invoice as sent, nothing paid yet (the invoice page,
the receipts and the statement show the payments, as the Factur-X XML always said: prepaid 0, due the
total); a receipt as the payment left things, before any refund. Drafts, estimates and proposals are not
issued documents: they are drawn afresh on every download.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

from tortoise.exceptions import IntegrityError

from portal.billing import credit_note_pdf, credit_notes, documents, facturx, pdf
from portal.billing.credit_notes import CreditNoteDetail
from portal.billing.documents import InvoiceDetail, ReceiptDetail
from portal.core.actors import Actor
from portal.core.storage import MissingDocument, document_store
from portal.db.models import Allocation, Invoice, InvoiceLine, IssuedDocument
from portal.domain.errors import NotFound
from portal.domain.presentation import InvoicePresentation
from portal.domain.status import InvoiceStatus, PaymentStatus, Role
from portal.i18n import _
from portal.payments import receipts
from portal.payments.presentation import invoice_presentation

log = logging.getLogger(__name__)

INVOICE, RECEIPT, FACTURX, FACTURX_XML = "invoice", "receipt", "factur-x", "factur-x-xml"
CREDIT_NOTE, CREDIT_NOTE_FACTURX, CREDIT_NOTE_XML = "credit-note", "credit-note-factur-x", "credit-note-xml"
EXTENSIONS = {
    INVOICE: "pdf",
    RECEIPT: "pdf",
    FACTURX: "pdf",
    FACTURX_XML: "xml",
    CREDIT_NOTE: "pdf",
    CREDIT_NOTE_FACTURX: "pdf",
    CREDIT_NOTE_XML: "xml",
}
# what the after-commit hooks load documents as: it reads them, changes nothing and is never audited
_PORTAL = Actor(user_id=0, role=Role.staff, email="", name="Portal")


class AlteredDocument(Exception):
    """A stored document's file no longer matches its SHA-256, or is gone: it is never served."""


@dataclass(frozen=True)
class Download:
    """A file to send: its bytes, its name, its media type."""

    content: bytes
    filename: str
    media_type: str = "application/pdf"


def storage_key(kind: str, subject_id: int, sha256: str) -> str:
    """'invoice/42/<sha256>.pdf': from ids and the hash only, never from text a user typed."""
    return f"{kind}/{int(subject_id)}/{sha256}.{EXTENSIONS[kind]}"


async def _read(row: IssuedDocument) -> bytes:
    """The stored bytes, after checking them against the hash stored with them."""
    try:
        data = await asyncio.to_thread(document_store().get, row.storage_key)
    except MissingDocument:
        log.error("issued %s %s: its stored file %s is missing", row.kind, row.subject_id, row.storage_key)
        raise AlteredDocument(row.storage_key) from None
    if len(data) != row.size or hashlib.sha256(data).hexdigest() != row.sha256:
        log.error(
            "issued %s %s: its stored file %s does not match its SHA-256 %s: not served",
            row.kind,
            row.subject_id,
            row.storage_key,
            row.sha256,
        )
        raise AlteredDocument(row.storage_key)
    return data


async def _stored(kind: str, subject_id: int, produce: Callable[[], Awaitable[bytes]]) -> bytes:
    """The document stored for (kind, subject), produced and stored first if there is none yet. The file
    is written before its row, so that a row always names a whole file; a file whose row lost the race
    stays unreferenced (its key may be the winner's too, when both produced the same bytes)."""
    row = await IssuedDocument.get_or_none(kind=kind, subject_id=subject_id)
    if row is not None:
        return await _read(row)
    data = await produce()
    sha256 = hashlib.sha256(data).hexdigest()
    key = storage_key(kind, subject_id, sha256)
    await asyncio.to_thread(document_store().put, key, data)
    try:
        await IssuedDocument.create(
            kind=kind, subject_id=subject_id, storage_key=key, sha256=sha256, size=len(data)
        )
    except IntegrityError:  # another request or process stored it first: its copy is the document
        return await _read(await IssuedDocument.get(kind=kind, subject_id=subject_id))
    return data


def is_issued(detail: InvoiceDetail) -> bool:
    """Numbered and no longer a draft (open, paid, or voided: a voided invoice keeps its issued PDF)."""
    return detail.status != InvoiceStatus.draft and bool(detail.number)


def as_issued(detail: InvoiceDetail) -> InvoiceDetail:
    """The invoice as it was issued: its lines and totals, nothing paid, credited or refunded yet."""
    presentation: InvoicePresentation = replace(
        detail.presentation,
        paid_minor=0,
        credit_minor=0,
        refunded_minor=0,
        amount_due_minor=detail.total_minor,
    )
    return replace(
        detail,
        status=InvoiceStatus.paid if detail.total_minor == 0 else InvoiceStatus.open,
        payments=[],
        credits=[],
        refunds=[],
        amount_due_minor=detail.total_minor,
        presentation=presentation,
        awaiting_transfer_since=None,
    )


async def _standing(invoice_id: int, payment_id: int) -> InvoicePresentation:
    """An invoice's totals as a payment left them: its allocations up to that payment's last one."""
    invoice = await Invoice.get(id=invoice_id)
    last = await Allocation.filter(invoice_id=invoice_id, payment_id=payment_id).order_by("-id").first()
    rows = Allocation.filter(invoice_id=invoice_id).order_by("created_at", "id")
    if last is not None:
        rows = rows.filter(id__lte=last.id)
    lines = await InvoiceLine.filter(invoice_id=invoice_id).order_by("position", "id")
    return invoice_presentation(invoice, lines, await rows)


async def as_received(detail: ReceiptDetail) -> ReceiptDetail:
    """The receipt as it was issued: the payment received, before any refund, and each invoice it paid
    as that payment left it (a payment made later is not on this receipt)."""
    settled = [
        replace(s, presentation=await _standing(s.invoice_id, detail.payment_id))
        if s.presentation is not None
        else s
        for s in detail.settled
    ]
    return replace(detail, status=PaymentStatus.succeeded, refunded_minor=0, refunds=[], settled=settled)


async def _invoice_pdf(detail: InvoiceDetail) -> bytes:
    async def produce() -> bytes:  # archival: with the output intent PDF/A asks for (Factur-X is built on it)
        return await asyncio.to_thread(partial(pdf.invoice_pdf, as_issued(detail), archival=True))

    return await _stored(INVOICE, detail.id, produce)


async def _einvoice_xml(detail: InvoiceDetail) -> bytes:
    async def produce() -> bytes:
        return await asyncio.to_thread(facturx.cii_xml, as_issued(detail))

    return await _stored(FACTURX_XML, detail.id, produce)


async def _einvoice_pdf(detail: InvoiceDetail) -> bytes:
    async def produce() -> bytes:  # the stored invoice PDF with the stored XML inside
        invoice_pdf, xml = await _invoice_pdf(detail), await _einvoice_xml(detail)
        return await asyncio.to_thread(facturx.facturx_pdf, invoice_pdf, xml)

    return await _stored(FACTURX, detail.id, produce)


async def _receipt_pdf(detail: ReceiptDetail) -> bytes:
    async def produce() -> bytes:
        return await asyncio.to_thread(pdf.receipt_pdf, await as_received(detail))

    return await _stored(RECEIPT, detail.payment_id, produce)


async def _credit_note_pdf(detail: CreditNoteDetail) -> bytes:
    async def produce() -> bytes:  # archival: its Factur-X is built on these bytes
        return await asyncio.to_thread(partial(credit_note_pdf.credit_note_pdf, detail, archival=True))

    return await _stored(CREDIT_NOTE, detail.summary.id, produce)


async def _credit_note_xml(detail: CreditNoteDetail) -> bytes:
    async def produce() -> bytes:
        return await asyncio.to_thread(credit_note_pdf.credit_note_xml, detail)

    return await _stored(CREDIT_NOTE_XML, detail.summary.id, produce)


async def _credit_note_einvoice(detail: CreditNoteDetail) -> bytes:
    async def produce() -> bytes:  # the stored credit note PDF with the stored XML inside
        document, xml = await _credit_note_pdf(detail), await _credit_note_xml(detail)
        return await asyncio.to_thread(facturx.facturx_pdf, document, xml)

    return await _stored(CREDIT_NOTE_FACTURX, detail.summary.id, produce)


# -- downloads --------------------------------------------------------------------------------------
async def invoice_pdf(*, actor: Actor, invoice_id: int) -> Download:
    """An invoice's PDF: an issued one's as stored (AlteredDocument if the stored file was changed);
    a draft's (staff only) drawn as it stands."""
    detail = await documents.get_invoice(actor=actor, invoice_id=invoice_id)
    if not is_issued(detail):
        return Download(await asyncio.to_thread(pdf.invoice_pdf, detail), detail.pdf_filename)
    return Download(await _invoice_pdf(detail), detail.pdf_filename)


async def einvoice(*, actor: Actor, invoice_id: int, extension: str) -> Download:
    """An issued invoice's Factur-X PDF (`pdf`) or its CII XML alone (`xml`), as stored; NotFound for a
    draft, or while the organization lacks what EN 16931 asks of the seller (`facturx.missing`)."""
    detail = await documents.get_invoice(actor=actor, invoice_id=invoice_id)
    if not facturx.has_einvoice(detail):
        raise NotFound(_(documents.INVOICE_NOT_FOUND))
    name = facturx.filename(detail, extension)
    if extension == "xml":
        return Download(await _einvoice_xml(detail), name, "application/xml")
    return Download(await _einvoice_pdf(detail), name)


async def receipt_pdf(*, actor: Actor, payment_id: int) -> Download:
    """A receipt's PDF as stored when its payment succeeded."""
    detail = await documents.get_receipt(actor=actor, payment_id=payment_id)
    return Download(await _receipt_pdf(detail), detail.pdf_filename)


async def credit_note_pdf_download(*, actor: Actor, credit_note_id: int) -> Download:
    """A credit note's PDF as stored when it was issued."""
    detail = await credit_notes.get_credit_note(actor=actor, credit_note_id=credit_note_id)
    return Download(await _credit_note_pdf(detail), detail.pdf_filename)


async def credit_note_einvoice(*, actor: Actor, credit_note_id: int, extension: str) -> Download:
    """A credit note's Factur-X PDF (`pdf`) or its CII XML (`xml`), as stored; NotFound when it has none
    (`credit_notes.has_einvoice`)."""
    detail = await credit_notes.get_credit_note(actor=actor, credit_note_id=credit_note_id)
    if not credit_notes.has_einvoice(detail):
        raise NotFound(_(credit_notes.NOT_FOUND))
    name = f"{detail.pdf_filename.removesuffix('.pdf')}-factur-x.{extension}"
    if extension == "xml":
        return Download(await _credit_note_xml(detail), name, "application/xml")
    return Download(await _credit_note_einvoice(detail), name)


# -- stored as they are issued (after commit) --------------------------------------------------------
async def store_issued_invoice(invoice_id: int) -> None:
    """After the commit that sent an invoice: store its PDF, and its e-invoice when it has one
    (`facturx.has_einvoice`). The invoice is sent whatever happens here: a failure is logged, and the first
    download stores the document instead."""
    try:
        detail = await documents.get_invoice(actor=_PORTAL, invoice_id=invoice_id)
        await _invoice_pdf(detail)
        if facturx.has_einvoice(detail):
            await _einvoice_pdf(detail)
    except Exception:
        log.exception(
            "invoice %s: its PDF was not stored as it was sent (its first download will)", invoice_id
        )


async def store_issued_receipt(payment_id: int) -> None:
    """After the commit that made a payment succeed: store its receipt's PDF (a failure is logged; the
    first download stores it instead)."""
    try:
        await _receipt_pdf(await documents.get_receipt(actor=_PORTAL, payment_id=payment_id))
    except Exception:
        log.exception(
            "payment %s: its receipt was not stored as it was issued (its first download will)", payment_id
        )


async def store_issued_credit_note(credit_note_id: int) -> None:
    """After the commit that issued a credit note: store its PDF, and its e-invoice when it has one
    (a failure is logged; the first download stores them instead)."""
    try:
        detail = await credit_notes.get_credit_note(actor=_PORTAL, credit_note_id=credit_note_id)
        await _credit_note_pdf(detail)
        if credit_notes.has_einvoice(detail):
            await _credit_note_einvoice(detail)
    except Exception:
        log.exception("credit note %s: its PDF was not stored as it was issued", credit_note_id)


receipts.on_receipt_issued(store_issued_receipt)
