"""In a real Chromium, in English and in French: staff open Exports from the console's navigation, pick a
range and download the payments CSV (a real file in the download folder, decimal amounts with their
currency), then import a small CSV of clients with one bad row, see the error on that row, confirm, and
find the new clients in the list."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from portal.i18n import ntranslate, translate
from tests.e2e.conftest import ServedPortal, chromium, served_portal
from tests.e2e.test_login_e2e import DEMO_PASSWORD, _click, _connected, _sign_in, _visible, _wait

STAFF_EMAIL = "staff@demo.test"
SMALL_FILE = (
    "name,company,email,currency,language,address\n"
    "Nora North,North Ltd,nora@import.test,EUR,fr,Oslo\n"
    "Bad Row,,not-an-email,USD,en,\n"
    "Otto Ost,,otto@import.test,JPY,en,\n"
)


@pytest.fixture(scope="module", params=["en", "fr"])
def portal(request: pytest.FixtureRequest) -> Iterator[tuple[ServedPortal, str]]:
    """A demo portal whose people all speak `language`."""
    language = request.param
    with served_portal(
        f"portal-exports-{language}-", prepare=["-m", "tests.e2e.exports_import_seed", language]
    ) as served:
        yield served, language


@pytest.fixture(scope="module")
def staff(portal: tuple[ServedPortal, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """The demo staff member, signed in, downloading into a folder of the test's own."""
    served, _language = portal
    with chromium() as driver:
        folder = tmp_path_factory.mktemp("downloads")
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
        )
        driver.download_folder = folder  # type: ignore[attr-defined]
        _sign_in(driver, served.url, STAFF_EMAIL, DEMO_PASSWORD)
        _wait(driver).until(lambda d: "/admin" in d.current_url)
        yield driver


def _tr(language: str) -> Callable[..., str]:
    return lambda text, **values: translate(text, language, **values)


def _quoted(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in text.split("'")) + ")"


def _see(driver: WebDriver, xpath: str) -> None:
    _wait(driver).until(lambda d: _visible(d, xpath))


def _button(text: str) -> str:
    return f"//button[.//*[normalize-space(text())={_quoted(text)}]]"


def _containing(text: str) -> str:
    return f"//*[contains(normalize-space(text()), {_quoted(text)})]"


def _field(label: str) -> str:
    caption = f"contains(@class, 'q-field__label') and normalize-space(text())={_quoted(label)}"
    return f"//label[.//*[{caption}]]//input"


def _type_date(driver: WebDriver, label: str, value: str) -> None:
    field = _wait(driver).until(lambda d: _visible(d, _field(label)))[0]
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(value)
    field.send_keys(Keys.TAB)


def _downloaded(folder: Path, prefix: str) -> Path:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(f"{prefix}*.csv") if not p.name.endswith(".crdownload")]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {prefix}*.csv arrived in {folder}: {list(folder.iterdir())}")


def test_staff_download_the_payments_csv(portal: tuple[ServedPortal, str], staff: WebDriver) -> None:
    served, language = portal
    t = _tr(language)
    staff.get(f"{served.url}/admin")
    nav = _wait(staff).until(lambda d: _visible(d, "//a[@href='/admin/exports']"))[0]  # the console's menu
    assert nav.text.splitlines()[-1].strip() == t("Exports")  # after the icon
    _click(staff, "//a[@href='/admin/exports']")
    _wait(staff).until(lambda d: d.current_url.endswith("/admin/exports"))
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=120)).isoformat()
    _type_date(staff, t("From"), today.isoformat())
    _type_date(staff, t("To"), start)
    _click(staff, _button(t("Download payments")))
    wrong = t(
        "The end date ({end}) is before the start date ({start}); choose an end on or after the start.",
        end=start,
        start=today.isoformat(),
    )
    _see(staff, _containing(wrong.split(";")[0].strip()))

    _type_date(staff, t("From"), start)
    _type_date(staff, t("To"), today.isoformat())
    _click(staff, _button(t("Download payments")))

    path = _downloaded(staff.download_folder, "payments-")  # type: ignore[attr-defined]
    assert path.name == f"payments-{start}-to-{today.isoformat()}.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    assert rows, "the demo's payments of the last 120 days are in the file"
    for row in rows:
        assert row["currency"] in ("USD", "EUR", "JPY")
        decimals = {"JPY": 0}.get(row["currency"], 2)
        whole, _dot, fraction = row["amount"].partition(".")
        assert whole.lstrip("-").isdigit() and len(fraction) == decimals, row


def test_staff_import_a_small_file_with_one_bad_row(
    portal: tuple[ServedPortal, str], staff: WebDriver, tmp_path: Path
) -> None:
    served, language = portal
    t = _tr(language)
    staff.get(f"{served.url}/admin/clients")
    _click(staff, _button(t("Import clients")))
    _wait(staff).until(lambda d: d.current_url.endswith("/admin/clients/import"))
    _connected(staff)
    upload = tmp_path / "clients.csv"
    upload.write_text(SMALL_FILE, encoding="utf-8")
    file_input = _wait(staff).until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=file]"))[0]
    file_input.send_keys(str(upload))

    _see(staff, _containing(t("Rows with problems")))
    bad_row = (
        "//tr[td[normalize-space(.)='3'] and td[normalize-space(.)='not-an-email'] and "
        f"td[normalize-space(.)={_quoted(t('Enter a valid email address, like name@example.com.'))}]]"
    )
    _see(staff, bad_row)
    _click(staff, _button(ntranslate("Import {count} client", "Import {count} clients", 2, language)))
    done = ntranslate("{count} client imported", "{count} clients imported", 2, language)
    _see(staff, _containing(done))

    _click(staff, f"//a[normalize-space(.)={_quoted(t('See the clients'))}]")
    _wait(staff).until(lambda d: d.current_url.endswith("/admin/clients"))
    _see(staff, "//a[normalize-space(text())='Nora North']")
    _see(staff, "//a[normalize-space(text())='Otto Ost']")
    assert not _visible(staff, "//a[normalize-space(text())='Bad Row']")
