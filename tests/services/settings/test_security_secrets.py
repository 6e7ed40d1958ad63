"""Break-it tests for secrets and passwords.

At rest: the Stripe secret key and webhook secret (connected through `stripe_account.connect` against the
Stripe emulator), the custom SMTP password (`settings.update_email_settings`) and every password typed
(set through an invitation link) are nowhere in the database in plain text: not in any column of any
table, and (SQLite) not in the database file's bytes. A password hash is kept in `user.password_hash`
and nowhere else.

In the logs: with every logger at DEBUG, signing in, a failed sign-in, setting a password, connecting
Stripe, saving the SMTP settings and sending a test email write no secret, no typed password and no
password hash into any log line (nor their base64 forms, as SMTP AUTH would carry them).

Guessing: sign-in failures are limited per account whatever the address, per address whatever the
account, and for accounts that do not exist exactly as for those that do; guesses sent all at once are
counted like guesses sent one by one.

Start-up: `python main.py` in production mode with the development secrets exits with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tortoise import Tortoise, connections

from portal.accounts import invitations, sessions
from portal.db.config import tortoise_config
from portal.db.models import LoginAttempt, User
from portal.domain.errors import Conflict, InvalidInput
from portal.payments.gateways import selector
from portal.settings import email as email_settings
from portal.settings import stripe_account
from portal.settings.email import SmtpForm
from tests.services.conftest import World
from tests.smtp_sink import SmtpSink
from tests.stripe_emulator import StripeEmulator
from tests.support import ROOT, child_env

pytest_plugins = ["tests.conftest_smtp", "tests.conftest_stripe"]

PASSWORD_FOR_TESTS = "correct horse battery"  # every user of the `world` fixture has it
WEBHOOK_SECRET = "whsec_Secrets_Sweep_4c1d"
SMTP_USER, SMTP_PASSWORD = "mailer@agency.test", "Smtp-Secret-9f3e-Pa55"
NEW_PASSWORD = "Brand-new Pa55phrase 71"
WRONG_PASSWORD = "Wrong-Guess-Pa55 38"


@pytest.fixture(autouse=True)
async def stripe_env(stripe_emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setenv("STRIPE_API_BASE", stripe_emulator.base_url)
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example/")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    yield
    await selector.forget_cached()


def _forms(secret: str) -> set[str]:
    """A secret and the ways a log line could carry it (SMTP AUTH sends base64)."""
    encoded = {base64.b64encode(raw.encode()).decode() for raw in (secret, f"\0{SMTP_USER}\0{secret}")}
    return {secret, *encoded}


async def _set_everything(world: World, stripe_emulator: StripeEmulator, sink: SmtpSink) -> dict[str, str]:
    """Go through every flow that handles a secret; return the secrets by name."""
    await sessions.authenticate(email="alice@x.test", password=PASSWORD_FOR_TESTS, ip="198.51.100.7")
    with pytest.raises(InvalidInput):
        await sessions.authenticate(email="alice@x.test", password=WRONG_PASSWORD, ip="198.51.100.7")
    # a new client account gets its password through the invitation link
    from portal.db.models import Client

    carol = await Client.create(name="Carol Cook", email="carol@x.test", currency="USD")
    await invitations.invite_client(actor=world.staff, client_id=carol.id)
    token = await _invitation_token()
    await invitations.set_password(token=token, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    await sessions.authenticate(email="carol@x.test", password=NEW_PASSWORD)
    # the agency's Stripe account and its own SMTP server
    await stripe_account.connect(
        actor=world.admin,
        test_mode=True,
        country="GB",
        privacy_url="https://agency.example/privacy",
        terms_url="https://agency.example/terms",
        secret_key=stripe_emulator.api_key,
        webhook_secret=WEBHOOK_SECRET,
    )
    form = SmtpForm(
        mode="custom",
        host=sink.host,
        port=str(sink.port),
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        from_address="invoices@agency.test",
        tls="none",
    )
    await email_settings.update_email_settings(actor=world.admin, form=form)
    result = await email_settings.send_test_email(actor=world.admin, to="me@agency.test", form=form)
    assert result.ok, result.message
    assert sink.messages and sink.messages[-1].login == SMTP_USER  # the password really went over AUTH
    return {
        "stripe secret key": stripe_emulator.api_key,
        "webhook secret": WEBHOOK_SECRET,
        "smtp password": SMTP_PASSWORD,
        "typed password": PASSWORD_FOR_TESTS,
        "new password": NEW_PASSWORD,
        "wrong password": WRONG_PASSWORD,
    }


async def _invitation_token() -> str:
    from portal.db.models import OutboxEmail

    email = await OutboxEmail.filter(kind="invitation").order_by("-id").first()
    assert email is not None
    found = re.search(r"token=([A-Za-z0-9_\-]+)", email.text_body)
    assert found, email.text_body
    return found.group(1)


async def _every_value() -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every cell of every table of the portal."""
    cells = []
    conn = connections.get("default")
    for model in Tortoise.apps["models"].values():
        table = model._meta.db_table
        for row in await conn.execute_query_dict(f'SELECT * FROM "{table}"'):
            cells.extend((table, column, str(value)) for column, value in row.items())
    return cells


async def test_no_secret_or_typed_password_is_stored_in_plain_text(
    world: World, stripe_emulator: StripeEmulator, make_smtp_sink: Callable[..., SmtpSink], db: str
) -> None:
    sink = make_smtp_sink(username=SMTP_USER, password=SMTP_PASSWORD)
    secrets = await _set_everything(world, stripe_emulator, sink)

    cells = await _every_value()
    assert {"organization", "user", "audit_entry", "outbox_email", "one_time_token"} <= {
        t for t, _, _ in cells
    }
    for name, secret in secrets.items():
        found = [f"{table}.{column}" for table, column, value in cells if secret in value]
        assert not found, f"the {name} is stored in plain text in {found}"
    hashes = set(await User.all().values_list("password_hash", flat=True))
    assert all(h.startswith("$argon2") for h in hashes)
    elsewhere = [
        f"{table}.{column}"
        for table, column, value in cells
        if (table, column) != ("user", "password_hash") and any(h in value for h in hashes)
    ]
    assert not elsewhere, f"a password hash is copied into {elsewhere}"
    # the encrypted values really are there (the check above looked at the right rows)
    org = (await connections.get("default").execute_query_dict("SELECT * FROM organization"))[0]
    assert org["stripe_secret_key_enc"] and org["smtp_password_enc"] and org["stripe_webhook_secret_enc"]

    if db.startswith("sqlite://"):
        await Tortoise.close_connections()  # everything written out of the journal into the file
        path = Path(db.removeprefix("sqlite://"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for name, secret in secrets.items():
            assert secret.encode() not in raw, f"the {name} is in the database file's bytes"
        await Tortoise.init(config=tortoise_config(db))


async def test_no_secret_password_or_hash_reaches_any_log_line(
    world: World,
    stripe_emulator: StripeEmulator,
    make_smtp_sink: Callable[..., SmtpSink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = make_smtp_sink(username=SMTP_USER, password=SMTP_PASSWORD)
    caplog.set_level(logging.DEBUG)  # the root logger and every logger below it

    secrets = await _set_everything(world, stripe_emulator, sink)

    records = caplog.records  # every logger, the SMTP sink's own included
    assert any(r.name.startswith("tortoise") for r in records)  # DEBUG really was captured
    lines = [f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in records]
    hashes = set(await User.all().values_list("password_hash", flat=True))
    leaks = []
    for name, secret in {**secrets, **{f"hash {i}": h for i, h in enumerate(hashes)}}.items():
        for form in _forms(secret):
            leaks.extend(f"{name} in: {line[:200]}" for line in lines if form in line)
    assert not leaks, "\n".join(leaks)


# -- guessing passwords ------------------------------------------------------------------------------
async def _guess(email: str, ip: str = "", password: str = WRONG_PASSWORD) -> str:
    """'wrong' when the password was checked and refused, 'locked' when it was not even checked."""
    try:
        await sessions.authenticate(email=email, password=password, ip=ip)
    except InvalidInput:
        return "wrong"
    except Conflict:
        return "locked"
    return "signed in"


async def test_an_account_stays_locked_whichever_address_the_guesses_come_from(world: World) -> None:
    results = [await _guess("alice@x.test", ip=f"203.0.113.{n}") for n in range(1, 6)]
    assert results == ["wrong"] * 5
    assert await _guess("alice@x.test", ip="192.0.2.200", password=PASSWORD_FOR_TESTS) == "locked"


async def test_spellings_of_one_email_count_as_one_account(world: World) -> None:
    for spelling in ("alice@x.test", "ALICE@x.test", " Alice@X.Test ", "alice@X.TEST", "aLiCe@x.test"):
        assert await _guess(spelling) == "wrong"
    assert await _guess("alice@x.test", password=PASSWORD_FOR_TESTS) == "locked"


async def test_an_unknown_account_locks_out_exactly_like_a_real_one(world: World) -> None:
    async def five_then_message(email: str) -> str:
        assert [await _guess(email) for _ in range(5)] == ["wrong"] * 5
        with pytest.raises(Conflict) as caught:
            await sessions.authenticate(email=email, password=WRONG_PASSWORD)
        return re.sub(r"\d", "#", caught.value.message)

    assert await five_then_message("nobody@x.test") == await five_then_message("bob@x.test")


@pytest.fixture
def fewer_per_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lower per-address limit, so that reaching it takes a few argon2 checks rather than twenty."""
    monkeypatch.setattr(sessions, "IP_MAX_FAILURES", 6)


async def test_one_address_is_limited_across_accounts_even_those_that_exist(
    world: World, fewer_per_address: None
) -> None:
    """The limit counts failures on any account from the address, real accounts included; another
    address is not affected, and the account itself is not locked for its owner elsewhere."""
    ip = "203.0.113.50"
    emails = ["alice@x.test", "bob@x.test", "staff@x.test", "admin@x.test"]
    for n in range(sessions.IP_MAX_FAILURES):
        assert await _guess(emails[n % 4] if n % 2 else f"guess{n}@x.test", ip=ip) == "wrong"
    for email in emails:
        assert await _guess(email, ip=ip, password=PASSWORD_FOR_TESTS) == "locked"
    assert await _guess("alice@x.test", ip="198.51.100.2", password=PASSWORD_FOR_TESTS) == "signed in"


async def test_guesses_sent_all_at_once_are_limited_like_guesses_sent_one_by_one(world: World) -> None:
    results = await asyncio.gather(*(_guess("alice@x.test", ip=f"203.0.113.{n}") for n in range(30)))
    checked = results.count("wrong")
    assert checked <= 5, f"{checked} passwords were checked at once, the limit is 5"
    assert results.count("locked") == 30 - checked
    assert await _guess("alice@x.test", password=PASSWORD_FOR_TESTS) == "locked"


async def test_guesses_from_one_address_sent_at_once_are_limited_too(
    world: World, fewer_per_address: None
) -> None:
    ip = "203.0.113.77"
    guesses = [_guess(f"guess{n}@x.test", ip=ip) for n in range(3 * sessions.IP_MAX_FAILURES)]
    results = await asyncio.gather(*guesses)
    assert results.count("wrong") <= sessions.IP_MAX_FAILURES, results.count("wrong")
    assert await LoginAttempt.filter(ip=ip, succeeded=True).count() == 0


# -- start-up ------------------------------------------------------------------------------------------
def test_production_mode_with_the_default_secrets_refuses_to_start(tmp_path: Path) -> None:
    env = child_env(
        PORTAL_ENV="production",
        DATABASE_URL=f"sqlite://{tmp_path / 'never.sqlite3'}",
        PORT="0",
        JOBS_ENABLED="false",
    )
    for name in ("SECRET_KEY", "STORAGE_SECRET"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr, result.stderr[-2000:]
    assert "SECRET_KEY" in result.stderr and "STORAGE_SECRET" in result.stderr
    assert not (tmp_path / "never.sqlite3").exists()  # it stopped before touching the database
