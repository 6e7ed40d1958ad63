"""Keeping an open page current through one refresh discipline.

- `LiveSection` (and `live_method` for a page class) draws an async part of a page and redraws it on
  `refresh()`. Refreshes asked for while one is running coalesce into one more redraw, never two at once:
  NiceGUI's `ui.refreshable` starts a second async run beside the first, and both append (a section drawn
  twice). A redraw is built out of sight and swapped in when complete, so the page never shows it half done.
- `Announcer` shows what an action did on a line that no redraw removes, and as a notification sent from the
  page itself: a handler whose button was redrawn away can still speak.
- `follow_money_events` and `in_page_language` run an event from another task in the page's language.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from nicegui import Client, background_tasks, ui

from portal import events, i18n

MONEY_EVENTS = ("payment.recorded", "payment.failed", "payment.refunded")
CONNECT_WAIT_SECONDS = 60.0  # how long a section drawn `later` waits for its page's browser
OwnerT = TypeVar("OwnerT")


def in_page_language(client: Any, handler: Callable[..., object], *args: Any) -> None:
    """Run `handler(*args)` for another page's client (an event from elsewhere) in that page's language.

    The event may come from a task that is building or serving someone else's page, in another language:
    the handler runs in a copy of the context with this page's locale, so what it redraws is in its own.
    """
    context = contextvars.copy_context()

    def run() -> None:
        i18n.set_locale(getattr(client, "portal_locale", None) or i18n.DEFAULT)
        handler(*args)

    with client:
        context.run(run)


def follow_events(
    client_id: int | None,
    refresh: Callable[[], object],
    names: tuple[str, ...],
    *,
    every_client: bool = False,
) -> None:
    """Call `refresh` (in the page's language) when one of the events `names` concerns this client (or any
    client, with `every_client`), until the browser tab goes away. Every open page hears every event: the
    client id is looked at first."""
    page = ui.context.client

    def on_event(event: events.Event) -> None:
        if (not every_client and event.client_id != client_id) or page.id not in Client.instances:
            return
        in_page_language(page, refresh)

    stops = [events.subscribe(name, on_event) for name in names]
    page.on_delete(lambda: [stop() for stop in stops])


def follow_money_events(client_id: int | None, refresh: Callable[[], object]) -> None:
    """Redraw `refresh` when money moves for this client, until the browser tab goes away."""
    follow_events(client_id, refresh, MONEY_EVENTS)


class LiveSection:
    """One async part of a page: `await section()` draws it where it stands, `section.refresh()` redraws it.

    At most one drawing runs at a time; refreshes asked for meanwhile give exactly one more redraw. Each
    redraw is built in a hidden box and replaces the shown one only when complete. `refresh()` returns an
    awaitable that resolves when the section shows the state of the last refresh asked for.
    """

    def __init__(self, build: Callable[[], Awaitable[None]], *, name: str = "section") -> None:
        self._build = build
        self.name = name
        self.box: ui.element | None = None
        self.draws = 0  # how many times it was drawn (first draw included)
        self._busy = False
        self._again = False
        self._idle: asyncio.Future[None] | None = None

    async def __call__(self) -> None:
        """The first drawing, in the current place of the page."""
        self.box = ui.element("div").classes("contents")
        self._start()
        try:
            await self._draw_once(first=True)
        finally:
            self._stop()

    def later(self, placeholder: str) -> None:
        """Show `placeholder` now and draw the section once the browser is connected: a section below the
        fold does not hold up the page's first answer and paint."""
        self.box = ui.element("div").classes("contents")
        with self.box:
            ui.label(placeholder).classes("text-gray-600").props("role=status")
        background_tasks.create(self._when_connected(ui.context.client), name=f"draw {self.name}")

    async def _when_connected(self, page: Client) -> None:
        try:
            await page.connected(timeout=CONNECT_WAIT_SECONDS)
        except TimeoutError:  # never connected (a prefetch, a bot, a closed tab): nothing to draw for
            return
        if self.box is not None and not self.box.is_deleted and not page.is_deleted:
            with page:
                await self.refresh()

    def refresh(self) -> Awaitable[None]:
        """Ask for a redraw; coalesces with one already running or asked for."""
        if self.box is None or self.box.is_deleted:
            return _done()
        if self._busy:
            self._again = True
        else:
            self._start()
            background_tasks.create(self._redraw(), name=f"redraw {self.name}")
        assert self._idle is not None
        return asyncio.shield(self._idle)

    def _start(self) -> None:
        self._busy = True
        if self._idle is None or self._idle.done():
            self._idle = asyncio.get_running_loop().create_future()

    def _stop(self) -> None:
        self._busy = False
        if self._again:  # asked for while the first drawing ran
            self._again = False
            self.refresh()
        elif self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    async def _redraw(self) -> None:
        try:
            while True:
                self._again = False
                await self._draw_once(first=False)
                if not self._again:
                    break
        finally:
            self._again = False
            self._stop()

    async def _draw_once(self, *, first: bool) -> None:
        box = self.box
        if box is None or box.is_deleted:
            return
        old = list(box.default_slot.children)
        with box:
            fresh = ui.element("div")
        # `contents`: the box adds no layout of its own; a redraw stays out of sight until complete
        if first:
            fresh.classes("contents")
        else:
            fresh.set_visibility(False)
        try:
            with fresh:
                await self._build()
        except BaseException:
            if not fresh.is_deleted:
                fresh.delete()
            raise
        if box.is_deleted:
            return
        for element in old:
            if not element.is_deleted:
                box.remove(element)
        if not first:
            fresh.set_visibility(True)
            fresh.classes("contents")
        self.draws += 1


def _done() -> Awaitable[None]:
    """An awaitable that is already resolved."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class live_method(Generic[OwnerT]):  # a decorator, named like ui.refreshable_method
    """`@live_method` on an async method of a page class: `await self.part()` draws it, `self.part.refresh()`
    redraws it through its `LiveSection` (one per instance)."""

    def __init__(self, build: Callable[[OwnerT], Awaitable[None]]) -> None:
        self.build = build
        self.attribute = f"_live_{build.__name__}"

    def __get__(self, owner: OwnerT | None, kind: type | None = None) -> LiveSection:
        if owner is None:
            raise AttributeError("a live section belongs to an instance")
        section = owner.__dict__.get(self.attribute)
        if section is None:
            section = LiveSection(lambda: self.build(owner), name=self.build.__name__)
            owner.__dict__[self.attribute] = section
        return section


class Announcer:
    """What an action did, said where no redraw removes it: a line (status or alert, for screen readers too)
    at a stable place of the page, and a notification sent from that place."""

    def __init__(self, marker: str = "announcement") -> None:
        self.page = ui.context.client
        self.line = ui.label().classes("w-full").mark(marker)
        self.line.set_visibility(False)

    def place(self) -> Client:
        """Where a dialog opened from a live section belongs (`with announcer.place(): ui.dialog()`): the
        page itself, which no redraw of the section takes away."""
        return self.page

    def say(self, text: str, *, ok: bool = True, notify: bool = True) -> None:
        """Show `text` (green when `ok`, red otherwise) and, unless `notify` is False, a notification."""
        if self.line.is_deleted:
            return
        with self.line:
            self.line.set_text(text)
            self.line.classes(replace="w-full " + ("text-green-700" if ok else "text-red-700"))
            self.line.props["role"] = "status" if ok else "alert"
            self.line.update()
            self.line.set_visibility(True)
            if notify:
                ui.notify(text, type="positive" if ok else "negative", multi_line=True)

    def clear(self) -> None:
        """Hide the line (a new action is starting)."""
        if not self.line.is_deleted:
            self.line.set_visibility(False)
