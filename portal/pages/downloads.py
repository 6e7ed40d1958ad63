"""The PDF and e-invoice downloads of the invoice, receipt, quote and credit note pages: plain HTTP routes (a
browser download cannot go over the websocket) behind the same session. An issued document is sent as it
was stored when issued (`billing.issued`); a draft, estimate or proposal is drawn as it stands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import quote as url_quote

from fastapi import Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from nicegui import app

from portal.billing import issued, pdf, quote_editor
from portal.components import browser_session
from portal.core.actors import Actor
from portal.domain.errors import NotFound

PDF_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
# plain text (a download link leads here, not a page): the stored copy failed its SHA-256 check
ALTERED_TEXT = (
    "This document cannot be downloaded: its stored copy does not match the one issued. "
    "The error has been logged; please contact us."
)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        f"{browser_session.LOGIN_PATH}?next={url_quote(target, safe='')}", status_code=303
    )


def _download(content: bytes, filename: str, media_type: str = "application/pdf") -> Response:
    headers = {**PDF_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content=content, media_type=media_type, headers=headers)


async def _issued_download(
    request: Request, fetch: Callable[[Actor], Awaitable[issued.Download]]
) -> Response:
    """An issued document for the signed-in visitor: its stored bytes, or the answer to send instead (sign
    in; not found; an error page, never the bytes, when the stored copy no longer matches its hash)."""
    actor = await browser_session.current_actor()
    if actor is None:
        return _login_redirect(request)
    try:
        download = await fetch(actor)
    except NotFound:
        return PlainTextResponse("Not found", status_code=404)
    except issued.AlteredDocument:
        return PlainTextResponse(ALTERED_TEXT, status_code=500, headers=PDF_HEADERS)
    return _download(download.content, download.filename, download.media_type)


async def invoice_pdf_route(request: Request, invoice_id: int) -> Response:
    """GET /billing/invoices/{invoice_id}/pdf: the invoice as issued (a draft as it stands, for staff)."""
    return await _issued_download(
        request, lambda actor: issued.invoice_pdf(actor=actor, invoice_id=invoice_id)
    )


async def einvoice_route(request: Request, invoice_id: int, extension: str) -> Response:
    """GET /billing/invoices/{invoice_id}/factur-x.pdf and .xml: an issued invoice as a Factur-X e-invoice
    (EN 16931), the PDF with its XML inside or the XML alone, as stored; a draft has none."""
    return await _issued_download(
        request, lambda actor: issued.einvoice(actor=actor, invoice_id=invoice_id, extension=extension)
    )


async def quote_pdf_route(request: Request, quote_id: int) -> Response:
    """GET /billing/quotes/{quote_id}/pdf (the quote's page rules: a client its own, staff every one)."""
    actor = await browser_session.current_actor()
    if actor is None:
        return _login_redirect(request)
    try:
        doc = await quote_editor.quote_document(actor=actor, quote_id=quote_id)
    except NotFound:
        return PlainTextResponse("Not found", status_code=404)
    content = await asyncio.to_thread(
        pdf.quote_pdf, doc.view, organization=doc.organization, client=doc.client, locale=doc.locale
    )
    return _download(content, doc.filename)


async def receipt_pdf_route(request: Request, payment_id: int) -> Response:
    """GET /billing/receipts/{payment_id}/pdf: the receipt as issued when the payment succeeded."""
    return await _issued_download(
        request, lambda actor: issued.receipt_pdf(actor=actor, payment_id=payment_id)
    )


async def credit_note_pdf_route(request: Request, credit_note_id: int) -> Response:
    """GET /billing/credit-notes/{credit_note_id}/pdf: the credit note as issued (a client its own, staff
    every one)."""
    return await _issued_download(
        request, lambda actor: issued.credit_note_pdf_download(actor=actor, credit_note_id=credit_note_id)
    )


async def credit_note_einvoice_route(request: Request, credit_note_id: int, extension: str) -> Response:
    """GET /billing/credit-notes/{credit_note_id}/factur-x.pdf and .xml: the credit note as a Factur-X
    e-invoice (type 381), as stored."""
    return await _issued_download(
        request,
        lambda actor: issued.credit_note_einvoice(
            actor=actor, credit_note_id=credit_note_id, extension=extension
        ),
    )


def register() -> None:
    """Add the download routes."""
    routes = {
        "/billing/invoices/{invoice_id}/pdf": invoice_pdf_route,
        "/billing/receipts/{payment_id}/pdf": receipt_pdf_route,
        "/billing/quotes/{quote_id}/pdf": quote_pdf_route,
        "/billing/credit-notes/{credit_note_id}/pdf": credit_note_pdf_route,
    }
    for extension in ("pdf", "xml"):
        routes[f"/billing/invoices/{{invoice_id}}/factur-x.{extension}"] = partial(
            einvoice_route, extension=extension
        )
        routes[f"/billing/credit-notes/{{credit_note_id}}/factur-x.{extension}"] = partial(
            credit_note_einvoice_route, extension=extension
        )
    for path, route in routes.items():
        app.add_api_route(path, route, methods=["GET"], include_in_schema=False)
