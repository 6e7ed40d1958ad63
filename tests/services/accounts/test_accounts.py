"""Sign-in, lockout, one-time session tokens, actors."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from portal.accounts import sessions
from portal.db.models import LoginAttempt, OneTimeToken, User
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.status import Role
from tests.services.conftest import World

PASSWORD = "correct horse battery"


async def test_sign_in_returns_the_client_actor(world: World) -> None:
    actor = await sessions.authenticate(email="  ALICE@x.test ", password=PASSWORD, ip="10.0.0.1")
    assert actor.role == Role.client
    assert actor.client_id == world.alice_id
    assert (await User.get(email="alice@x.test")).last_login_at is not None


async def test_wrong_password_and_unknown_email_get_the_same_message(world: World) -> None:
    with pytest.raises(InvalidInput) as wrong:
        await sessions.authenticate(email="alice@x.test", password="nope nope nope")
    with pytest.raises(InvalidInput) as unknown:
        await sessions.authenticate(email="nobody@x.test", password="nope nope nope")
    assert wrong.value.message == unknown.value.message == "Wrong email or password."


async def test_unknown_email_costs_as_much_as_a_wrong_password(world: World) -> None:
    await sessions.authenticate(email="alice@x.test", password=PASSWORD)  # warm up
    await sessions.authenticate(email="bob@x.test", password=PASSWORD)

    async def timed(email: str) -> float:
        start = time.perf_counter()
        with pytest.raises(InvalidInput):
            await sessions.authenticate(email=email, password="wrong password!")
        return time.perf_counter() - start

    wrong = sorted([await timed("alice@x.test") for _ in range(3)])[1]
    unknown = sorted([await timed(f"ghost{i}@x.test") for i in range(3)])[1]
    # without a dummy hash an unknown email answers in ~1 ms against ~50 ms for argon2
    assert unknown > wrong * 0.5, (unknown, wrong)


async def test_five_failures_lock_the_account_with_a_retry_time(world: World) -> None:
    for _ in range(5):
        with pytest.raises(InvalidInput):
            await sessions.authenticate(email="alice@x.test", password="wrong password!")
    with pytest.raises(Conflict) as locked:
        await sessions.authenticate(email="alice@x.test", password=PASSWORD)
    assert "Try again after" in locked.value.message
    assert "UTC (in 15 minutes)" in locked.value.message
    # other accounts are not affected
    assert (await sessions.authenticate(email="bob@x.test", password=PASSWORD)).client_id == world.bob_id


async def test_lockout_ends_after_the_window(world: World) -> None:
    for _ in range(5):
        with pytest.raises(InvalidInput):
            await sessions.authenticate(email="alice@x.test", password="wrong password!")
    old = sessions.now_utc() - timedelta(minutes=16)
    await LoginAttempt.filter(email="alice@x.test").update(at=old)
    assert (await sessions.authenticate(email="alice@x.test", password=PASSWORD)).client_id == world.alice_id


async def test_a_success_resets_the_failure_count(world: World) -> None:
    for _ in range(4):
        with pytest.raises(InvalidInput):
            await sessions.authenticate(email="alice@x.test", password="wrong password!")
    await sessions.authenticate(email="alice@x.test", password=PASSWORD)
    for _ in range(4):
        with pytest.raises(InvalidInput):
            await sessions.authenticate(email="alice@x.test", password="wrong password!")
    assert (await sessions.authenticate(email="alice@x.test", password=PASSWORD)).client_id == world.alice_id


async def test_one_address_trying_many_accounts_is_locked_out(world: World) -> None:
    for i in range(sessions.IP_MAX_FAILURES):
        with pytest.raises(InvalidInput):
            await sessions.authenticate(
                email=f"guess{i}@x.test", password="wrong password!", ip="203.0.113.9"
            )
    with pytest.raises(Conflict):
        await sessions.authenticate(email="alice@x.test", password=PASSWORD, ip="203.0.113.9")
    assert await sessions.authenticate(email="alice@x.test", password=PASSWORD, ip="198.51.100.1")


async def test_a_deactivated_user_cannot_sign_in_or_keep_a_session(world: World) -> None:
    await User.filter(email="alice@x.test").update(is_active=False)
    with pytest.raises(InvalidInput):
        await sessions.authenticate(email="alice@x.test", password=PASSWORD)
    assert await sessions.load_actor(user_id=world.alice.user_id) is None


async def test_session_token_is_single_use_and_bound_to_its_browser_session(world: World) -> None:
    token = await sessions.issue_session_token(
        user_id=world.alice.user_id, bound_to="sess-1", next_url="/billing"
    )
    with pytest.raises(NotFound):
        await sessions.consume_session_token(token=token, bound_to="another-browser")
    grant = await sessions.consume_session_token(token=token, bound_to="sess-1")
    assert (grant.user_id, grant.next_url) == (world.alice.user_id, "/billing")
    with pytest.raises(NotFound):
        await sessions.consume_session_token(token=token, bound_to="sess-1")


async def test_session_token_expires_after_a_minute(world: World) -> None:
    token = await sessions.issue_session_token(user_id=world.alice.user_id, bound_to="s")
    await OneTimeToken.all().update(expires_at=sessions.now_utc() - timedelta(seconds=1))
    with pytest.raises(NotFound):
        await sessions.consume_session_token(token=token, bound_to="s")


async def test_only_the_token_hash_is_stored(world: World) -> None:
    token = await sessions.issue_session_token(user_id=world.alice.user_id, bound_to="s")
    row = await OneTimeToken.get()
    assert token not in row.token_hash and token not in str(row.payload)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/billing", "/billing"),
        ("/invoice/3?x=1", "/invoice/3?x=1"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
def test_only_local_paths_are_redirect_targets(target: str, expected: str) -> None:
    assert sessions.safe_next(target) == expected


async def test_passwords_are_stored_as_argon2_hashes(world: World) -> None:
    user = await User.get(email="alice@x.test")
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash


async def test_new_accounts_are_validated(world: World) -> None:
    with pytest.raises(InvalidInput, match="valid email"):
        await sessions.create_user(email="not-an-email", password=PASSWORD, role=Role.staff)
    with pytest.raises(InvalidInput, match="at least 10"):
        await sessions.create_user(email="new@x.test", password="short", role=Role.staff)
    with pytest.raises(Conflict, match="already exists"):
        await sessions.create_user(email="ALICE@x.test", password=PASSWORD, role=Role.staff)
    with pytest.raises(InvalidInput, match="belong to a client"):
        await sessions.create_user(email="c@x.test", password=PASSWORD, role=Role.client)
