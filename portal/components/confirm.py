"""A yes/no question in a dialog of its own."""

from __future__ import annotations

from nicegui import ui


async def confirm(question: str, *, yes: str, no: str, marker: str) -> bool:
    """Ask in a dialog made for this question alone (removed afterwards); True if the answer was `yes`.

    The dialog belongs to the page itself, not to the button that asked: a redraw of the button's section
    while the question is open does not take the dialog away."""
    with (
        ui.context.client,
        ui.dialog().mark(f"{marker}-dialog") as dialog,
        ui.card().classes("w-full max-w-md gap-3"),
    ):
        ui.label(question).mark(f"{marker}-question")
        with ui.row().classes("w-full justify-end"):
            ui.button(no, on_click=lambda: dialog.submit(False)).props("flat no-caps").mark(
                f"{marker}-cancel"
            )
            ui.button(yes, on_click=lambda: dialog.submit(True)).props("no-caps color=red-7").mark(
                f"{marker}-confirm"
            )
    answer = await dialog
    if not dialog.is_deleted:
        dialog.delete()
    return answer is True
