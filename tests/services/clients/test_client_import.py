"""Importing clients from CSV: a preview with every problem named by row and column, nothing written before
the confirmation, the valid rows imported in one go and audited, a second confirmation importing nothing."""

from __future__ import annotations

import asyncio

import pytest

from portal.clients import imports
from portal.db.models import AuditEntry, Client
from portal.domain.errors import Forbidden, InvalidInput
from tests.services.conftest import World

GOOD_AND_BAD = (
    "name,company,email,currency,language,address\n"
    "Carla Diaz,Diaz SL,carla@x.test,EUR,fr,Calle 1\n"  # row 2
    ",No Name Ltd,nobody@x.test,USD,en,\n"  # row 3: missing name
    "Dan Evil,,not-an-email,USD,en,\n"  # row 4: invalid email
    "Eve Euro,,eve@x.test,XXX,en,\n"  # row 5: unknown currency
    "Finn,,finn@x.test,USD,de,\n"  # row 6: unsupported language
    "Carla Again,,CARLA@x.test,EUR,fr,\n"  # row 7: same email as row 2
    "Alice Twin,,alice@x.test,USD,en,\n"  # row 8: already a client
    "Gina Default,,gina@x.test,,,\n"  # row 9: organization's currency and language
)


def _problems(preview: imports.ImportPreview) -> dict[int, list[tuple[str, str]]]:
    return {row.number: [(p.column, p.message) for p in row.problems] for row in preview.invalid}


async def test_the_preview_names_each_problem_by_row_and_column_and_writes_nothing(world: World) -> None:
    before = await Client.all().count()

    preview = await imports.preview_import(actor=world.staff, data=GOOD_AND_BAD.encode(), filename="c.csv")

    problems = _problems(preview)
    assert sorted(problems) == [3, 4, 5, 6, 7, 8]
    assert problems[3] == [("name", "Enter the client's name.")]
    assert problems[4] == [("email", "Enter a valid email address, like name@example.com.")]
    assert problems[5][0][0] == "currency" and "'XXX'" in problems[5][0][1]
    assert problems[6][0][0] == "language" and "'de'" in problems[6][0][1]
    assert problems[7] == [("email", "This email is also on row 2.")]
    assert problems[8] == [("email", "Alice Archer already uses this email address.")]
    assert [row.number for row in preview.valid] == [2, 9]
    carla, gina = preview.valid
    assert (carla.form.currency, carla.form.locale, carla.form.billing_address) == ("EUR", "fr", "Calle 1")
    assert (gina.form.currency, gina.form.locale) == ("USD", "en")  # the organization's defaults
    assert await Client.all().count() == before  # nothing imported yet
    assert not await AuditEntry.exists(action="client.create")


async def test_confirming_imports_the_valid_rows_audited_and_skips_the_others(world: World) -> None:
    preview = await imports.preview_import(actor=world.staff, data=GOOD_AND_BAD.encode(), filename="c.csv")

    result = await imports.confirm_import(actor=world.staff, preview=preview)

    assert (result.created, result.skipped, result.repeated) == (2, 6, False)
    carla = await Client.get(email="carla@x.test")
    assert (carla.name, carla.company, carla.currency, carla.locale) == ("Carla Diaz", "Diaz SL", "EUR", "fr")
    assert await Client.filter(email="gina@x.test").count() == 1
    assert not await Client.exists(email="nobody@x.test")
    assert await Client.filter(email="alice@x.test").count() == 1
    created = await AuditEntry.filter(action="client.create").order_by("id")
    assert [entry.on_behalf_of_id for entry in created] == list(result.client_ids)
    assert all(
        entry.details.get("via") == "import" and entry.actor_id == world.staff.user_id for entry in created
    )
    summary = await AuditEntry.get(action="client.import")
    assert summary.details["created"] == 2 and summary.details["file"] == "c.csv"


async def test_a_double_confirmation_imports_once(world: World) -> None:
    preview = await imports.preview_import(actor=world.staff, data=GOOD_AND_BAD.encode())

    first, second = await asyncio.gather(
        imports.confirm_import(actor=world.staff, preview=preview),
        imports.confirm_import(actor=world.staff, preview=preview),
    )
    third = await imports.confirm_import(actor=world.staff, preview=preview)

    assert sorted([first.repeated, second.repeated]) == [False, True]
    assert first.created == second.created == third.created == 2 and third.repeated
    assert await Client.filter(email="carla@x.test").count() == 1
    assert await AuditEntry.filter(action="client.import").count() == 1


async def test_uploading_the_same_file_again_finds_the_clients_it_made(world: World) -> None:
    data = b"name,email\nHal,hal@x.test\n"
    await imports.confirm_import(
        actor=world.staff, preview=await imports.preview_import(actor=world.staff, data=data)
    )

    again = await imports.preview_import(actor=world.staff, data=data)

    assert _problems(again) == {2: [("email", "Hal already uses this email address.")]}
    assert (await imports.confirm_import(actor=world.staff, preview=again)).created == 0
    assert await Client.filter(email="hal@x.test").count() == 1


async def test_a_client_added_between_preview_and_confirmation_is_not_duplicated(world: World) -> None:
    preview = await imports.preview_import(
        actor=world.staff, data=b"name,email\nIvy,ivy@x.test\nJo,jo@x.test\n"
    )
    await Client.create(name="Ivy (by hand)", email="ivy@x.test", currency="USD")

    result = await imports.confirm_import(actor=world.staff, preview=preview)

    assert (result.created, result.skipped) == (1, 1)
    assert await Client.filter(email="ivy@x.test").count() == 1


async def test_a_spreadsheet_in_french_with_semicolons_and_a_byte_order_mark(world: World) -> None:
    data = (
        "\ufeffNom;Société;Courriel;Devise;Langue;Adresse\n"
        "Élodie Rivière;Atelier;elodie@x.test;eur;Français;Lyon\n"
    )
    preview = await imports.preview_import(actor=world.staff, data=data.encode())
    [row] = preview.rows
    assert row.ok and (row.form.name, row.form.currency, row.form.locale) == ("Élodie Rivière", "EUR", "fr")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"name,email\n", "no client rows"),
        (b"company,currency\nAcme,USD\n", "Missing: name, email"),
        ("name,email\nZoë,z@x.test\n".encode("latin-1"), "UTF-8"),
        (b"name,email\n" + b"x,y@x.test\n" * (imports.MAX_ROWS + 1), f"at most {imports.MAX_ROWS}"),
        (b"name,email\n" + b"x" * imports.MAX_BYTES, "larger than 1 MB"),
    ],
)
async def test_a_file_that_cannot_be_read_is_refused_with_a_clear_message(
    world: World, data: bytes, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await imports.preview_import(actor=world.staff, data=data)
    assert words in caught.value.message and caught.value.field == "file"


async def test_clients_cannot_import(world: World) -> None:
    with pytest.raises(Forbidden):
        await imports.preview_import(actor=world.alice, data=b"name,email\nx,x@x.test\n")
    preview = await imports.preview_import(actor=world.staff, data=b"name,email\nx,x@x.test\n")
    with pytest.raises(Forbidden):
        await imports.confirm_import(actor=world.alice, preview=preview)
    assert not await Client.exists(email="x@x.test")


def test_the_template_has_the_columns_the_import_reads() -> None:
    assert imports.template_csv() == "\ufeffname,company,email,currency,language,address\r\n"
