"""Event bus: services publish after commit, open pages subscribe and refresh their part.

In one process the bus is a dictionary of subscribers. With several processes (NICEGUI_REDIS_URL set),
`RedisBridge` also sends every event to a Redis channel and delivers the other processes' events here,
so a payment recorded by one process refreshes a dashboard open on another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
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
    """Deliver an event here and, when bridged, to the other processes."""
    await deliver(event)
    if _bridge is not None:
        await _bridge.send(event)


async def deliver(event: Event) -> None:
    """Deliver an event to this process's subscribers; a failing subscriber never breaks the publisher."""
    for handler in list(_subscribers.get(event.name, [])):
        try:
            result = handler(event)
            if result is not None:
                await result
        except Exception:
            log.exception("event handler failed for %s", event.name)


CHANNEL = "portal:events"


class RedisBridge:
    """Relays events between portal processes through Redis pub/sub."""

    def __init__(self, url: str) -> None:
        # lazy: only several processes sharing Redis need it (~0.35 s at every start otherwise)
        import redis.asyncio as redis  # noqa: PLC0415

        self.origin = uuid.uuid4().hex
        self.redis = redis.from_url(url)
        self.task: asyncio.Task[None] | None = None

    async def send(self, event: Event) -> None:
        """Publish to the other processes (a Redis outage never breaks the publisher)."""
        message = {
            "origin": self.origin,
            "name": event.name,
            "client_id": event.client_id,
            "data": event.data,
        }
        try:
            await self.redis.publish(CHANNEL, json.dumps(message, default=str))
        except Exception:
            log.exception("could not relay event %s", event.name)

    async def start(self) -> None:
        """Subscribe, then listen in the background."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CHANNEL)
        self.task = asyncio.create_task(self._listen(pubsub))

    async def _listen(self, pubsub) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    body = json.loads(message["data"])
                    if body.get("origin") != self.origin:
                        await deliver(Event(body["name"], body.get("client_id"), body.get("data") or {}))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event bridge lost its subscription; retrying")
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await pubsub.subscribe(CHANNEL)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.redis.aclose()


_bridge: RedisBridge | None = None


async def start_bridge(url: str) -> None:
    """Bridge this process's bus with the others' through Redis (idempotent)."""
    global _bridge
    if _bridge is None and url:
        bridge = RedisBridge(url)
        await bridge.start()
        _bridge = bridge
        log.info("event bus bridged through Redis")


async def stop_bridge() -> None:
    """Stop bridging (shutdown)."""
    global _bridge
    if _bridge is not None:
        bridge, _bridge = _bridge, None
        await bridge.stop()
