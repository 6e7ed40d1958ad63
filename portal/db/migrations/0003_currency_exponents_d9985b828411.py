"""Stored amounts follow the portal's own ISO 4217 table (portal/domain/currencies.py) instead of babel.

Until now the number of decimals came from babel (2.18 when this was written). Where ISO 4217 has more
decimals than babel 2.18 gave, amounts stored in minor units are multiplied so that they keep their value:
1 LBP stored as 1 (0 decimals) becomes 100 (2 decimals). Every other currency is unchanged. The name ends
with the table's fingerprint: tests/unit/domain/test_currencies.py requires such a migration for the table in
force. Sandbox gateway objects (test-mode state) and texts already written (emails, audit details) are
left as they were.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# currency -> (decimals under babel 2.18, decimals in ISO 4217)
CHANGED = {
    "AFN": (0, 2),
    "ALL": (0, 2),
    "IQD": (0, 3),
    "IRR": (0, 2),
    "KPW": (0, 2),
    "LAK": (0, 2),
    "LBP": (0, 2),
    "MGA": (0, 2),
    "MMK": (0, 2),
    "RSD": (0, 2),
    "SOS": (0, 2),
    "SYP": (0, 2),
    "YER": (0, 2),
}

# table -> its amount columns, for tables that carry their own currency column
OWN_CURRENCY = {
    "plan": ("amount_minor",),
    "billing_request": ("amount_minor",),
    "subscription": ("amount_minor",),
    "invoice": ("subtotal_minor", "tax_minor", "total_minor"),
    "quote": ("subtotal_minor", "tax_minor", "total_minor"),
    "credit_request": ("amount_minor",),
    "payment": ("amount_minor", "refunded_minor"),
    "refund": ("amount_minor",),
    "credit_entry": ("amount_minor",),
    "allocation": ("amount_minor",),
}
# line table -> (parent table, foreign key, amount columns): lines take the parent's currency
LINES = {
    "invoice_line": ("invoice", "invoice_id", ("unit_price_minor", "net_minor", "tax_minor", "gross_minor")),
    "quote_line": ("quote", "quote_id", ("unit_price_minor", "net_minor", "tax_minor", "gross_minor")),
}


def _statements(forward: bool) -> list[str]:
    """One UPDATE per table and factor; multiply going forward, divide going back."""
    out = []
    for code, (old, new) in CHANGED.items():
        factor = 10 ** (new - old)
        op = "*" if forward else "/"
        for table, columns in OWN_CURRENCY.items():
            sets = ", ".join(f"{c} = {c} {op} {factor}" for c in columns)
            out.append(f"UPDATE {table} SET {sets} WHERE currency = '{code}'")
        for table, (parent, key, columns) in LINES.items():
            sets = ", ".join(f"{c} = {c} {op} {factor}" for c in columns)
            out.append(f"UPDATE {table} SET {sets} WHERE {key} IN (SELECT id FROM {parent} WHERE currency = '{code}')")
    return out


class Migration(migrations.Migration):
    dependencies = [("models", "0002_payments")]

    initial = False

    operations = [ops.RunSQL(_statements(True), reverse_sql=_statements(False))]
