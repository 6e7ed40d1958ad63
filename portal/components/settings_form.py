"""The card, text field and text area every settings page lays its forms out with."""

from __future__ import annotations

from nicegui import ui

from portal.components.attributes import set_props


def settings_input(label: str, value: str, marker: str, **props: str) -> ui.input:
    field = set_props(ui.input(label, value=value).props("outlined"), props)
    return field.classes("w-full").mark(marker)


def settings_textarea(label: str, value: str, marker: str, *, max_length: int) -> ui.textarea:
    return (
        set_props(
            ui.textarea(label, value=value).props("outlined autogrow counter"), {"maxlength": max_length}
        )
        .classes("w-full")
        .mark(marker)
    )


def settings_card(title: str) -> ui.card:
    card = ui.card().classes("w-full max-w-3xl gap-3")
    with card:
        ui.label(title).classes("text-lg font-semibold")
    return card
