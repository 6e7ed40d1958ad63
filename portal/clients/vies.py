"""The EU's VIES service: is this VAT number registered? One POST to its REST API (the URL and timeout
from the settings); any failure (no network, a timeout, a member state's register down, an answer we do
not understand) is "could not be checked", never an error: the check informs, it never blocks a save."""

from __future__ import annotations

import logging
from enum import StrEnum

import httpx

from portal.config import get_settings

log = logging.getLogger(__name__)


class VatCheck(StrEnum):
    """What VIES said about a VAT number (stored in Client.vat_check; "" = never asked)."""

    valid = "valid"
    invalid = "invalid"
    unchecked = "unchecked"  # asked, but no answer could be had


async def check_vat_number(vat_number: str) -> VatCheck:
    """Ask VIES about a cleaned VAT number ("FR40303265045"); UK numbers (not in VIES) are unchecked."""
    prefix, number = vat_number[:2], vat_number[2:]
    if prefix == "GB" or not number:
        return VatCheck.unchecked
    settings = get_settings()
    try:
        async with httpx.AsyncClient(timeout=settings.vies_timeout_seconds) as client:
            response = await client.post(settings.vies_url, json={"countryCode": prefix, "vatNumber": number})
        response.raise_for_status()
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("VIES could not check %s: %s", prefix, exc.__class__.__name__)
        return VatCheck.unchecked
    if not isinstance(answer, dict) or not isinstance(answer.get("valid"), bool):
        return VatCheck.unchecked
    if answer["valid"]:
        return VatCheck.valid
    if answer.get("userError") not in (None, "", "INVALID"):  # MS_UNAVAILABLE, TIMEOUT, ...: not an answer
        log.warning("VIES could not check %s: %s", prefix, answer.get("userError"))
        return VatCheck.unchecked
    return VatCheck.invalid
