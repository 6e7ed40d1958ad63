"""One module per screen; `register_all` adds every page to the app (main.py calls it)."""

from __future__ import annotations


def register_all() -> None:
    """Register every page (again, when tests execute main.py anew)."""
    from portal.components import billing_sections
    from portal.pages import (
        billing,
        console_audit,
        console_clients,
        console_invoices,
        console_overview,
        console_plans,
        console_quotes,
        console_requests,
        documents,
        history,
        login,
        pay,
        set_password,
        settings,
        settings_payments,
    )

    for module in (
        login,
        set_password,
        billing,
        billing_sections,
        documents,
        history,
        pay,
        console_overview,
        console_clients,
        console_invoices,
        console_quotes,
        console_requests,
        console_plans,
        console_audit,
        settings,
        settings_payments,
    ):
        module.register()
