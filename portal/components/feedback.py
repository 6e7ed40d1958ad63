"""The message line of a settings form: each error next to its field or in red under the form, success in
green (and in a notification); `run` wraps one service call with the button spinning. `guarded` runs one
service call and shows its error in a notification.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nicegui import ui

from portal.domain.errors import DomainError, InvalidInput
from portal.i18n import N_, _

T = TypeVar("T")
FIX_FIELDS = N_("Please correct the fields marked in red.")


class Feedback:
    """The message line of a form: errors in red next to their fields or here, success in green."""

    def __init__(self, marker: str, fields: dict[str, Any] | None = None) -> None:
        self.fields: dict[str, Any] = fields or {}
        self.error = ui.label().classes("text-red-700").props("role=alert").mark(f"{marker}-error")
        self.message = ui.label().classes("text-green-700").props("role=status").mark(f"{marker}-message")
        self.error.set_visibility(False)
        self.message.set_visibility(False)

    def clear(self) -> None:
        for element in self.fields.values():
            element.error = None
        self.error.set_visibility(False)
        self.message.set_visibility(False)

    def fail(self, exc: DomainError) -> None:
        """Each field error next to its field; anything else (or a summary) in the message line."""
        problems = getattr(exc, "errors", None) or {getattr(exc, "field", None): exc.message}
        general = [message for field, message in problems.items() if field not in self.fields]
        for field, message in problems.items():
            if field in self.fields:
                self.fields[field].error = message
        if isinstance(exc, InvalidInput) and not general:
            general = [_(FIX_FIELDS)]
        self.error.set_text(" ".join(general))
        self.error.set_visibility(True)

    def ok(self, text: str) -> None:
        self.message.set_text(text)
        self.message.set_visibility(True)
        ui.notify(text, type="positive")

    async def run(self, button: ui.button | None, action: Callable[[], Awaitable[T]]) -> T | None:
        """Run one service call with the button spinning; None (and the errors shown) when it failed."""
        self.clear()
        if button is not None:
            button.props("loading")
        try:
            return await action()
        except DomainError as exc:
            self.fail(exc)
            return None
        finally:
            if button is not None:
                button.props(remove="loading")


async def guarded(action: Callable[[], Awaitable[object]], button: ui.button | None = None) -> object | None:
    """Run a service call; show a domain error in a notification and return None. The notification comes
    from the page, so it shows even when the button's section was redrawn meanwhile."""
    page = ui.context.client
    if button is not None:
        button.disable()
    try:
        return await action()
    except DomainError as exc:
        with page:
            ui.notify(exc.message, type="negative", multi_line=True)
        return None
    finally:
        if button is not None and not button.is_deleted:
            button.enable()
