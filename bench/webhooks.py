"""Webhook ingest: the portal's /webhooks/stripe handler against a bare verify-and-insert loop.

    python -m bench.webhooks [--database-url URL] [--seeded]

2,000 distinct Stripe-signed events (signed like Stripe does: `t=<ts>,v1=<HMAC-SHA256>`), a third each
`customer.subscription.updated` and `checkout.session.async_payment_failed` (handlers that look up a
subscription or a payment we do not have: no call to Stripe) and `customer.created` (no handler). Two
sides, 20 alternating batches of 50 events each after a warm-up batch, every event seen once:
- the route: `portal.pages.webhooks.stripe_webhook(request)` on a real Starlette request: the gateway
  lookup, the signature check and storing the event, up to the answer Stripe gets (timed); the claim and
  the handler, which the route runs once the answer is sent, run after each batch (timed apart, shown,
  not judged), and every event must end processed once;
- the bare loop: `stripe.WebhookSignature.verify_header`, `json.loads`, one INSERT into webhook_event.
Figure: events per second of the route / of the bare loop (median batch rates). Target >= 0.5.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import stripe
from starlette.requests import Request

from bench import common, seed
from portal.db.lifecycle import database

SECRET = "whsec_bench_webhook_secret"
EVENTS = 2_000
BATCH = 50
TARGET = 0.5
TYPES = ("customer.subscription.updated", "checkout.session.async_payment_failed", "customer.created")
BARE_INSERT = """
INSERT INTO webhook_event (provider, event_id, type, payload, received_at, processed_at, attempts, error)
VALUES ($1, $2, $3, $4, $5, $6, 1, '')
"""


def _event(run: str, side: str, n: int) -> tuple[bytes, str]:
    """One signed event, its id unique to this run: (body, Stripe-Signature header)."""
    kind = TYPES[n % len(TYPES)]
    body = json.dumps(
        {
            "id": f"evt_{run}_{side}_{n:05d}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": {"id": f"obj_{side}_{n}", "object": kind.split(".")[0], "status": "active"}},
        }
    ).encode()
    ts = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={ts},v1={digest}"


def _request(body: bytes, signature: str) -> Request:
    """A Starlette request for POST /webhooks/stripe carrying `body`."""
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/stripe",
        "headers": [
            (b"content-type", b"application/json"),
            (b"stripe-signature", signature.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "query_string": b"",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "scheme": "http",
    }
    return Request(scope, receive)


AFTER_ANSWER: list = []  # the work each answer leaves for after it is sent (Starlette runs it then)


async def route_one(body: bytes, signature: str) -> None:
    from portal.pages import webhooks

    response = await webhooks.stripe_webhook(_request(body, signature))
    if response.status_code != 200:
        raise AssertionError(f"the webhook route answered {response.status_code}: {response.body!r}")
    if response.background is not None:
        AFTER_ANSWER.append(response.background)


async def _after_answers() -> float:
    """Run the processing the timed answers left behind, as Starlette does once each answer is sent."""
    start = time.perf_counter()
    while AFTER_ANSWER:
        await AFTER_ANSWER.pop(0)()
    return time.perf_counter() - start


async def bare_one(body: bytes, signature: str) -> None:
    stripe.WebhookSignature.verify_header(body.decode(), signature, SECRET, tolerance=300)
    event = json.loads(body)
    now = datetime.now(UTC)
    await common.conn().execute_insert(
        common.sql(BARE_INSERT),
        [
            "bare",
            event["id"],
            event["type"],
            json.dumps({"data": event["data"]["object"], "created": event["created"]}),
            now if common.dialect() == "postgres" else now.isoformat(" "),
            now if common.dialect() == "postgres" else now.isoformat(" "),
        ],
    )


Batch = list[tuple[bytes, str]]


async def _timed(handler: Callable[[bytes, str], Awaitable[None]], batch: Batch) -> float:
    start = time.perf_counter()
    for body, signature in batch:
        await handler(body, signature)
    return time.perf_counter() - start


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    if not seeded:
        seconds, _ = await seed.create(url)
        print(f"(seeded in {seconds:.1f} s)", flush=True)
    # the portal takes its Stripe account from the environment when the organization has none
    os.environ.update(STRIPE_SECRET_KEY="sk_test_bench", STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_API_BASE="")
    from portal.payments.gateways import selector

    batches = EVENTS // BATCH
    run_id = secrets.token_hex(4)
    route_events = [_event(run_id, "route", n) for n in range(EVENTS + BATCH)]
    bare_events = [_event(run_id, "bare", n) for n in range(EVENTS + BATCH)]
    async with database(url, auto_migrate=False):
        title = (
            f"== Webhook ingest on {await common.server_version()}: {EVENTS:,} signed events a side, "
            f"{batches} alternating batches of {BATCH} after one warm-up batch =="
        )
        gateway = await selector.current_gateway()
        if gateway.name != "stripe":
            raise AssertionError(f"the portal is not on Stripe but on {gateway.name}")
        await _timed(route_one, route_events[:BATCH])  # warm-up
        await _after_answers()
        await _timed(bare_one, bare_events[:BATCH])
        route_times, bare_times, after_times = [], [], []
        for n in range(batches):
            chunk = slice(BATCH * (n + 1), BATCH * (n + 2))
            if n % 2 == 0:
                route_times.append(await _timed(route_one, route_events[chunk]))
                after_times.append(await _after_answers())
                bare_times.append(await _timed(bare_one, bare_events[chunk]))
            else:
                bare_times.append(await _timed(bare_one, bare_events[chunk]))
                route_times.append(await _timed(route_one, route_events[chunk]))
                after_times.append(await _after_answers())
        stored = await common.conn().execute_query_dict(
            common.sql(
                "SELECT provider, COUNT(*) AS n, COUNT(*) - COUNT(processed_at) AS open FROM webhook_event "
                "WHERE event_id LIKE $1 GROUP BY provider ORDER BY provider"
            ),
            [f"evt_{run_id}_%"],
        )
        await selector.forget_cached()
    counts = {r["provider"]: (int(r["n"]), int(r["open"] or 0)) for r in stored}
    if counts.get("stripe") != (EVENTS + BATCH, 0) or counts.get("bare", (0, 0))[0] != EVENTS + BATCH:
        raise AssertionError(f"events stored (provider: count, unprocessed): {counts}")
    route_rate = BATCH / statistics.median(route_times)
    bare_rate = BATCH / statistics.median(bare_times)
    after_rate = BATCH / statistics.median(after_times)
    name = common.dialect_of(url)
    figure = common.at_least(
        f"{name}.webhook_ingest_vs_bare",
        route_rate / bare_rate,
        TARGET,
        f"route {route_rate:,.0f} events/s answered, bare loop {bare_rate:,.0f} events/s "
        f"(median of {batches} batches of {BATCH}); processing after the answers {after_rate:,.0f} events/s "
        f"(not judged; every event stored and processed once)",
    )
    return title, [figure]


if __name__ == "__main__":
    sys.exit(common.main(run, __doc__))
