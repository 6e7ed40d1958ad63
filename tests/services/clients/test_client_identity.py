"""A client's legal identity: postcode, city, country, business numbers checked by format and check digits,
and the optional VIES check, which informs and never blocks a save (a stand-in for VIES on loopback: the
EU's service is outside the machine)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.clients import client_record, profiles
from portal.clients.profiles import ClientForm
from portal.db.models import AuditEntry, Client, Organization
from portal.domain.errors import InvalidFields
from tests.services.conftest import World

BUSINESS = ClientForm(
    name="Société Exemple",
    company="Exemple SAS",
    email="compta@exemple.test",
    currency="EUR",
    locale="fr",
    billing_address="12 rue de la Paix",
    postcode="75002",
    city="Paris",
    country="fr",
    is_business=True,
    company_id="732 829 320",
    vat_number="fr 40 303 265 045",
)


class Vies:
    """What the stand-in answers and what it was asked."""

    def __init__(self) -> None:
        self.answer: dict = {"valid": True}
        self.asked: list[dict] = []
        self.url = ""


@pytest.fixture
def vies(monkeypatch: pytest.MonkeyPatch) -> Iterator[Vies]:
    state = Vies()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            state.asked.append(json.loads(self.rfile.read(length)))
            body = json.dumps(state.answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/check-vat-number"
    monkeypatch.setenv("VIES_URL", state.url)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


async def _vies_on() -> None:
    org = await Organization.first()
    if org is None:
        org = await Organization.create()
    org.vies_check_enabled = True
    await org.save()


async def test_a_business_client_is_saved_with_its_numbers_in_compact_form(world: World) -> None:
    client_id = await profiles.create_client(actor=world.staff, form=BUSINESS)
    client = await Client.get(id=client_id)
    assert (client.postcode, client.city, client.country) == ("75002", "Paris", "FR")
    assert client.is_business and client.company_id == "732829320"
    assert client.vat_number == "FR40303265045"
    assert client.vat_check == "" and client.vat_checked_at is None  # VIES is off by default
    header = (await client_record.get_client_record(actor=world.staff, client_id=client_id)).header
    assert header.vat_number == "FR40303265045" and header.company_id == "732829320"


async def test_every_wrong_identity_field_is_named_and_nothing_is_saved(world: World) -> None:
    wrong = replace(
        BUSINESS,
        postcode="1" * 21,
        country="XX",
        company_id="732829321",
        vat_number="FR40303265046",
    )
    before = await Client.all().count()
    with pytest.raises(InvalidFields) as raised:
        await profiles.create_client(actor=world.staff, form=wrong)
    assert set(raised.value.errors) == {"postcode", "country", "vat_number"}
    assert "check digits" in raised.value.errors["vat_number"]
    assert await Client.all().count() == before
    # a French register number is checked once the country is France
    with pytest.raises(InvalidFields) as raised:
        await profiles.create_client(actor=world.staff, form=replace(BUSINESS, company_id="732829321"))
    assert set(raised.value.errors) == {"company_id"}


async def test_a_person_has_no_vat_number(world: World) -> None:
    with pytest.raises(InvalidFields) as raised:
        await profiles.create_client(actor=world.staff, form=replace(BUSINESS, is_business=False))
    assert "belongs to a business" in raised.value.errors["vat_number"]


async def test_vies_is_asked_about_a_new_number_when_the_organization_wants_it(
    world: World, vies: Vies
) -> None:
    client_id = await profiles.create_client(actor=world.staff, form=BUSINESS)
    assert vies.asked == []  # off: not asked
    await _vies_on()
    form = await profiles.get_client_form(actor=world.staff, client_id=client_id)
    saved = await profiles.update_client(
        actor=world.staff, client_id=client_id, form=replace(form, vat_number="DE136695976")
    )
    assert vies.asked == [{"countryCode": "DE", "vatNumber": "136695976"}]
    assert saved.vat_check == "valid" and saved.vat_checked_at is not None
    # saving again without changing the number does not ask again, and keeps the answer
    saved = await profiles.update_client(
        actor=world.staff, client_id=client_id, form=replace(saved, city="Lyon")
    )
    assert len(vies.asked) == 1 and saved.vat_check == "valid" and saved.city == "Lyon"
    changes = await AuditEntry.filter(action="client.update").order_by("id").values_list("details", flat=True)
    assert "vat_number" in changes[0]["changed"] and changes[1]["changed"] == ["city"]


async def test_a_number_vies_does_not_know_is_saved_marked_not_registered(world: World, vies: Vies) -> None:
    await _vies_on()
    vies.answer = {"valid": False, "userError": "INVALID"}
    client_id = await profiles.create_client(actor=world.staff, form=BUSINESS)
    assert (await Client.get(id=client_id)).vat_check == "invalid"


@pytest.mark.parametrize(
    "answer", [{"valid": False, "userError": "MS_UNAVAILABLE"}, {"unexpected": 1}, ["not", "an", "object"]]
)
async def test_no_answer_from_vies_is_could_not_be_checked(world: World, vies: Vies, answer: object) -> None:
    await _vies_on()
    vies.answer = answer  # type: ignore[assignment]
    client_id = await profiles.create_client(actor=world.staff, form=BUSINESS)
    assert (await Client.get(id=client_id)).vat_check == "unchecked"


async def test_without_network_the_client_is_saved_as_could_not_be_checked(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("VIES_URL", f"http://127.0.0.1:{port}/check-vat-number")
    await _vies_on()
    client_id = await profiles.create_client(actor=world.staff, form=BUSINESS)
    client = await Client.get(id=client_id)
    assert client.vat_number == "FR40303265045" and client.vat_check == "unchecked"


async def test_uk_numbers_are_not_sent_to_vies(world: World, vies: Vies) -> None:
    await _vies_on()
    client_id = await profiles.create_client(
        actor=world.staff, form=replace(BUSINESS, country="GB", company_id="", vat_number="GB980780684")
    )
    assert vies.asked == [] and (await Client.get(id=client_id)).vat_check == "unchecked"
