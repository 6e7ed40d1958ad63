"""Impersonation at the service level: who may start it, the reason, the actor it yields, stopping,
expiry, the audit trail with both identities, and the client's access history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.accounts import impersonation, sessions
from portal.clients import history
from portal.core.actors import Actor
from portal.core.clock import now_utc
from portal.db.models import AuditEntry, Client, ImpersonationSession
from portal.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.domain.status import Role
from portal.payments import credit_payments, ledger
from tests.services.conftest import World, add_user
from tests.services.payment_fixtures import invoice_for


async def _impersonating(world: World, client_id: int | None = None, reason: str = "Ticket 42") -> Actor:
    """Start a view as Alice (or another client) and load the actor a browser holding it would get."""
    view = await impersonation.start(actor=world.admin, client_id=client_id or world.alice_id, reason=reason)
    actor = await sessions.load_actor(user_id=world.admin.user_id, impersonation_id=view.id)
    assert actor is not None
    return actor


async def _entries(action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(action=action).order_by("id")


async def test_an_admin_starts_a_view_with_a_reason_for_the_configured_time(world: World) -> None:
    before = now_utc()
    view = await impersonation.start(actor=world.admin, client_id=world.alice_id, reason="  Ticket   42 ")

    row = await ImpersonationSession.get(id=view.id)
    assert (row.admin_id, row.client_id, row.reason, row.ended_at) == (
        world.admin.user_id,
        world.alice_id,
        "Ticket 42",
        None,
    )
    assert timedelta(minutes=29) < row.expires_at - before <= timedelta(minutes=30, seconds=5)
    assert view.active and view.client_name == "Alice Archer"
    [entry] = await _entries("impersonation.start")
    assert (entry.actor_id, entry.on_behalf_of_id) == (world.admin.user_id, world.alice_id)
    assert entry.details["reason"] == "Ticket 42"
    assert entry.details["impersonation_id"] == view.id


async def test_the_time_limit_comes_from_the_settings(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPERSONATION_MINUTES", "5")
    view = await impersonation.start(actor=world.admin, client_id=world.alice_id, reason="Quick look")
    assert timedelta(minutes=4) < view.expires_at - now_utc() <= timedelta(minutes=5)


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
async def test_a_reason_is_required_and_nothing_starts_without_one(world: World, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await impersonation.start(actor=world.admin, client_id=world.alice_id, reason=reason)
    assert caught.value.field == "reason"
    assert "Say why you need to view the portal as this client" in caught.value.message
    assert await ImpersonationSession.all().count() == 0
    assert await AuditEntry.all().count() == 0


async def test_a_reason_that_is_too_long_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        await impersonation.start(actor=world.admin, client_id=world.alice_id, reason="x" * 501)
    assert caught.value.field == "reason" and "500" in caught.value.message
    assert await ImpersonationSession.all().count() == 0


async def test_only_admins_may_start_a_view(world: World) -> None:
    for who in (world.staff, world.alice, world.bob):
        with pytest.raises(Forbidden):
            await impersonation.start(actor=who, client_id=world.alice_id, reason="Curious")
    # an admin already viewing as a client cannot start another view from inside it
    inside = await _impersonating(world)
    with pytest.raises(Forbidden):
        await impersonation.start(actor=inside, client_id=world.bob_id, reason="Nested")
    assert await ImpersonationSession.all().count() == 1


async def test_an_unknown_client_is_not_found_and_nothing_starts(world: World) -> None:
    with pytest.raises(NotFound):
        await impersonation.start(actor=world.admin, client_id=999_999, reason="Ticket 1")
    assert await ImpersonationSession.all().count() == 0


async def test_the_actor_of_a_view_is_the_client_and_none_of_the_admins_rights(world: World) -> None:
    actor = await _impersonating(world)

    assert actor.role == Role.client and actor.client_id == world.alice_id
    assert not actor.is_staff and not actor.is_admin and actor.is_impersonating
    assert actor.impersonator_id == world.admin.user_id
    assert actor.user_id == world.alice.user_id  # the client's own account, never the admin's
    assert actor.name == "Alice Archer"  # the banner says who is being viewed
    # console services refuse it, and other clients' records do not exist for it
    with pytest.raises(Forbidden):
        await ledger.record_offline_payment(
            actor=actor,
            client_id=world.alice_id,
            amount_minor=100,
            currency="USD",
            method="cash",
            received_on=now_utc().date(),
        )
    with pytest.raises(NotFound):
        await ledger.credit_balances(actor=actor, client_id=world.bob_id)


async def test_a_client_without_a_sign_in_account_can_be_viewed_without_borrowing_the_admins_id(
    world: World,
) -> None:
    walk_in = await Client.create(name="Walk-in Wanda", email="wanda@x.test", currency="USD")
    actor = await _impersonating(world, client_id=walk_in.id)

    assert actor.client_id == walk_in.id and actor.name == "Walk-in Wanda"
    assert actor.user_id != world.admin.user_id
    assert actor.user_id == 0  # no account: nothing keyed on the user id reaches anybody's account
    assert not actor.is_staff
    assert await ledger.credit_balances(actor=actor, client_id=walk_in.id) == {}


async def test_a_view_is_only_honoured_for_the_admin_who_started_it(world: World) -> None:
    view = await impersonation.start(actor=world.admin, client_id=world.alice_id, reason="Ticket 7")
    other_admin = await add_user("admin2@x.test", Role.admin)
    for user_id in (world.staff.user_id, other_admin, world.bob.user_id):
        actor = await sessions.load_actor(user_id=user_id, impersonation_id=view.id)
        assert actor is not None and not actor.is_impersonating and actor.client_id != world.alice_id


async def test_actions_taken_during_a_view_are_audited_with_the_admin_and_the_client(world: World) -> None:
    invoice_id = await invoice_for(world, 5000)
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=1000, currency="USD", note="Goodwill"
    )
    actor = await _impersonating(world)

    used = await credit_payments.pay_from_credit(actor=actor, invoice_id=invoice_id)

    assert used == 1000
    [entry] = await _entries("credit.apply")
    assert entry.actor_id == world.admin.user_id  # who really did it
    assert entry.on_behalf_of_id == world.alice_id  # for whom
    assert entry.details["impersonation_id"] == actor.impersonation_id


async def test_stopping_ends_the_view_once_and_is_audited(world: World) -> None:
    actor = await _impersonating(world)

    view = await impersonation.stop(actor=actor)

    assert view.ended_at is not None and not view.active
    row = await ImpersonationSession.get(id=actor.impersonation_id)
    assert row.ended_at is not None
    [entry] = await _entries("impersonation.stop")
    assert (entry.actor_id, entry.on_behalf_of_id) == (world.admin.user_id, world.alice_id)
    assert entry.details == {"reason": "Ticket 42", "impersonation_id": actor.impersonation_id}
    # the browser's next page load gets the admin back
    again = await sessions.load_actor(user_id=world.admin.user_id, impersonation_id=actor.impersonation_id)
    assert again is not None and again.is_admin and not again.is_impersonating
    # stopping twice changes nothing
    await impersonation.stop(actor=actor)
    assert len(await _entries("impersonation.stop")) == 1
    assert (await ImpersonationSession.get(id=actor.impersonation_id)).ended_at == row.ended_at


async def test_only_someone_viewing_as_a_client_can_stop(world: World) -> None:
    for who in (world.admin, world.staff, world.alice):
        with pytest.raises(Forbidden):
            await impersonation.stop(actor=who)
        with pytest.raises(Forbidden):
            await impersonation.current(actor=who)


async def test_a_view_ends_by_itself_and_the_expiry_is_recorded_once(world: World) -> None:
    actor = await _impersonating(world)
    assert (await impersonation.current(actor=actor)) is not None
    with pytest.raises(Conflict):  # still running: it is stopped, not closed as lapsed
        await impersonation.end_lapsed(actor=world.admin, impersonation_id=actor.impersonation_id)
    limit = now_utc() - timedelta(minutes=1)
    await ImpersonationSession.filter(id=actor.impersonation_id).update(expires_at=limit)

    assert await impersonation.current(actor=actor) is None
    back = await sessions.load_actor(user_id=world.admin.user_id, impersonation_id=actor.impersonation_id)
    assert back is not None and back.is_admin and not back.is_impersonating

    view = await impersonation.end_lapsed(actor=back, impersonation_id=actor.impersonation_id)
    await impersonation.end_lapsed(actor=back, impersonation_id=actor.impersonation_id)

    row = await ImpersonationSession.get(id=actor.impersonation_id)
    assert row.ended_at is not None and abs(row.ended_at - limit) < timedelta(seconds=1)
    assert view.client_name == "Alice Archer"
    [entry] = await _entries("impersonation.expired")
    assert (entry.actor_id, entry.on_behalf_of_id) == (world.admin.user_id, world.alice_id)
    assert entry.details["reason"] == "Ticket 42" and entry.details["minutes"] == 30


async def test_stopping_a_view_that_already_ran_out_records_the_expiry(world: World) -> None:
    actor = await _impersonating(world)  # a page loaded before the limit, Stop clicked after it
    await ImpersonationSession.filter(id=actor.impersonation_id).update(
        expires_at=now_utc() - timedelta(seconds=5)
    )
    await impersonation.stop(actor=actor)
    assert await _entries("impersonation.stop") == []
    [entry] = await _entries("impersonation.expired")
    assert entry.actor_id == world.admin.user_id and entry.on_behalf_of_id == world.alice_id


async def test_closing_a_lapsed_view_is_for_its_own_admin_only(world: World) -> None:
    actor = await _impersonating(world)
    await ImpersonationSession.filter(id=actor.impersonation_id).update(
        expires_at=now_utc() - timedelta(minutes=1)
    )
    for who in (world.alice, world.bob):
        with pytest.raises(Forbidden):
            await impersonation.end_lapsed(actor=who, impersonation_id=actor.impersonation_id)
    with pytest.raises(NotFound):  # staff may close their own, not somebody else's
        await impersonation.end_lapsed(actor=world.staff, impersonation_id=actor.impersonation_id)
    assert (await ImpersonationSession.get(id=actor.impersonation_id)).ended_at is None
    assert await _entries("impersonation.expired") == []


async def test_a_new_view_ends_the_admins_previous_one(world: World) -> None:
    first = await _impersonating(world)
    second = await impersonation.start(actor=world.admin, client_id=world.bob_id, reason="Ticket 43")

    assert (await ImpersonationSession.get(id=first.impersonation_id)).ended_at is not None
    assert await impersonation.current(actor=first) is None
    stale = await sessions.load_actor(user_id=world.admin.user_id, impersonation_id=first.impersonation_id)
    assert stale is not None and not stale.is_impersonating
    assert second.active
    [stop] = await _entries("impersonation.stop")
    assert stop.on_behalf_of_id == world.alice_id and stop.details["replaced"] is True


async def test_the_client_sees_the_view_in_its_access_history(world: World) -> None:
    from portal.db.models import User

    await User.filter(id=world.admin.user_id).update(full_name="Alex Admin")
    actor = await _impersonating(world, reason="Ticket 42: missing invoice")
    await impersonation.stop(actor=actor)

    data = await history.get_history(actor=world.alice, client_id=world.alice_id)

    [entry] = data.access.items
    assert entry.admin_name == "Alex Admin"
    assert entry.reason == "Ticket 42: missing invoice"
    assert entry.ended_at is not None and entry.started_at <= entry.ended_at
    assert "automatically" not in entry.ended
    # Bob's history does not list Alice's view
    assert (await history.get_history(actor=world.bob, client_id=world.bob_id)).access.items == []


async def test_a_lapsed_view_reads_as_ended_automatically_in_the_history(world: World) -> None:
    actor = await _impersonating(world)
    await ImpersonationSession.filter(id=actor.impersonation_id).update(
        expires_at=now_utc() - timedelta(minutes=1)
    )
    await impersonation.end_lapsed(actor=world.admin, impersonation_id=actor.impersonation_id)

    [entry] = (await history.get_history(actor=world.alice, client_id=world.alice_id)).access.items
    assert entry.ended.startswith("Ended automatically on ")


async def test_the_job_closes_a_view_nobody_came_back_to_once(world: World) -> None:
    running = await _impersonating(world)
    lapsed = await _impersonating(world, world.bob_id, reason="Ticket 7")  # ends the first view
    assert (await ImpersonationSession.get(id=running.impersonation_id)).ended_at is not None
    assert await impersonation.close_lapsed_sessions() == 0  # the second one still has its 30 minutes
    await ImpersonationSession.filter(id=lapsed.impersonation_id).update(
        expires_at=now_utc() - timedelta(seconds=1)
    )

    assert await impersonation.close_lapsed_sessions() == 1
    assert await impersonation.close_lapsed_sessions() == 0
    [entry] = await _entries("impersonation.expired")
    assert (entry.actor_id, entry.on_behalf_of_id) == (world.admin.user_id, world.bob_id)
    assert entry.details["reason"] == "Ticket 7"
