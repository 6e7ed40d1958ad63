"""The organization's and each client's legal identity: registration and VAT numbers, a structured
postcode, city and country (issue 16: invoices that are legal documents, Factur-X)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


def _text(model: str, name: str, length: int) -> ops.AddField:
    """A text column, empty on the rows already there (SQLite needs a database default to add it)."""
    return ops.AddField(
        model_name=model, name=name, field=fields.CharField(max_length=length, default="", db_default="")
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0008_outbox_written_when_sent")]

    initial = False

    operations = [
        _text("Organization", "legal_name", 200),
        _text("Organization", "legal_form", 100),
        _text("Organization", "company_id", 40),
        _text("Organization", "vat_number", 20),
        _text("Organization", "postcode", 20),
        _text("Organization", "city", 100),
        _text("Organization", "country", 2),
        ops.AddField(
            model_name="Organization",
            name="vies_check_enabled",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        _text("Client", "postcode", 20),
        _text("Client", "city", 100),
        _text("Client", "country", 2),
        ops.AddField(
            model_name="Client",
            name="is_business",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        _text("Client", "company_id", 40),
        _text("Client", "vat_number", 20),
        ops.AddField(model_name="Client", name="vat_checked_at", field=fields.DatetimeField(null=True)),
        _text("Client", "vat_check", 12),
    ]
