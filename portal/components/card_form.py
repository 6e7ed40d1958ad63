"""The sandbox's card fields (number, expiry, CVC) as its checkout and setup pages show them."""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from portal.i18n import N_, _

TEST_CARDS = N_(
    "Sandbox: use 4242 4242 4242 4242 (succeeds), 4000 0000 0000 0002 (declined) or "
    "4000 0000 0000 9995 (insufficient funds), any future expiry and any CVC."
)


@dataclass
class CardFields:
    """The three inputs of a typed card."""

    number: ui.input
    expiry: ui.input
    cvc: ui.input

    def values(self) -> tuple[str, int, int, str]:
        """(number, month, year, cvc) as typed; a nonsense expiry is (0, 0), which the gateway reports."""
        month, year = parse_expiry(self.expiry.value or "")
        return self.number.value or "", month, year, self.cvc.value or ""


def card_fields(hint: str = TEST_CARDS) -> CardFields:
    """Card number, MM / YY and CVC inputs with the sandbox's test cards under them (`hint` is translated)."""
    number = (
        ui.input(_("Card number"))
        .props("outlined name=cardnumber inputmode=numeric autocomplete=cc-number")
        .classes("w-full")
        .mark("card-number")
    )
    with ui.row().classes("w-full no-wrap"):
        expiry = ui.input(_("MM / YY")).props("outlined name=exp autocomplete=cc-exp").classes("grow")
        cvc = ui.input(_("CVC")).props("outlined name=cvc inputmode=numeric autocomplete=cc-csc")
        cvc.classes("grow")
    ui.label(_(hint)).classes("text-sm text-gray-600")
    return CardFields(number, expiry.mark("card-expiry"), cvc.mark("card-cvc"))


def parse_expiry(text: str) -> tuple[int, int]:
    """'12/28' or '12 / 2028' -> (12, 2028); nonsense -> (0, 0)."""
    parts = [p for p in text.replace(" ", "").split("/") if p]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return 0, 0
    month, year = int(parts[0]), int(parts[1])
    return month, year + 2000 if year < 100 else year
