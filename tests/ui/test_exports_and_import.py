"""The console's exports page and the client import, as staff use them (simulated user): a wrong range
says why on its field, the CSV downloads for staff only; an uploaded file shows its problems by row, and
confirming imports the good rows once."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

from nicegui import ui
from nicegui.testing import User

from portal.core.clock import today
from portal.db.models import AuditEntry, Client, Payment
from tests.ui.conftest import sign_in

SMALL_FILE = (
    b"name,company,email,currency,language,address\n"
    b"Nora North,North Ltd,nora@import.test,EUR,fr,Oslo\n"
    b"Bad Row,,not-an-email,USD,en,\n"
    b"Otto Ost,,otto@import.test,JPY,en,\n"
)


async def _staff_on(user: User, path: str, marker: str) -> None:
    await sign_in(user, "staff@demo.test")
    await user.should_see(marker="nav-overview", retries=50)
    await user.open(path)
    await user.should_see(marker=marker, retries=50)


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


async def test_the_exports_page_checks_the_range_and_staff_download_csv(user: User) -> None:
    await _staff_on(user, "/admin/exports", "export-payments")
    await user.should_see(marker="nav-exports")
    date_from, date_to = _element(user, "export-from"), _element(user, "export-to")
    date_from.value, date_to.value = "2026-11-30", "2026-11-01"
    user.find(marker="export-payments").click()
    for _ in range(40):  # the message is the field's own error text
        if date_to.props.get("error"):
            break
        await asyncio.sleep(0.05)
    assert "The end date (2026-11-01) is before the start date (2026-11-30)" in date_to.props["error-message"]
    assert not date_from.props["error"]

    day = today()
    date_from.value, date_to.value = (day - timedelta(days=60)).isoformat(), day.isoformat()
    user.find(marker="export-payments").click()
    await user.should_see("is downloading", retries=20)
    assert not date_to.props["error"]

    query = f"from={(day - timedelta(days=60)).isoformat()}&to={day.isoformat()}"
    response = await user.http_client.get(f"/admin/exports/payments.csv?{query}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    received = await Payment.filter(
        status__in=["succeeded", "refunded", "partially_refunded"], received_on__gte=day - timedelta(days=60)
    ).count()
    assert len(rows) == received > 0
    assert all((row["currency"] and "." in row["amount"]) or row["currency"] == "JPY" for row in rows)
    assert await AuditEntry.exists(action="export.download")

    bad = await user.http_client.get("/admin/exports/payments.csv?from=2026-11-30&to=2026-11-01")
    assert bad.status_code == 400 and "before the start date" in bad.text
    unknown = await user.http_client.get("/admin/exports/passwords.csv?from=2026-11-01&to=2026-11-30")
    assert unknown.status_code == 404


async def test_a_client_cannot_open_the_exports_nor_download_one(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.open("/admin/exports")
    await user.should_see(marker="not-allowed")
    await user.should_not_see(marker="export-payments")
    response = await user.http_client.get("/admin/exports/payments.csv?from=2026-01-01&to=2026-12-31")
    assert response.status_code == 403 and "for staff" in response.text
    await user.open("/admin/clients/import")
    await user.should_see(marker="not-allowed")
    assert (await user.http_client.get("/admin/clients/import/template.csv")).status_code == 404


async def _upload(user: User, name: str, data: bytes) -> None:
    upload = _element(user, "import-file")
    assert isinstance(upload, ui.upload)
    with user:
        await upload.handle_uploads([ui.upload.SmallFileUpload(name, "text/csv", data)])


async def test_importing_shows_the_bad_row_then_imports_the_others_once(user: User) -> None:
    await _staff_on(user, "/admin/clients", "import-clients")
    user.find(marker="import-clients").click()
    await user.should_see(marker="import-file", retries=50)
    template = await user.http_client.get("/admin/clients/import/template.csv")
    assert template.status_code == 200 and template.content.decode("utf-8-sig").startswith(
        "name,company,email"
    )

    await _upload(user, "clients.csv", SMALL_FILE)

    await user.should_see("clients.csv: 3 rows, 2 ready to import, 1 with problems (skipped).", retries=20)
    problems = _element(user, "import-problems")
    assert isinstance(problems, ui.table)
    [problem] = problems.rows
    assert (problem["row"], problem["column"], problem["value"]) == (3, "Email", "not-an-email")
    assert problem["message"] == "Enter a valid email address, like name@example.com."
    rows = _element(user, "import-rows")
    assert isinstance(rows, ui.table)
    assert [(r["row"], r["result"]) for r in rows.rows] == [(2, "Ready"), (3, "Skipped"), (4, "Ready")]
    assert not await Client.exists(email="nora@import.test")  # nothing before the confirmation

    user.find(marker="import-confirm").click()
    user.find(marker="import-confirm").click()  # a double click
    await user.should_see("2 clients imported; 1 row skipped.", retries=50)
    assert await Client.filter(email="nora@import.test").count() == 1
    assert await Client.filter(email="otto@import.test").count() == 1
    assert await AuditEntry.filter(action="client.import").count() == 1
    await user.should_see(marker="import-see-clients")


async def test_a_file_without_the_header_says_what_is_missing(user: User) -> None:
    await _staff_on(user, "/admin/clients/import", "import-file")
    await _upload(user, "people.csv", b"full name,mail\nA,a@x.test\n")
    await user.should_see("Missing: name, email", retries=20)
    await user.should_not_see(marker="import-confirm")
