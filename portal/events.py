"""In-process event bus: services publish after commit, open pages subscribe and refresh their part."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[["Event"], Awaitable[None] | None]


@dataclass(frozen=True)
class Event:
    """Something that happened, e.g. Event("payment.recorded", client_id=7)."""

    name: str
    client_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


_subscribers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(name: str, handler: Handler) -> Callable[[], None]:
    """Call `handler` for every event with this name; returns a function that unsubscribes."""
    _subscribers[name].append(handler)
    return lambda: _subscribers[name].remove(handler) if handler in _subscribers[name] else None


async def publish(event: Event) -> None:
    """Deliver an event to its subscribers; a failing subscriber never breaks the publisher."""
    for handler in list(_subscribers.get(event.name, [])):
        try:
            result = handler(event)
            if result is not None:
                await result
        except Exception:
            log.exception("event handler failed for %s", event.name)
