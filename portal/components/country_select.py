"""A country chooser: every ISO 3166-1 country by its name in the reader's language, filtered as one types."""

from __future__ import annotations

from nicegui import ui

from portal.domain.identity import country_names
from portal.i18n import _


def country_select(value: str, marker: str) -> ui.select:
    """A select of the countries (value: the ISO code, "" for none), searchable by name."""
    options = {"": _("Not given"), **country_names()}
    return (
        ui.select(options, value=value if value in options else "", label=_("Country"), with_input=True)
        .props("outlined")
        .classes("w-full")
        .mark(marker)
    )
