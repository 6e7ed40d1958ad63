"""One module per screen; `register_all` adds every page to the app (main.py calls it)."""

from __future__ import annotations

from portal.pages import (
    billing,
    console_audit,
    console_client_form,
    console_client_record,
    console_clients,
    console_exports,
    console_import,
    console_invoices,
    console_overview,
    console_plans,
    console_quotes,
    console_requests,
    documents,
    downloads,
    history,
    login,
    open_invoices,
    pay,
    pay_all,
    sandbox_setup,
    set_password,
    settings_billing,
    settings_email,
    settings_organization,
    settings_payments,
    settings_reminders,
    settings_template,
    statements,
)


def register_all() -> None:
    """Register every page (again, when tests execute main.py anew)."""
    for module in (
        login,
        set_password,
        billing,
        sandbox_setup,
        documents,
        downloads,
        history,
        statements,
        open_invoices,
        pay_all,
        pay,
        console_overview,
        console_clients,
        console_client_form,  # /admin/clients/new before /admin/clients/{client_id}
        console_import,  # /admin/clients/import before /admin/clients/{client_id}
        console_client_record,
        console_invoices,
        console_quotes,
        console_requests,
        console_plans,
        console_audit,
        console_exports,
        settings_organization,
        settings_billing,
        settings_template,
        settings_reminders,
        settings_email,
        settings_payments,
    ):
        module.register()
