"""The page frame: header with the agency's name, navigation for the role, the user menu, the impersonation
banner and one-time notices; `signed_in_frame`, the frame of every signed-in page, with a working sign-out.

The console has eight destinations: they live in a left drawer that stays open on wide screens (1024 px and
up) and slides over the page from the menu button on narrow ones. Clients have one destination, shown in
the header.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement

from portal.accounts import impersonation, sessions
from portal.components.attributes import set_props
from portal.components.browser_session import sign_out, stop_impersonation, take_notice
from portal.config import get_settings
from portal.core.actors import Actor
from portal.i18n import LABELS, N_, _
from portal.payments.branding import Branding


async def _switch_language(actor: Actor, code: str) -> None:
    """Store the language on the person's account and show the page again in it."""
    await sessions.set_user_locale(actor=actor, locale=code)
    ui.navigate.reload()


CLIENT_NAV = [(N_("My Billing"), "/billing", "receipt")]
STAFF_NAV = [
    (N_("Overview"), "/admin", "dashboard"),
    (N_("Clients"), "/admin/clients", "people"),
    (N_("Invoices"), "/admin/invoices", "receipt_long"),
    (N_("Quotes"), "/admin/quotes", "request_quote"),
    (N_("Billing requests"), "/admin/requests", "send"),
    (N_("Plans"), "/admin/plans", "autorenew"),
    (N_("Exports"), "/admin/exports", "download"),
]
ADMIN_NAV = [
    (N_("Audit log"), "/admin/audit", "history"),
    (N_("Settings"), "/settings/organization", "settings"),
]
NOTICES = {
    "impersonation_ended": N_(
        "Your view as {client} has ended: a view as a client ends by itself after {minutes} minutes."
    ),
    "impersonation_stopped": N_("You are no longer viewing the portal as {client}."),
}
CHECK_SECONDS = 15.0  # how often an open page checks that the view as a client is still running


def _nav(actor: Actor) -> list[tuple[str, str, str]]:
    if actor.client_id is not None:
        return CLIENT_NAV
    return STAFF_NAV + ADMIN_NAV if actor.is_admin else STAFF_NAV


def _slug(target: str) -> str:
    """The marker name of a navigation target: nav-overview, nav-clients, ..., nav-settings."""
    if target == "/admin":
        return "overview"
    if target.startswith("/settings"):
        return "settings"
    return target.strip("/").split("/")[-1]


def _current_path() -> str:
    try:
        return ui.context.client.request.url.path
    except Exception:  # no request behind this page (should not happen on a real page)
        return ""


def _is_current(target: str, path: str) -> bool:
    if target == "/admin":
        return path == "/admin"
    if target.startswith("/settings"):
        return path.startswith("/settings")
    return path == target or path.startswith(target + "/")


def apply_theme(branding: Branding | None) -> None:
    """Colours, the shared stylesheet and script, and the hint under a table wider than its card."""
    # positive: Quasar's #21ba45 is too light for white text (AA contrast, checked by axe in the e2e tests)
    ui.colors(primary=branding.theme_color if branding else "#2563eb", positive="#2e7d32")
    ui.add_head_html(
        '<link rel="stylesheet" href="/static/portal.css"><script src="/static/portal.js" defer></script>'
    )
    hint = ui.element("span").classes("hidden")  # read by static/portal.js, as data
    hint.props["data-portal-scroll-hint"] = _("Scroll the table sideways to see all its columns →")


def impersonation_banner(actor: Actor) -> None:
    """'Viewing as <client>' with a Stop button; reloads the page once the view has ended by itself."""
    with (
        ui.row()
        .classes("w-full items-center justify-center bg-amber-300 text-gray-900 px-4 py-1 gap-3 no-wrap")
        .props("role=status")
        .mark("impersonation-banner")
    ):
        ui.icon("visibility").classes("text-lg")
        ui.label(_("Viewing as {name}", name=actor.name)).classes("font-medium").mark("viewing-as")
        ui.button(_("Stop"), on_click=lambda: stop_impersonation(actor)).props(
            "dense unelevated no-caps color=grey-9"
        ).mark("stop-impersonation")

    async def check() -> None:
        try:
            running = await impersonation.current(actor=actor)
        except Exception:
            running = None
        if running is None:
            timer.cancel()
            ui.navigate.reload()  # the next page load closes the view and goes back to the console

    timer = ui.timer(CHECK_SECONDS, check)


def _notice() -> None:
    """The one-time notice left by the last session change (e.g. a view as a client that ended)."""
    notice = take_notice()
    if not notice:
        return
    message = NOTICES.get(notice.get("kind", ""))
    if message is None:
        return
    text = _(message, client=notice.get("client", ""), minutes=get_settings().impersonation_minutes)
    with (
        ui.row()
        .classes("w-full items-center justify-between bg-blue-50 text-blue-900 rounded px-3 py-2 no-wrap")
        .props("role=status")
        .mark("notice") as row
    ):
        ui.label(text).mark("notice-text")
        dismiss = ui.button(icon="close", on_click=row.delete).props("flat dense round")
        dismiss.props["aria-label"] = _("Dismiss")


class MenuLine(TextElement):
    """A line of a menu as one element, its text inside (`ui.menu_item` draws an item and a section, and
    every signed-in page draws the account menu); without `on_click` it is shown disabled."""

    def __init__(self, text: str, menu: ui.menu, on_click: Callable[[], Any] | None = None) -> None:
        super().__init__(tag="q-item", text=text)
        if on_click is None:
            self._props["disable"] = True
            return
        self._props["clickable"] = True
        self.on("click", on_click)
        self.on("click", menu.close)


class NavLinks(ui.element, component="nav_links.js"):
    """The navigation as one element (every signed-in page draws it before its own content): plain
    links drawn by the browser from a list, each label Vue-escaped text."""

    def __init__(self, links: list[dict[str, Any]], *, label: str, icons: bool, link_class: str) -> None:
        super().__init__()
        self._props.update(
            {
                "links": links,
                "label": label,
                "icons": icons,
                "link-class": link_class,
                "current-class": "bg-blue-50 font-semibold text-primary",
                "other-class": "text-gray-800",
            }
        )

    def _displayed_contents(self, *, only_visible: bool) -> list:
        """The link labels, as the page shows them (what NiceGUI's element filter and tests read)."""
        return [link["label"] for link in self._props["links"]]


def _nav_links(actor: Actor, path: str, *, label: str, drawer: bool) -> NavLinks:
    """The console's drawer links (with icons) or the client's header links, marked `nav-<page>` each."""
    entries = _nav(actor)
    links = [
        {"href": target, "label": _(text), "icon": icon, "current": _is_current(target, path)}
        for text, target, icon in entries
    ]
    link_class = (
        "flex no-wrap items-center gap-4 w-full rounded-r-full pl-4 pr-2 py-2 no-underline hover:bg-gray-100"
        if drawer
        else "px-2 py-1 rounded no-underline hover:bg-gray-100"
    )
    nav = NavLinks(links, label=label, icons=drawer, link_class=link_class)
    return nav.mark(*(f"nav-{_slug(target)}" for _text, target, _icon in entries))


def _drawer(actor: Actor, path: str) -> ui.left_drawer:
    """The console navigation: open beside the page on wide screens, over it on narrow ones.

    Quasar decides by the width (`show-if-above`) and tells the server; `value=None` would instead ask the
    browser on connect and log a TimeoutError when the answer takes over a second."""
    drawer = ui.left_drawer(value=False).props("show-if-above bordered width=220").classes("bg-white p-0")
    with drawer:
        drawer.mark("nav-drawer")
        _nav_links(actor, path, label=_("Console"), drawer=True).classes("flex flex-col w-full pt-2 pr-2")
    return drawer


@contextmanager
def frame(
    actor: Actor, branding: Branding, *, title: str, on_sign_out: Callable[[], Any]
) -> Iterator[ui.column]:
    """Lay out a signed-in page and yield its content column."""
    apply_theme(branding)
    path = _current_path()
    console = actor.client_id is None
    header = ui.header().classes("p-0 items-stretch bg-white text-gray-900 shadow-sm")
    with header.style("flex-direction: column; gap: 0"):
        if actor.is_impersonating:
            impersonation_banner(actor)
        with ui.row().classes("w-full items-center justify-between px-2 sm:px-4 py-2 no-wrap"):
            with ui.row().classes("items-center gap-2 no-wrap min-w-0"):
                if console:
                    menu = set_props(ui.button(icon="menu").props("flat round"), {"aria-label": _("Menu")})
                    menu.mark("nav-toggle")
                logo = ui.image(branding.logo_path or "/static/logo.svg").classes("w-8 h-8 shrink-0")
                logo.props["alt"] = _("Logo")
                ui.label(branding.name).classes("text-lg font-semibold truncate").mark("org-name")
                if not console:
                    top = _nav_links(actor, path, label=_("Main"), drawer=False)
                    top.classes("flex gap-1 max-sm:hidden no-wrap")
            with ui.row().classes("items-center gap-2 no-wrap"):
                if branding.gateway_mode != "live":
                    ui.badge(
                        _("Sandbox") if branding.gateway_mode == "sandbox" else _("Test mode"),
                        color="orange",
                    ).props("outline").mark("gateway-mode")
                account = ui.button(icon="account_circle").props("flat round")
                with set_props(account, {"aria-label": _("Account menu")}):
                    with ui.menu() as account_menu:
                        MenuLine(f"{actor.name} ({actor.email})" if actor.email else actor.name, account_menu)
                        # groups ruled off by a border, not separator elements (every page draws this menu)
                        for index, (code, language) in enumerate(LABELS.items()):
                            chosen = "✓ " if code == actor.locale else ""
                            switch = lambda code=code: _switch_language(actor, code)  # noqa: E731
                            item = set_props(
                                MenuLine(f"{chosen}{language}", account_menu, switch), {"lang": code}
                            )
                            item.classes("border-t" if index == 0 else "").mark(f"language-{code}")
                        MenuLine(_("Sign out"), account_menu, on_sign_out).classes("border-t").mark(
                            "sign-out"
                        )
    if console:
        drawer = _drawer(actor, path)
        menu.on_click(lambda: drawer.run_method("toggle"))  # the browser knows whether it is open
    with ui.column().classes("w-full max-w-5xl mx-auto p-4 gap-4").props("role=main") as content:
        _notice()
        heading = ui.label(title).classes("text-2xl font-semibold").props('role=heading aria-level="1"')
        heading.mark("page-title")
        yield content


@contextmanager
def signed_in_frame(actor: Actor, branding: Branding, title: str) -> Iterator[ui.column]:
    """The frame with navigation for the actor's role and a working sign-out."""
    with frame(actor, branding, title=title, on_sign_out=sign_out) as content:
        yield content
