"""Month-end burst: 200 clients paying within the same ten seconds through the sandbox, with two portal
processes on one PostgreSQL and one Redis (as deployed: README, "Deployment on PostgreSQL with several
processes").

    python -m bench.burst --database-url postgres://.../bench [--seeded]     # PostgreSQL only

Set-up (not timed): 416 clients of the seed (ids from 200, not archived) each get a user, a sandbox
customer and a saved Visa card made the way the card page makes them, and one of their open invoices
that nothing has paid yet is chosen. Two portal processes (`main.py`) are started on the database with
NICEGUI_REDIS_URL (as tests/e2e/test_two_processes.py does) and their jobs on, at their own intervals as
deployed; the runs every job makes when a process starts are left to end before anything is timed.

Pay Now is a button in the Pay dialog, handled over NiceGUI's websocket, which a plain HTTP client cannot
press; 200 browsers do not fit this machine. So each portal process gets a driver process configured
exactly like it (the same DATABASE_URL and NICEGUI_REDIS_URL, the sandbox's events wired to the webhook
handlers and the live-update bridge to Redis, as main.py does) that calls what the dialog's Pay button
calls, `charges.pay_with_saved_method(actor=<the signed-in client>, purpose="invoice", target_id=...,
method_id=<the card>)`, and times each call:
- alone: 8 Pay Nows one after the other on driver A before the bursts, 8 on driver B after them;
- the burst (judged): 200 clients press Pay Now within the same 10 seconds, each at a moment drawn at
  random (uniformly, a fixed seed) in that window, half through each driver: 20 a second, ten times what
  the busiest month-end of an agency with 2,000 clients asks of it;
- all at one instant (reported, not judged): 200 more, both drivers firing 100 each at the same instant.
  A Pay Now is CPU work in its process (the sandbox answers in-process), so the 95th of 100 calls started
  at once in one process waits for 94 others: no design makes that p95 less than about 95 times the CPU
  of one call, and the line shows the p95 against that floor.
Both bursts must end within a bound of 120 s (a deadlock would stop one of them). Checked afterwards:
every one of the 400 + 16 invoices is paid, by exactly one succeeded payment and exactly one allocation
of its whole total; no driver or portal process logged an error.
Figure: `burst_p95_vs_alone`: p95 of a Pay Now during the burst / the median Pay Now alone. Target <= 5.
On SQLite the module prints that it is skipped: several portal processes need PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller

from bench import common, seed
from portal import events, gateway_events
from portal.config import get_settings
from portal.core.actors import Actor
from portal.db.lifecycle import database
from portal.db.models import Client, PaymentMethod, User
from portal.domain.status import Role
from portal.payments import charges, methods
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import NewCard
from portal.payments.gateways.sandbox import SandboxGateway

ROOT = Path(__file__).resolve().parent.parent
REDIS = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/0"
BURST = 200
WINDOW_SECONDS = 10.0  # the burst's 200 Pay Nows arrive at random moments within this window
ALONE = 8  # per side: before the burst on driver A, after it on driver B
FIRST_CLIENT = 200
BOUND_SECONDS = 120.0
LEAD_SECONDS = 12.0  # from starting the drivers to their common start (imports, connections)
STARTUP_JOBS_SECONDS = 10.0  # each job runs once when a portal process starts: let those runs end first
TARGET = 5.0
VISA = "4242424242424242"


# --- the driver: one per portal process ----------------------------------------------------------------


async def drive(jobs: list[dict[str, float]], *, start_at: float, mode: str) -> dict[str, object]:
    """Pay Now for each job as the Pay dialog does, one after the other (`serial`), all at once
    (`instant`) or each at its own moment after the start (`spread`: the job's `at` seconds); each call's
    seconds, CPU and outcome, and the phase's (how late it started, its wall time and this process's
    CPU time)."""
    settings = get_settings()
    selector.on_sandbox_event(gateway_events.ingest)  # as main.py wires it
    async with database(settings.database_url, auto_migrate=False):
        await events.start_bridge(settings.nicegui_redis_url)
        await selector.current_gateway()  # the gateway lookup a running process has cached already

        async def pay(job: dict[str, float]) -> dict[str, object]:
            actor = Actor(
                user_id=int(job["user"]), role=Role.client, email="", name="", client_id=int(job["client"])
            )
            start, cpu = time.perf_counter(), time.process_time()
            try:
                outcome = await charges.pay_with_saved_method(
                    actor=actor,
                    purpose="invoice",
                    target_id=int(job["invoice"]),
                    method_id=int(job["method"]),
                )
                status = outcome.status
            except Exception as exc:  # reported, and judged by the parent
                status = f"error: {type(exc).__name__}: {exc}"
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            return {"invoice": job["invoice"], "seconds": seconds, "cpu": cpu, "status": status}

        async def pay_at(job: dict[str, float]) -> dict[str, object]:
            await asyncio.sleep(max(0.0, start_at + job["at"] - time.time()))
            return await pay(job)

        await asyncio.sleep(max(0.0, start_at - time.time()))
        late, wall, cpu = time.time() - start_at, time.perf_counter(), time.process_time()
        if mode == "instant":
            results = list(await asyncio.gather(*(pay(job) for job in jobs)))
        elif mode == "spread":
            results = list(await asyncio.gather(*(pay_at(job) for job in jobs)))
        else:
            results = [await pay(job) for job in jobs]
        phase = {"late": late, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        await asyncio.sleep(0.5)  # let the bridge pass the last events on
        await events.stop_bridge()
    return {"results": results, "phase": phase}


def driver_main(jobs_file: str, out_file: str, start_at: float, mode: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    jobs = json.loads(Path(jobs_file).read_text())
    Path(out_file).write_text(json.dumps(asyncio.run(drive(jobs, start_at=start_at, mode=mode))))
    return 0


# --- the parent ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _env(url: str, prefix: str, smtp_port: int, port: int | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "NICEGUI_SCREEN_TEST_PORT")
    }
    env.update(
        DATABASE_URL=url,
        AUTO_MIGRATE="false",
        NICEGUI_REDIS_URL=REDIS,
        NICEGUI_REDIS_KEY_PREFIX=prefix,
        STRIPE_SECRET_KEY="",
        STRIPE_WEBHOOK_SECRET="",
        PYTHONUNBUFFERED="1",
        JOBS_ENABLED="false",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_TLS="none",
    )
    if port is not None:
        env.update(
            HOST="127.0.0.1",
            PORT=str(port),
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            JOBS_ENABLED="true",  # at their own intervals, as deployed (each runs once at start-up)
        )
    return env


async def _prepare(count: int) -> list[dict[str, int]]:
    """`count` clients with a user, a sandbox card and an open invoice nothing has paid yet."""
    rows = await common.conn().execute_query_dict(
        """
        SELECT DISTINCT ON (i.client_id) i.id, i.client_id
        FROM invoice i JOIN client c ON c.id = i.client_id
        WHERE i.status = 'open' AND i.billing_request_id IS NULL AND c.id >= $1 AND NOT c.archived
          AND NOT EXISTS (SELECT 1 FROM allocation a WHERE a.invoice_id = i.id)
          AND NOT EXISTS (SELECT 1 FROM payment_method m WHERE m.client_id = c.id)
        ORDER BY i.client_id, i.due_date, i.id
        LIMIT $2
        """,
        [FIRST_CLIENT, count],
    )
    if len(rows) < count:
        raise AssertionError(f"only {len(rows)} clients with an unpaid open invoice and no card")
    password_hash = (await User.get(id=seed.STAFF_USER)).password_hash
    gateway = SandboxGateway()  # no events: the rows are written here, as the card page's return does
    jobs = []
    for row in rows:
        client = await Client.get(id=row["client_id"])
        user = await User.create(
            email=f"burst{client.id}@bench.test",
            password_hash=password_hash,
            role="client",
            client_id=client.id,
        )
        saved = await gateway.save_method(
            customer_ref=await methods.ensure_customer(client=client, gateway=gateway),
            method=NewCard(VISA, 12, 2031, "123"),
            idempotency_key=f"burst:{client.id}",
        )
        method = await PaymentMethod.create(
            client_id=client.id,
            gateway="sandbox",
            gateway_ref=saved.ref,
            kind="card",
            brand=saved.brand,
            last4=saved.last4,
            exp_month=saved.exp_month,
            exp_year=saved.exp_year,
            is_default=True,
        )
        jobs.append({"client": client.id, "user": user.id, "invoice": int(row["id"]), "method": method.id})
    return jobs


async def _check(jobs: list[dict[str, int]]) -> list[str]:
    """What is wrong with the invoices afterwards (nothing, when each is paid exactly once)."""
    ids = [job["invoice"] for job in jobs]
    rows = await common.conn().execute_query_dict(
        """
        SELECT i.id, i.status, i.total_minor,
               (SELECT COUNT(*) FROM payment p WHERE p.invoice_id = i.id AND p.status = 'succeeded') AS paid,
               (SELECT COUNT(*) FROM payment p WHERE p.invoice_id = i.id) AS attempts,
               (SELECT COUNT(*) FROM allocation a WHERE a.invoice_id = i.id) AS allocations,
               (SELECT COALESCE(SUM(a.amount_minor), 0) FROM allocation a
                WHERE a.invoice_id = i.id) AS allocated
        FROM invoice i WHERE i.id = ANY($1::int[])
        """,
        [ids],
    )
    wrong = []
    for row in rows:
        if (row["status"], row["paid"], row["allocations"], row["allocated"]) != (
            "paid",
            1,
            1,
            row["total_minor"],
        ):
            wrong.append(
                f"invoice {row['id']}: {row['status']}, {row['paid']} succeeded payment(s) of "
                f"{row['attempts']}, "
                f"{row['allocations']} allocation(s) of {row['allocated']} for {row['total_minor']}"
            )
    if len(rows) != len(ids):
        wrong.append(f"{len(ids) - len(rows)} invoices missing")
    return wrong


class _Accept:
    """An SMTP server that accepts every message (the outbox runs in both processes during the burst)."""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


class _Run:
    """The processes of one burst: two portals, the drivers, the SMTP sink; their logs in one folder."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"bench-burst-{uuid.uuid4().hex[:8]}:"
        self.folder = Path(tempfile.mkdtemp(prefix="bench-burst-"))
        self.smtp = Controller(_Accept(), hostname="127.0.0.1", port=_free_port())
        self.portals: list[subprocess.Popen[bytes]] = []
        self.phases: list[dict[str, float]] = []  # each driver's: late, wall, cpu

    def env(self, port: int | None = None) -> dict[str, str]:
        return _env(self.url, self.prefix, self.smtp.port, port)

    def start_portals(self) -> None:
        self.smtp.start()
        for name in ("a", "b"):
            port = _free_port()
            log_path = self.folder / f"portal-{name}.log"
            process = subprocess.Popen(
                [sys.executable, "main.py"],
                cwd=ROOT,
                env=self.env(port),
                stdout=log_path.open("w"),
                stderr=subprocess.STDOUT,
            )
            self.portals.append(process)
            deadline = time.monotonic() + 90
            while _status(f"http://127.0.0.1:{port}/healthz") != 200:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"portal process {name} did not start: {log_path.read_text()[-2000:]}"
                    )
                time.sleep(0.25)

    def stop(self) -> None:
        for process in self.portals:
            process.terminate()
        for process in self.portals:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.smtp.stop()

    def phase(
        self, parts: list[tuple[str, list[dict[str, float]]]], *, mode: str
    ) -> tuple[list[dict], float]:
        """Run one driver per part, all starting at the same instant; their results and the seconds from
        that instant until the last one finished."""
        start_at = time.time() + LEAD_SECONDS  # every driver imported and connected by then
        started = []
        for name, jobs in parts:
            jobs_file, out_file = self.folder / f"{name}.jobs.json", self.folder / f"{name}.out.json"
            log_file = self.folder / f"driver-{name}.log"
            jobs_file.write_text(json.dumps(jobs))
            command = [
                sys.executable,
                "-m",
                "bench.burst",
                "--driver",
                str(jobs_file),
                "--out",
                str(out_file),
            ]
            command += ["--start-at", f"{start_at:.3f}", "--mode", mode]
            process = subprocess.Popen(
                command, cwd=ROOT, env=self.env(), stdout=log_file.open("w"), stderr=subprocess.STDOUT
            )
            started.append((process, out_file, log_file))
        deadline = time.monotonic() + LEAD_SECONDS + BOUND_SECONDS
        results: list[dict] = []
        for process, out_file, log_file in started:
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as exc:
                for other, _out, _log in started:
                    other.kill()
                raise AssertionError(
                    f"a driver did not finish within the bound: {log_file.read_text()[-2000:]}"
                ) from exc
            if process.returncode != 0:
                raise AssertionError(
                    f"a driver failed ({process.returncode}): {log_file.read_text()[-2000:]}"
                )
            out = json.loads(out_file.read_text())
            results += out["results"]
            self.phases.append(out["phase"])
        return results, time.time() - start_at

    def errors(self) -> list[str]:
        """Error lines in every log (portal processes and drivers)."""
        found = []
        for path in sorted(self.folder.glob("*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if " ERROR " in line or "Traceback" in line or "deadlock" in line.lower():
                    found.append(f"{path.name}: {line}")
        return found


@dataclass
class Phases:
    alone: list[dict]  # the first of each side left out (it warms up)
    spread: list[dict]
    spread_took: float
    instant: list[dict]
    instant_took: float
    drivers: list[dict[str, float]]  # each instant driver's: late, wall, cpu
    errors: list[str]


def spread(jobs: list[dict[str, int]]) -> list[dict[str, float]]:
    """The jobs, each with its moment in the window (a fixed seed: every run the same pattern)."""
    moments = random.Random(17).sample(range(int(WINDOW_SECONDS * 1000)), len(jobs))
    return [{**job, "at": ms / 1000} for job, ms in zip(jobs, sorted(moments), strict=True)]


def serve_and_drive(url: str, jobs: list[dict[str, int]]) -> Phases:
    """Start the portals, pay alone (driver A), in the burst (A and B), all at one instant (A and B),
    alone again (B)."""
    alone_before, alone_after = jobs[:ALONE], jobs[ALONE : 2 * ALONE]
    burst = spread(jobs[2 * ALONE : 2 * ALONE + BURST])
    instant = jobs[2 * ALONE + BURST :]
    run = _Run(url)
    try:
        run.start_portals()
        time.sleep(STARTUP_JOBS_SECONDS)  # every job runs once when a process starts: let them finish
        before, _ = run.phase([("alone-a", alone_before)], mode="serial")
        during, took = run.phase([("burst-a", burst[::2]), ("burst-b", burst[1::2])], mode="spread")
        time.sleep(2.0)  # the burst's webhooks and emails settle
        first = len(run.phases)
        at_once, at_once_took = run.phase(
            [("instant-a", instant[::2]), ("instant-b", instant[1::2])], mode="instant"
        )
        drivers = run.phases[first:]
        after, _ = run.phase([("alone-b", alone_after)], mode="serial")
        time.sleep(2.0)  # a few more job rounds on both processes after the bursts
    finally:
        run.stop()
    errors = run.errors()
    if errors:
        errors.insert(0, f"the logs are in {run.folder}")
    else:
        shutil.rmtree(run.folder, ignore_errors=True)
    return Phases(before[1:] + after[1:], during, took, at_once, at_once_took, drivers, errors)


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    if not common.is_postgres(url):
        return (
            "== Month-end burst: skipped on SQLite (it needs two portal processes sharing one database, "
            "which the portal supports on PostgreSQL with Redis only; SQLite takes one writer at a time) ==",
            [],
        )
    if not seeded:
        seconds, _ = await seed.create(url)
        print(f"(seeded in {seconds:.1f} s)", flush=True)
    async with database(url, auto_migrate=False):
        version = await common.server_version()
        started = time.perf_counter()
        jobs = await _prepare(2 * BURST + 2 * ALONE)
        prepared = time.perf_counter() - started
    phases = await asyncio.to_thread(serve_and_drive, url, jobs)
    async with database(url, auto_migrate=False):
        wrong = await _check(jobs)
    runs = phases.alone + phases.spread + phases.instant
    failed = [f"invoice {r['invoice']}: {r['status']}" for r in runs if r["status"] != "succeeded"]
    alone = [float(r["seconds"]) for r in phases.alone]
    loaded = [float(r["seconds"]) for r in phases.spread]
    at_once = [float(r["seconds"]) for r in phases.instant]
    alone_median, p95, p95_at_once = (
        statistics.median(alone),
        common.percentile(loaded, 95),
        common.percentile(at_once, 95),
    )
    cpu = statistics.median(float(r["cpu"]) for r in phases.alone)
    floor = 0.95 * (BURST / 2) * cpu  # each driver's 100 calls share one event loop: its 95th waits for 94
    figure = common.at_most(
        f"{common.dialect_of(url)}.burst_p95_vs_alone",
        p95 / alone_median,
        TARGET,
        f"p95 Pay Now {common.ms(p95)} among {len(loaded)} within {WINDOW_SECONDS:.0f} s (median "
        f"{common.ms(statistics.median(loaded))}, slowest {common.ms(max(loaded))}; all done "
        f"{phases.spread_took:.2f} s after the start, bound {BOUND_SECONDS:.0f} s), alone "
        f"{common.ms(alone_median)} (median of {len(alone)})",
        f"not judged: {len(at_once)} at one instant: p95 {common.ms(p95_at_once)} = "
        f"{p95_at_once / alone_median:.1f} x alone, all done {phases.instant_took:.2f} s after the start; a "
        f"Pay Now alone takes {common.ms(cpu)} of its process's CPU, so {BURST // 2} at once in one process "
        f"cannot give a p95 under about {common.ms(floor)} (95 x that CPU) whatever the design: p95 / that "
        f"floor = {p95_at_once / floor:.2f}; the drivers started "
        + ", ".join(
            f"{d['late']:.2f} s late and used {d['cpu']:.2f} s of CPU in {d['wall']:.2f} s"
            for d in phases.drivers
        ),
        f"{len(jobs)} invoices, each paid by exactly one succeeded payment and one allocation of its total: "
        f"{'yes' if not wrong else 'NO'}; Pay Nows that did not succeed: {len(failed)}; error lines logged "
        f"by the portal processes and drivers: {len(phases.errors)}; set-up {prepared:.1f} s",
        *wrong[:5],
        *failed[:5],
        *phases.errors[:5],
    )
    figure.ok = figure.ok and not wrong and not failed and not phases.errors
    title = (
        f"== Month-end burst on {version} and Redis: two portal processes, {BURST} clients paying within "
        f"{WINDOW_SECONDS:.0f} s through the sandbox, {BURST} more at one instant, {2 * (ALONE - 1)} alone =="
    )
    return title, [figure]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--driver")
    parser.add_argument("--out")
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--mode", default="serial", choices=("serial", "instant", "spread"))
    known, rest = parser.parse_known_args(argv)
    if known.driver:
        return driver_main(known.driver, known.out, known.start_at, known.mode)
    return common.main(run, __doc__, rest)


if __name__ == "__main__":
    sys.exit(main())
