"""The `stripe_emulator` fixture: one Stripe emulator per test run (see tests/stripe_emulator.py).

Load it with `pytest_plugins = ["tests.conftest_stripe"]`. A failure to start is an error, never a skip:
the Stripe tests are the only check that the real SDK and our gateway agree.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stripe_emulator import StripeEmulator


@pytest.fixture(scope="session")
def stripe_emulator() -> Iterator[StripeEmulator]:
    """A started emulator on 127.0.0.1, shared by the whole run and stopped at its end."""
    emulator = StripeEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()
