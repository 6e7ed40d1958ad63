"""The page frame: header with the agency's name, navigation for the role, the user menu."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from portal.i18n import N_, _
from portal.services.actors import Actor
from portal.services.organization import Branding

CLIENT_NAV = [(N_("My Billing"), "/billing")]
STAFF_NAV = [
    (N_("Overview"), "/admin"),
    (N_("Clients"), "/admin/clients"),
    (N_("Invoices"), "/admin/invoices"),
    (N_("Quotes"), "/admin/quotes"),
    (N_("Billing requests"), "/admin/requests"),
    (N_("Plans"), "/admin/plans"),
]
ADMIN_NAV = [(N_("Audit log"), "/admin/audit"), (N_("Settings"), "/settings/organization")]


def _nav(actor: Actor) -> list[tuple[str, str]]:
    if actor.client_id is not None:
        return CLIENT_NAV
    return STAFF_NAV + ADMIN_NAV if actor.is_admin else STAFF_NAV


def apply_theme(branding: Branding | None) -> None:
    """Colours and the shared stylesheet."""
    ui.colors(primary=branding.theme_color if branding else "#2563eb")
    ui.add_head_html('<link rel="stylesheet" href="/static/portal.css">')


@contextmanager
def frame(actor: Actor, branding: Branding, *, title: str, on_sign_out) -> Iterator[ui.column]:
    """Lay out a signed-in page and yield its content column."""
    apply_theme(branding)
    if actor.is_impersonating:
        with (
            ui.row()
            .classes("w-full items-center justify-center bg-amber-300 p-2 gap-2")
            .mark("impersonation-banner")
        ):
            ui.label(f"Viewing as {actor.name}")
    with ui.header().classes("items-center justify-between px-4 py-2 bg-white text-gray-900 shadow-sm"):
        with ui.row().classes("items-center gap-3 no-wrap"):
            ui.image(branding.logo_path or "/static/logo.svg").classes("w-8 h-8").props("alt=Logo")
            ui.label(branding.name).classes("text-lg font-semibold").mark("org-name")
            with ui.row().classes("gap-1 max-sm:hidden"):
                for label, target in _nav(actor):
                    ui.link(_(label), target).classes("px-2 py-1 rounded text-gray-700 no-underline")
        with ui.row().classes("items-center gap-2 no-wrap"):
            if branding.gateway_mode != "live":
                ui.badge(
                    "Sandbox" if branding.gateway_mode == "sandbox" else "Test mode", color="orange"
                ).props("outline").mark("gateway-mode")
            with ui.button(icon="account_circle").props("flat round aria-label='Account menu'"):
                with ui.menu():
                    ui.menu_item(f"{actor.name} ({actor.email})").props("disable")
                    ui.menu_item("Sign out", on_click=on_sign_out).mark("sign-out")
    with ui.column().classes("w-full max-w-5xl mx-auto p-4 gap-4") as content:
        ui.label(title).classes("text-2xl font-semibold").mark("page-title")
        yield content
