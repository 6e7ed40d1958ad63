"""One module per screen; `register_all` adds every page to the app (main.py calls it)."""

from __future__ import annotations


def register_all() -> None:
    """Register every page (again, when tests execute main.py anew)."""
    from portal.pages import (
        admin,
        billing,
        billing_sections,
        documents,
        history,
        login,
        pay,
        settings_payments,
    )

    login.register()
    billing.register()
    admin.register()
    pay.register()
    settings_payments.register()
    documents.register()
    history.register()
    billing_sections.register()
