"""EU reverse charge (Article 196 of Council Directive 2006/112/EC): an EU business that supplies a
business registered for VAT in ANOTHER member state charges no VAT; the client accounts for it. Pure: the
decision from both parties' identities, and the lines as a reverse-charged document stores them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Protocol, TypeVar

from portal.domain.errors import InvalidInput
from portal.domain.identity import EU_COUNTRIES, clean_vat_number, vat_country

VIES_INVALID = "invalid"  # what `portal.clients.vies.VatCheck.invalid` stores on the client


def applies(
    *,
    seller_country: str,
    seller_vat_number: str,
    buyer_is_business: bool,
    buyer_country: str,
    buyer_vat_number: str,
    buyer_vat_check: str = "",
) -> bool:
    """True when the invoice is reverse charged: the seller is in an EU member state with a VAT number; the
    buyer is a business in another member state (its country, "" meaning its VAT number's) with a VAT
    number valid by format and check digits; and VIES did not answer "invalid" for it ("" never asked and
    "unchecked" are fine). Greece's numbers start EL; Northern Ireland's XI numbers are the UK's, not a
    member state's (for services, the portal's business, Northern Ireland is outside the EU VAT area)."""
    if seller_country not in EU_COUNTRIES or not seller_vat_number.strip():
        return False
    if not buyer_is_business or buyer_vat_check == VIES_INVALID:
        return False
    try:
        number = clean_vat_number(buyer_vat_number)
    except InvalidInput:
        return False
    if not number:
        return False
    member_state = vat_country(number)
    if member_state not in EU_COUNTRIES or member_state == seller_country:
        return False
    return not buyer_country or buyer_country == member_state


class TaxedLine(Protocol):
    """A line with a tax rate (an invoice or quote line draft)."""

    tax_rate: Decimal
    tax_name: str


Line = TypeVar("Line", bound=TaxedLine)


def charged_lines(lines: Sequence[Line], *, reverse_charge: bool) -> list[Line]:
    """The lines as a document stores them: on a reverse-charged one every line's tax rate is 0 and it
    names no tax, whatever was chosen; otherwise as they are. (Frozen dataclasses: copies.)"""
    if not reverse_charge:
        return list(lines)
    return [replace(line, tax_rate=Decimal(0), tax_name="") for line in lines]  # type: ignore[type-var]
