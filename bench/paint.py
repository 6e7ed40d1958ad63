"""What a person waits for in a browser: My Billing's To do section painted, against the sign-in button of
/login, in headless Chromium.

    python -m bench.paint [--database-url URL] [--seeded]

A real portal server (`python main.py`, jobs off) runs on a free loopback port against the benchmark's
seeded database; two headless Chromium browsers (Debian's /usr/bin/chromium and chromedriver, driven by
selenium, with the flags of tests/e2e/conftest.py, window 1280 x 900) open it: one signed in through the
sign-in form as the client with 1,000 open invoices, one signed out.

What is measured, per navigation: a script installed before any page script
(`Page.addScriptToEvaluateOnNewDocument`) watches the DOM; on the first animation frame in which the
wanted element is in the DOM and visible (a non-empty box, `checkVisibility()` with opacity and
visibility) it waits for that frame to be rendered (a message posted from the frame's
`requestAnimationFrame` callback arrives after the frame's style, layout and paint) and records
`performance.now()`: milliseconds since the navigation started (the document's time origin). The wanted
element on /billing is the To do section's heading (an element whose own text is "To do"), on /login the
"Sign in" button. Each navigation starts from about:blank, so that leaving the previous page is not
counted.

Figure `billing_todo_painted_vs_login`: the median of /billing's times / the median of /login's, 10
alternating navigations of each after 2 warm-ups (the browser's cache holds NiceGUI's scripts after the
first). Target <= 2. `#` lines: when the server's answer had arrived (`responseEnd`) and the load event
ended (`loadEventEnd`: scripts and styles in), the DOM elements and table rows on each page when the
element was painted and 3 s later, and the HTML's size.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from bench import common, seed
from portal.db.lifecycle import database

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPETITIONS = 10
WARMUP = 2
TARGET = 2.0
SETTLE_SECONDS = 3.0
STARTUP_TIMEOUT = 60.0
PAINT_TIMEOUT = 60.0
TEST_ONLY_VARIABLES = ("PYTEST_CURRENT_TEST", "NICEGUI_USER_SIMULATION", "NICEGUI_SCREEN_TEST_PORT")
BILLING_EMAIL = "client1@bench.test"  # 1,000 open invoices, 20 subscriptions, 10 methods

# path -> XPath of the element whose painting is timed
WANTED = {
    "/billing": "//body//*[normalize-space(text())='To do']",
    "/login": "//button[normalize-space(.)='Sign in']",
}
# Runs at the start of every document, before the page's own scripts.
WATCH_SCRIPT = """
(() => {
  const xpath = (%s)[location.pathname];
  if (!xpath) return;
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 &&
      (!el.checkVisibility || el.checkVisibility({opacityProperty: true, visibilityProperty: true}));
  };
  const present = () => {
    const found = document.evaluate(xpath, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    for (let i = 0; i < found.snapshotLength; i++) if (visible(found.snapshotItem(i))) return true;
    return false;
  };
  // look when the DOM changed since the last frame, and every 6th frame anyway (a style sheet that
  // arrives can make the element visible without a DOM change)
  let dirty = true, frames = 0;
  const observer = new MutationObserver(() => { dirty = true; });
  observer.observe(document, {childList: true, subtree: true, characterData: true, attributes: true});
  const frame = () => {
    frames += 1;
    const look = dirty || frames %% 6 === 0;
    dirty = false;
    if (!(look && document.body && present())) {
      requestAnimationFrame(frame);
      return;
    }
    observer.disconnect();
    const seen = performance.now();
    const channel = new MessageChannel();  // delivered after this frame is rendered
    channel.port1.onmessage = () => {
      window.__benchPainted = {
        seen: seen,
        painted: performance.now(),
        elements: document.getElementsByTagName('*').length,
        rows: document.querySelectorAll('tr').length,
      };
    };
    channel.port2.postMessage(null);
  };
  requestAnimationFrame(frame);
})();
"""
NAVIGATION = """
const n = performance.getEntriesByType('navigation')[0];
return {responseEnd: n.responseEnd, bytes: n.decodedBodySize, load: n.loadEventEnd,
        elements: document.getElementsByTagName('*').length, rows: document.querySelectorAll('tr').length};
"""


# --- the server and the browsers --------------------------------------------------------------------


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


@contextmanager
def served(database_url: str) -> Iterator[str]:
    """main.py on a free loopback port over `database_url` (migrated and seeded), jobs off; its base URL."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
    env.update(
        DATABASE_URL=database_url,
        AUTO_MIGRATE="false",
        JOBS_ENABLED="false",
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_URL=base_url,
        STRIPE_SECRET_KEY="",
        STRIPE_WEBHOOK_SECRET="",
        PYTHONUNBUFFERED="1",
    )
    with tempfile.TemporaryDirectory(prefix="bench-paint-") as folder:
        log_path = Path(folder) / "server.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "main.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                deadline = time.monotonic() + STARTUP_TIMEOUT
                while _status(f"{base_url}/login") != 200:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the portal server did not start:\n{log_path.read_text()[-4000:]}"
                        )
                    time.sleep(0.25)
                yield base_url
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        problems = [
            line for line in log_path.read_text().splitlines() if "Traceback" in line or "ERROR" in line
        ]
        if problems:
            print("# the server logged errors:\n" + log_path.read_text()[-4000:], flush=True)


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A fresh headless Chromium (its own profile), with the paint watcher installed on every page."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        raise RuntimeError(f"bench.paint needs Chromium and chromedriver; missing: {', '.join(missing)}")
    profile = tempfile.mkdtemp(prefix="bench-paint-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(PAINT_TIMEOUT)
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_SCRIPT % json.dumps(WANTED)}
        )
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def sign_in(driver: WebDriver, base_url: str, email: str) -> None:
    """Through the sign-in form, like a person; ends on /billing."""
    wait = WebDriverWait(driver, PAINT_TIMEOUT, poll_frequency=0.1)
    driver.get(f"{base_url}/login")
    wait.until(ec.visibility_of_element_located((By.NAME, "email"))).send_keys(email)
    wait.until(ec.visibility_of_element_located((By.NAME, "password"))).send_keys(seed.PASSWORD)
    wait.until(ec.element_to_be_clickable((By.XPATH, WANTED["/login"]))).click()
    wait.until(lambda d: d.current_url.split("?")[0].endswith("/billing"))


# --- measuring --------------------------------------------------------------------------------------


@dataclass
class Page:
    """One page in one browser, and what each navigation to it measured."""

    driver: WebDriver
    url: str
    painted: list[float] = field(default_factory=list)  # ms since navigation start
    answered: list[float] = field(default_factory=list)  # responseEnd, ms
    loaded: list[float] = field(default_factory=list)  # loadEventEnd (scripts and styles in), ms
    last: dict[str, Any] = field(default_factory=dict)

    def open(self) -> None:
        """Navigate from about:blank and wait for the watched element to be painted."""
        self.driver.get("about:blank")
        self.driver.get(self.url)
        deadline = time.monotonic() + PAINT_TIMEOUT
        while (mark := self.driver.execute_script("return window.__benchPainted || null")) is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.url}: the watched element was not painted in {PAINT_TIMEOUT:.0f} s"
                )
            time.sleep(0.02)
        navigation = self.driver.execute_script(NAVIGATION)
        self.painted.append(float(mark["painted"]))
        self.answered.append(float(navigation["responseEnd"]))
        self.loaded.append(float(navigation["load"]))
        self.last = {"mark": mark, "navigation": navigation}

    def settled(self) -> dict[str, Any]:
        """The DOM SETTLE_SECONDS after the last navigation's paint (sections loaded after it included)."""
        time.sleep(SETTLE_SECONDS)
        return dict(self.driver.execute_script(NAVIGATION))

    def describe(self, path: str) -> str:
        mark, settled = self.last["mark"], self.settled()
        return (
            f"{path}: painted after {statistics.median(self.painted) / 1e3:.2f} s, the server's answer had "
            f"arrived after {statistics.median(self.answered) / 1e3:.2f} s, the load event ended after "
            f"{statistics.median(self.loaded) / 1e3:.2f} s (medians); "
            f"{settled['bytes'] / 1024:.0f} KiB of HTML; DOM elements {mark['elements']:,} when painted, "
            f"{settled['elements']:,} {SETTLE_SECONDS:.0f} s later; "
            f"table rows {mark['rows']:,} / {settled['rows']:,}"
        )


def measure(billing: Page, login: Page) -> None:
    """WARMUP navigations of each, then REPETITIONS alternating (billing-login, login-billing, ...)."""
    for _ in range(WARMUP):
        billing.open()
        login.open()
    for page in (billing, login):
        page.painted.clear()
        page.answered.clear()
        page.loaded.clear()
    for n in range(REPETITIONS):
        for page in (billing, login) if n % 2 == 0 else (login, billing):
            page.open()


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    if not seeded:
        seconds, _ = await seed.create(url)
        print(f"(seeded in {seconds:.1f} s)", flush=True)
    async with database(url, auto_migrate=False):
        version = await common.server_version()
    started = time.perf_counter()
    with ExitStack() as stack:
        base_url = stack.enter_context(served(url))
        signed_in, signed_out = stack.enter_context(chromium()), stack.enter_context(chromium())
        sign_in(signed_in, base_url, BILLING_EMAIL)
        billing, login = Page(signed_in, f"{base_url}/billing"), Page(signed_out, f"{base_url}/login")
        measure(billing, login)
        painted, other = statistics.median(billing.painted), statistics.median(login.painted)
        details = [billing.describe("/billing (1,000 open invoices)"), login.describe("/login")]
    title = f"== Headless Chromium on {version}: My Billing's To do painted, 1,000 open invoices =="
    figure = common.at_most(
        f"{common.dialect_of(url)}.billing_todo_painted_vs_login",
        painted / other,
        TARGET,
        f"To do painted after {painted / 1e3:.2f} s, Sign in after {other / 1e3:.2f} s "
        f"(medians of {REPETITIONS} alternating navigations after {WARMUP} warm-ups)",
        *details,
        f"measured in {time.perf_counter() - started:.1f} s",
    )
    return title, [figure]


if __name__ == "__main__":
    sys.exit(common.main(run, __doc__))
