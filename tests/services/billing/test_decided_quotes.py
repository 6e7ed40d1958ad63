"""Decided estimates and proposals: the client's History lists them (approved, declined, expired, converted)
with the decision, its day and the comment, newest first and capped; the console's list says the same;
and the quote PDF states the decision, in the client's language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.billing import documents, pdf, quote_editor, quotes
from portal.clients import history
from portal.core.clock import today
from portal.db.models import Client, Quote
from portal.domain.errors import NotFound
from portal.domain.status import QuoteStatus
from tests.services.billing.test_documents import _quote, pdf_text
from tests.services.conftest import World


async def _decided(world: World) -> dict[str, int]:
    ids = {name: await _quote(world) for name in ("open", "approved", "declined", "expired", "draft")}
    await quotes.decide(actor=world.alice, quote_id=ids["approved"], approve=True)
    await quotes.decide(actor=world.alice, quote_id=ids["declined"], approve=False, comment="Too expensive")
    await Quote.filter(id=ids["expired"]).update(valid_until=today() - timedelta(days=3))
    await Quote.filter(id=ids["draft"]).update(status=QuoteStatus.draft)
    for n, name in enumerate(("open", "approved", "declined", "expired", "draft")):
        await Quote.filter(id=ids[name]).update(
            number=f"EST-{n}", issue_date=today() - timedelta(days=10 - n)
        )
    return ids


async def test_history_lists_decided_quotes_with_decision_day_and_comment(world: World) -> None:
    ids = await _decided(world)
    data = await history.get_history(actor=world.alice, client_id=world.alice_id)
    listed = {q.id: q for q in data.quotes.items}
    assert set(listed) == {ids["approved"], ids["declined"], ids["expired"]}  # not the open one, nor a draft
    assert [q.id for q in data.quotes.items] == [
        ids["expired"],
        ids["declined"],
        ids["approved"],
    ]  # newest first
    declined = listed[ids["declined"]]
    assert (declined.status, declined.decided_on, declined.comment) == ("declined", today(), "Too expensive")
    assert declined.label == "Estimate EST-2"
    assert listed[ids["approved"]].status == "approved" and listed[ids["approved"]].comment == ""
    expired = listed[ids["expired"]]
    assert (expired.status, expired.decided_on) == ("expired", today() - timedelta(days=3))
    # Bob's history has none of Alice's, and Bob cannot read Alice's
    assert (await history.get_history(actor=world.bob, client_id=world.bob_id)).quotes.items == []
    with pytest.raises(NotFound):
        await history.get_history(actor=world.bob, client_id=world.alice_id)


async def test_history_keeps_to_the_latest_quotes_and_says_how_many_there_are(world: World) -> None:
    for _ in range(5):
        quote_id = await _quote(world)
        await quotes.decide(actor=world.alice, quote_id=quote_id, approve=False)
    data = await history.get_history(actor=world.alice, client_id=world.alice_id, limit=3)
    assert len(data.quotes.items) == 3 and data.quotes.total == 5 and data.quotes.truncated


async def test_converted_quotes_stay_listed_as_approved_ones(world: World) -> None:
    quote_id = await _quote(world)
    await quotes.decide(actor=world.alice, quote_id=quote_id, approve=True, comment="Go ahead")
    await quote_editor.convert_quote(actor=world.staff, quote_id=quote_id)
    (item,) = (await history.get_history(actor=world.alice, client_id=world.alice_id)).quotes.items
    assert (item.status, item.comment, item.decided_on) == ("converted", "Go ahead", today())


async def test_the_console_list_has_the_decision_day_and_comment(world: World) -> None:
    ids = await _decided(world)
    page = await quote_editor.list_quotes(actor=world.staff, client_id=world.alice_id)
    rows = {r.id: r for r in page.rows}
    assert (rows[ids["declined"]].status, rows[ids["declined"]].decision_comment) == (
        "declined",
        "Too expensive",
    )
    assert rows[ids["declined"]].decided_on == today()
    assert (rows[ids["expired"]].status, rows[ids["expired"]].decided_on) == (
        "expired",
        today() - timedelta(days=3),
    )
    assert rows[ids["open"]].decided_on is None


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_the_pdf_of_a_declined_estimate_states_the_decision(world: World, locale: str) -> None:
    await Client.filter(id=world.alice_id).update(locale=locale)
    quote_id = await _quote(world)
    await quotes.decide(actor=world.alice, quote_id=quote_id, approve=False, comment="Too expensive")
    doc = await quote_editor.quote_document(actor=world.alice, quote_id=quote_id)
    text = pdf_text(
        pdf.quote_pdf(
            doc.view, organization=doc.organization, client=doc.client, locale=doc.locale, compress=False
        )
    )
    words = {
        "en": ("Declined", "Decided", "Client's comment"),
        "fr": ("Refusé", "Date de la décision", "Commentaire du client"),
    }[locale]
    for word in words:
        assert word in text, (word, text)
    assert "Too expensive" in text


async def test_the_pdf_of_an_expired_estimate_says_expired(world: World) -> None:
    quote_id = await _quote(world)
    await Quote.filter(id=quote_id).update(valid_until=today() - timedelta(days=1))
    view = await quotes.get_quote(actor=world.alice, quote_id=quote_id)
    assert view.display_status == "expired" and view.decision_date == today() - timedelta(days=1)
    text = pdf_text(
        pdf.quote_pdf(
            view, organization=await documents.letterhead(), client=documents.Party(name="A"), compress=False
        )
    )
    assert "Expired" in text and "Sent" not in text
