"""Sign-ins against the event loop: a health ping while 10 people sign in at once, against the same ping
with nobody signing in.

    python -m bench.logins [--database-url URL] [--seeded]

The real app (main.py) runs in this process (bench/app.py). A pinger sends `GET /healthz` through the
app every 10 ms and records how long each answer takes. 20 rounds, each an idle window (0.3 s, no
sign-in) and a busy window (10 concurrent `accounts.authenticate` with the right password, each a full
argon2 verification with the portal's own settings; the window lasts until all 10 are signed in),
after a warm-up round. Figure: the median over rounds of the busy windows' p95 ping time / the same
for the idle windows. Target <= 3: argon2 must not run on the event loop.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import httpx

from bench import app, common, seed
from portal.accounts import sessions

CONCURRENT = 10
ROUNDS = 20
IDLE_SECONDS = 0.3
PING_EVERY = 0.010
TARGET = 3.0


class Pinger:
    """GET /healthz every PING_EVERY seconds; keeps (start time, seconds to answer)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            response = await self.client.get("/healthz")
            self.samples.append((start, time.perf_counter() - start))
            if response.status_code != 200:
                raise AssertionError(f"/healthz answered {response.status_code}")
            await asyncio.sleep(PING_EVERY)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def between(self, start: float, end: float) -> list[float]:
        return [took for at, took in self.samples if start <= at < end]


async def sign_in_all(round_no: int) -> None:
    """10 concurrent sign-ins with the right password (each from its own address)."""
    actors = await asyncio.gather(
        *(
            sessions.authenticate(
                email=seed.login_email(n), password=seed.PASSWORD, ip=f"10.0.{round_no % 250}.{n + 1}"
            )
            for n in range(CONCURRENT)
        )
    )
    if len(actors) != CONCURRENT:
        raise AssertionError("not everybody was signed in")


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    if not seeded:
        seconds, _ = await seed.create(url)
        print(f"(seeded in {seconds:.1f} s)", flush=True)
    idle_p95, busy_p95, busy_seconds = [], [], []
    async with app.portal_app(url), app.http_client() as client:
        title = (
            f"== Sign-ins on {await common.server_version()}: /healthz every {PING_EVERY * 1e3:.0f} ms, "
            f"{ROUNDS} rounds of idle {IDLE_SECONDS} s / {CONCURRENT} concurrent sign-ins =="
        )
        pinger = Pinger(client)
        pinger.start()
        await sign_in_all(999)  # warm-up
        for round_no in range(ROUNDS):
            start = time.perf_counter()
            await asyncio.sleep(IDLE_SECONDS)
            middle = time.perf_counter()
            await sign_in_all(round_no)
            end = time.perf_counter()
            idle_p95.append(common.percentile(pinger.between(start, middle), 95))
            busy_p95.append(common.percentile(pinger.between(middle, end), 95))
            busy_seconds.append(end - middle)
        await pinger.stop()
    idle, busy = statistics.median(idle_p95), statistics.median(busy_p95)
    figure = common.at_most(
        f"{common.dialect_of(url)}.login_ping_p95_vs_idle",
        busy / idle,
        TARGET,
        f"p95 /healthz {common.ms(busy)} during {CONCURRENT} sign-ins, {common.ms(idle)} idle "
        f"(medians of {ROUNDS} rounds; 10 sign-ins took {statistics.median(busy_seconds):.2f} s)",
    )
    return title, [figure]


if __name__ == "__main__":
    sys.exit(common.main(run, __doc__))
