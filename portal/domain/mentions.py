"""What an invoice must say besides its amounts: who issues it (legal name, form, register and VAT
numbers), who it is for (the client's numbers), the mentions French law requires of an invoice issued
from France and the EU's reverse-charge mention, each written in the invoice's language. Pure: values in,
sentences out."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal

from portal.i18n import N_, translate

NATURES = {
    "services": N_("Nature of the operation: provision of services."),
    "goods": N_("Nature of the operation: sale of goods."),
    "mixed": N_("Nature of the operation: sale of goods and provision of services."),
}
LEGAL_PENALTY = N_(
    "Late payment penalties: the European Central Bank's refinancing rate plus 10 percentage points, due "
    "from the day after the due date."
)
PENALTY = N_("Late payment penalties: {rate}% a year, due from the day after the due date.")
INDEMNITY = N_(
    "Fixed indemnity for recovery costs in case of late payment: 40 € (article L441-10 of the French "
    "Commercial Code)."
)
NO_DISCOUNT = N_("No discount for early payment.")
REVERSE_CHARGE = N_(
    "Reverse charge: VAT to be accounted for by the recipient (Article 196 of Council Directive 2006/112/EC)"
)
REVERSE_CHARGE_CODE = "TXD"  # UNTDID 4451: a note that is a value added tax declaration
DISCOUNT = N_("Discount for early payment: {rate}%.")
# the VAT exemption scheme for small businesses (franchise en base): what article 242 nonies A of annex II to
# the French General Tax Code has such an invoice say, in French "TVA non applicable, article 293 B du CGI."
FRANCHISE = N_("VAT not applicable, article 293 B of the French General Tax Code.")


def _rate(value: Decimal, locale: str) -> str:
    return format_decimal(value.normalize(), locale=locale)


def register_label(number: str, country: str, locale: str) -> str:
    """'SIREN 732829320' or 'SIRET 73282932000074' in France, 'Register no. HRB 86891' elsewhere."""
    if country == "FR" and number.isdigit() and len(number) in (9, 14):
        return f"{'SIREN' if len(number) == 9 else 'SIRET'} {number}"
    return translate("Register no. {number}", locale, number=number)


def party_numbers(company_id: str, vat_number: str, country: str, locale: str) -> list[str]:
    """A party's register and VAT numbers, each as a labelled line ([] when it has none)."""
    lines = [register_label(company_id, country, locale)] if company_id else []
    if vat_number:
        lines.append(translate("VAT no. {number}", locale, number=vat_number))
    return lines


def reverse_charge_note(locale: str) -> tuple[str, str]:
    """The mention a reverse-charged invoice carries (any EU seller), with its note's subject code."""
    return REVERSE_CHARGE_CODE, translate(REVERSE_CHARGE, locale)


def french_mention_notes(
    *,
    nature: str,
    late_penalty_rate: Decimal | None,
    early_payment_discount: Decimal | None,
    business_client: bool,
    locale: str,
    franchise: bool = False,
) -> list[tuple[str, str]]:
    """The same mentions with the UNTDID 4451 subject code an e-invoice's note gives each ("" for none):
    PMD penalties, PMT the recovery indemnity, AAB early payment (the French CIUS's codes), TXD the VAT
    exemption of a business under the franchise en base (`franchise`: an invoice of such a business that
    charges no VAT)."""
    notes = [(REVERSE_CHARGE_CODE, translate(FRANCHISE, locale))] if franchise else []
    notes.append(("", translate(NATURES.get(nature, NATURES["services"]), locale)))
    if late_penalty_rate is None:
        notes.append(("PMD", translate(LEGAL_PENALTY, locale)))
    else:
        notes.append(("PMD", translate(PENALTY, locale, rate=_rate(late_penalty_rate, locale))))
    if business_client:
        notes.append(("PMT", translate(INDEMNITY, locale)))
    if early_payment_discount:
        notes.append(("AAB", translate(DISCOUNT, locale, rate=_rate(early_payment_discount, locale))))
    else:
        notes.append(("AAB", translate(NO_DISCOUNT, locale)))
    return notes
