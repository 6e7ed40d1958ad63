"""Command line: `python -m portal migrate | demo | create-admin EMAIL`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from portal.config import get_settings
from portal.db.lifecycle import database, migrate
from portal.domain.errors import DomainError
from portal.domain.status import Role


async def _demo() -> None:
    # lazy: `migrate` runs before every start and must not load the whole portal (the Stripe SDK: ~1.4 s)
    from portal import demo  # noqa: PLC0415

    async with database():
        fresh = await demo.is_empty()
        logins = await demo.load_demo()
    print("Demo data loaded." if fresh else "The database already has users: demo data not loaded again.")
    print(f"Open {get_settings().public_url} and sign in with one of these demo logins:")
    for login in logins:
        print(f"  {login.role:<13} {login.email:<20} password: {login.password}")


async def _create_admin(email: str, password: str, name: str) -> int:
    from portal.accounts import sessions  # noqa: PLC0415  # lazy, as in _demo

    async with database():
        return await sessions.create_user(email=email, password=password, role=Role.admin, full_name=name)


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m portal", description="Billing Portal administration")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("demo", help="load demo data into an empty database and print the demo logins")
    admin = sub.add_parser("create-admin", help="create an administrator (prompts for the password)")
    admin.add_argument("email")
    admin.add_argument("--name", default="")
    args = parser.parse_args(argv)

    if args.command == "migrate":
        asyncio.run(migrate())
        print("Database is up to date.")
    elif args.command == "demo":
        asyncio.run(_demo())
    elif args.command == "create-admin":
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat password: "):
            print("The passwords do not match.", file=sys.stderr)
            return 2
        try:
            asyncio.run(_create_admin(args.email, password, args.name))
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 2
        print(f"Administrator {args.email} created.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
