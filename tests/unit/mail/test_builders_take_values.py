"""The email builders take the values they show and read nothing: no `async def`, no `await` in
`portal/mail/*_emails.py` or `portal/mail/compose.py` (DESIGN: mail "builds from VALUES it is given, never
loads rows by id"). The use cases load the rows and pass them in; outbox.py, transport.py, worker.py and
templates/ are the sending side and keep their I/O."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

import portal.mail

MAIL = Path(portal.mail.__file__).resolve().parent
BUILDERS = sorted([*MAIL.glob("*_emails.py"), MAIL / "compose.py"])


def waits(source: str) -> list[str]:
    """Each `async def`, `async for`, `async with` and `await` in `source`, as 'line N: what'."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AsyncFunctionDef):
            found.append((node.lineno, f"async def {node.name}"))
        elif isinstance(node, ast.Await):
            found.append((node.lineno, "await"))
        elif isinstance(node, ast.AsyncFor | ast.AsyncWith):
            found.append((node.lineno, type(node).__name__))
    return [f"line {line}: {what}" for line, what in sorted(found)]


def test_the_builders_are_all_here() -> None:
    names = {path.name for path in BUILDERS}
    expected = {
        "compose.py",
        "account_emails.py",
        "invoice_emails.py",
        "payment_emails.py",
        "request_emails.py",
    }
    assert expected <= names, f"missing from the scan: {sorted(expected - names)}"


@pytest.mark.parametrize("path", BUILDERS, ids=lambda path: path.name)
def test_a_builder_module_reads_nothing(path: Path) -> None:
    found = waits(path.read_text(encoding="utf-8"))
    assert not found, (
        f"portal/mail/{path.name} waits for I/O; a builder takes the values it shows (rows, amounts, "
        "links) and its caller loads them:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            """
            async def receipt(*, payment_id: int) -> Email:
                return build(payment_id)
            """,
            ["line 2: async def receipt"],
        ),
        (
            """
            def receipt(payment: Payment) -> Email:
                method = await PaymentMethod.get_or_none(id=payment.payment_method_id)
                return build(payment, method)
            """,
            ["line 3: await"],
        ),
        (
            """
            class Loader:
                async def load(self) -> None:
                    async with in_transaction():
                        async for row in rows():
                            print(await row)
            """,
            ["line 3: async def load", "line 4: AsyncWith", "line 5: AsyncFor", "line 6: await"],
        ),
        (
            """
            def receipt(payment: Payment, client: Client) -> Email:
                return compose_email(name=client.name, subject=f"{payment.amount_minor}")
            """,
            [],
        ),
    ],
    ids=["async-def", "await-in-a-plain-def", "nested", "a-plain-builder"],
)
def test_the_scan_finds_what_waits(snippet: str, expected: list[str]) -> None:
    assert waits(textwrap.dedent(snippet)) == expected
