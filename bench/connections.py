"""100 connected My Billing dashboards: event-loop latency and memory per dashboard.

    python -m bench.connections [--database-url URL] [--seeded]

The real app (main.py) runs in this process (bench/app.py). 100 clients sign in (through the one-time
session route) and open /billing, each in its own simulated browser connected to NiceGUI (a page with its
element tree, outbox and live-update subscriptions, as a real browser keeps). A ticker coroutine sleeps
5 ms again and again and records how late it wakes (event-loop latency).
- idle: 20 windows of 1 s with the app running and no dashboard open (10 before the dashboards are
  opened, 10 after they are closed, so that a change in the machine's load meets both sides);
- connected: 20 windows of 1 s with the 100 dashboards open while payments keep arriving, 2 a second
  (7,200 an hour), each for one of the 100 clients in turn (`payment.recorded` on the event bus: that
  dashboard reads its to-do, subscriptions and cards again and redraws what changed, as after a real
  payment).
  Shown beside it, not judged: connected with no payment, and 10 payments a second.
Figures: the median of the windows' p95 latency, connected / idle (target <= 3); resident memory
(VmRSS) after opening the 100 dashboards minus before, per dashboard (target <= 2 MB; 5 dashboards are
opened first so that one-off allocations do not count).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time

from bench import app, common, seed
from portal import events

DASHBOARDS = 100
WARM = 5
WINDOWS = 20
WINDOW_SECONDS = 1.0
EVENTS_PER_SECOND = 2  # 7,200 payments an hour: each dashboard refreshes every 50 s on average
STRESS_PER_SECOND = 10  # shown beside the figure, not judged
SIDE_WINDOWS = 5
LATENCY_TARGET = 3.0
MEMORY_TARGET_MB = 2.0


async def _windows(ticker: common.LoopTicker, count: int = WINDOWS) -> list[float]:
    """p95 lateness of each of `count` windows."""
    return [common.percentile(await ticker.window(WINDOW_SECONDS), 95) for _ in range(count)]


async def _with_payments(
    ticker: common.LoopTicker, client_ids: list[int], per_second: float, count: int
) -> tuple[list[float], int]:
    """`count` windows while payments arrive `per_second`; (p95 of each window, payments sent)."""
    stop = asyncio.Event()
    publisher = asyncio.get_running_loop().create_task(_payments(client_ids, stop, per_second))
    await asyncio.sleep(1.0)  # the first refreshes
    windows = await _windows(ticker, count)
    stop.set()
    return windows, await publisher


async def _payments(client_ids: list[int], stop: asyncio.Event, per_second: float) -> int:
    """Publish `payment.recorded` for the clients in turn, `per_second`, until `stop`."""
    sent = 0
    interval = 1 / per_second
    next_at = time.perf_counter()
    while not stop.is_set():
        client_id = client_ids[sent % len(client_ids)]
        await events.publish(events.Event("payment.recorded", client_id=client_id, data={"bench": sent}))
        sent += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return sent


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    if not seeded:
        seconds, _ = await seed.create(url)
        print(f"(seeded in {seconds:.1f} s)", flush=True)
    clients = list(seed.DASHBOARD_CLIENTS)[: WARM + DASHBOARDS]
    if len(clients) < WARM + DASHBOARDS:
        clients += clients[: WARM + DASHBOARDS - len(clients)]
    async with app.portal_app(url):
        title = (
            f"== {DASHBOARDS} connected dashboards on {await common.server_version()}: "
            f"{WINDOWS} windows of {WINDOW_SECONDS:g} s idle and connected with {EVENTS_PER_SECOND} "
            f"payments a second =="
        )
        ticker = common.LoopTicker()
        ticker.start()
        await asyncio.sleep(0.5)
        idle = await _windows(ticker, WINDOWS // 2)  # the other half once the dashboards are closed

        users = [await app.signed_in_user(seed.dashboard_user_id(c), "/billing") for c in clients[:WARM]]
        gc.collect()
        before = common.rss_bytes()
        started = time.perf_counter()
        for client_id in clients[WARM:]:
            users.append(await app.signed_in_user(seed.dashboard_user_id(client_id), "/billing"))
        opened = time.perf_counter() - started
        gc.collect()
        after = common.rss_bytes()
        for user in users:
            await user.should_see(marker="todo")  # every dashboard is built and showing its to-do panel

        quiet = await _windows(ticker, SIDE_WINDOWS)
        connected, sent = await _with_payments(ticker, clients[WARM:], EVENTS_PER_SECOND, WINDOWS)
        stress, stress_sent = await _with_payments(ticker, clients[WARM:], STRESS_PER_SECOND, SIDE_WINDOWS)
        await asyncio.sleep(1.0)  # the last refreshes finish before their pages go

        for user in users:  # the browsers go away: their pages are deleted, as after a disconnect
            if user.client is not None:
                user.client.delete()
            await user.http_client.aclose()
        users.clear()
        gc.collect()
        await asyncio.sleep(1.0)
        idle_after = await _windows(ticker, WINDOWS - WINDOWS // 2)
        idle_before, idle = idle, idle + idle_after
        await ticker.stop()
    idle_p95, connected_p95 = statistics.median(idle), statistics.median(connected)
    per_client_mb = (after - before) / DASHBOARDS / 2**20
    name = common.dialect_of(url)
    return title, [
        common.at_most(
            f"{name}.dashboards_loop_p95_vs_idle",
            connected_p95 / idle_p95,
            LATENCY_TARGET,
            f"p95 lateness {common.ms(connected_p95)} with {DASHBOARDS} dashboards and "
            f"{EVENTS_PER_SECOND} payments a second ({sent} in all), {common.ms(idle_p95)} idle "
            f"(medians of {WINDOWS} windows of {WINDOW_SECONDS:g} s; idle before opening "
            f"{common.ms(statistics.median(idle_before))}, after closing "
            f"{common.ms(statistics.median(idle_after))})",
            f"not judged: {common.ms(statistics.median(quiet))} connected with no payment, "
            f"{common.ms(statistics.median(stress))} at {STRESS_PER_SECOND} payments a second "
            f"({stress_sent} in all; medians of {SIDE_WINDOWS} windows)",
        ),
        common.at_most(
            f"{name}.dashboard_memory_mb",
            per_client_mb,
            MEMORY_TARGET_MB,
            f"RSS {before / 2**20:.0f} MB with {WARM} dashboards, {after / 2**20:.0f} MB with "
            f"{WARM + DASHBOARDS} (opened in {opened:.1f} s)",
            unit="MB",
        ),
    ]


if __name__ == "__main__":
    sys.exit(common.main(run, __doc__))
