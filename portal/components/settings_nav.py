"""The tabs across the top of every settings page."""

from __future__ import annotations

from nicegui import ui

from portal.components.attributes import set_props
from portal.i18n import N_, _

SETTINGS_PAGES = (
    ("organization", N_("Organization"), "/settings/organization"),
    ("billing", N_("Billing"), "/settings/billing"),
    ("template", N_("Invoice template"), "/settings/template"),
    ("reminders", N_("Reminders"), "/settings/reminders"),
    ("email", N_("Email"), "/settings/email"),
    ("payments", N_("Client Billing"), "/settings/payments"),  # the help article's name for the tab
)


def settings_nav(current: str) -> None:
    """Links to each settings page; the current one is highlighted and marked `aria-current`."""
    nav = ui.element("nav").classes("w-full flex flex-wrap gap-1 border-b border-gray-200")
    with set_props(nav, {"aria-label": _("Settings")}).mark("settings-nav"):
        for key, label, path in SETTINGS_PAGES:
            link = (
                ui.link(_(label), path)
                .classes("px-3 py-2 no-underline rounded-t")
                .mark(f"settings-nav-{key}")
            )
            if key == current:
                link.classes("font-semibold text-primary border-b-2 border-primary").props(
                    'aria-current="page"'
                )
            else:
                link.classes("text-gray-700 hover:bg-gray-100")
