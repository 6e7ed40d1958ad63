"""The logo card of the organization and invoice template settings: the current logo, upload, remove."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import events, ui

from portal.components.feedback import Feedback
from portal.components.settings_form import settings_card
from portal.core.actors import Actor
from portal.core.images import LOGO_MAX_BYTES
from portal.domain.errors import DomainError, InvalidInput
from portal.i18n import _
from portal.settings.template import remove_logo, upload_logo

DEFAULT_LOGO = "/static/logo.svg"


class LogoCard:
    """The logo: what is used now, upload a new one (checked and re-encoded by the service), remove it."""

    def __init__(self, actor: Actor, logo_url: str, on_change: Callable[[], Any] | None = None) -> None:
        self.actor = actor
        self.on_change = on_change
        with settings_card(_("Logo")):
            ui.label(
                _("PNG or JPEG, at most 1 MB. It is resized to fit in 512 × 512 pixels and stored as a PNG.")
            ).classes("text-sm text-gray-600")
            with ui.row().classes("items-center gap-4"):
                self.image = ui.image(logo_url or DEFAULT_LOGO).classes("w-24 h-24").props("fit=contain")
                self.image.props["alt"] = _("Logo")
                self.image.mark("logo-image")
                self.none = ui.label(_("No logo yet: the portal's own logo is used.")).mark("logo-none")
            self.upload = (
                ui.upload(
                    label=_("Upload a logo"),
                    auto_upload=True,
                    max_file_size=LOGO_MAX_BYTES,
                    on_upload=self.uploaded,
                    on_rejected=self.rejected,
                )
                .props('accept=".png,.jpg,.jpeg,image/png,image/jpeg" flat bordered')
                .classes("w-full max-w-md")
                .mark("logo-upload")
            )
            self.remove_button = (
                ui.button(_("Remove logo"), icon="delete", on_click=self.remove)
                .props("flat color=negative no-caps")
                .mark("logo-remove")
            )
            self.feedback = Feedback("logo")
        self.show(logo_url)

    def show(self, url: str) -> None:
        self.image.set_source(url or DEFAULT_LOGO)
        self.none.set_visibility(not url)
        self.remove_button.set_visibility(bool(url))

    async def uploaded(self, event: events.UploadEventArguments) -> None:
        file = event.file
        if file.size() > LOGO_MAX_BYTES:  # refused before reading it into memory
            self.feedback.clear()
            self.feedback.fail(InvalidInput(_("The logo is larger than 1 MB. Upload a smaller PNG or JPEG.")))
            self.upload.reset()
            return
        data = await file.read()
        url = await self.feedback.run(None, lambda: upload_logo(actor=self.actor, data=data))
        self.upload.reset()
        if url is not None:
            self.show(url)
            self.feedback.ok(_("Logo saved."))
            await self._changed()

    def rejected(self) -> None:
        self.feedback.clear()
        self.feedback.fail(
            InvalidInput(_("Choose a PNG or JPEG file of at most 1 MB (other files are not accepted)."))
        )

    async def remove(self) -> None:
        self.feedback.clear()
        try:
            await remove_logo(actor=self.actor)
        except DomainError as exc:
            self.feedback.fail(exc)
            return
        self.show("")
        self.feedback.ok(_("Logo removed: the portal's own logo is used."))
        await self._changed()

    async def _changed(self) -> None:
        if self.on_change is not None:
            result = self.on_change()
            if result is not None:
                await result
