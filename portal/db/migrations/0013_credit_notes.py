"""Credit notes (issue 16 item 5): the credit_note and credit_note_line tables."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0012_issued_documents')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CreditNote',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('number', fields.CharField(unique=True, max_length=60)),
                ('client', fields.ForeignKeyField('models.Client', source_field='client_id', db_constraint=True, to_field='id', related_name='credit_notes', on_delete=OnDelete.RESTRICT)),
                ('invoice', fields.ForeignKeyField('models.Invoice', source_field='invoice_id', db_constraint=True, to_field='id', related_name='credit_notes', on_delete=OnDelete.RESTRICT)),
                ('currency', fields.CharField(max_length=3)),
                ('issue_date', fields.DateField()),
                ('reason', fields.CharField(max_length=20)),
                ('note', fields.TextField(default='', unique=False)),
                ('subtotal_minor', fields.BigIntField()),
                ('tax_minor', fields.BigIntField()),
                ('total_minor', fields.BigIntField()),
                ('dedupe_key', fields.CharField(unique=True, max_length=100)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'credit_note', 'app': 'models', 'indexes': [Index(fields=['client_id', 'issue_date'])], 'pk_attr': 'id', 'table_description': 'A credit note: what it cancels of one invoice, with its own gapless number.'},
            bases=['Model', 'TimestampMixin'],
        ),
        ops.CreateModel(
            name='CreditNoteLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('credit_note', fields.ForeignKeyField('models.CreditNote', source_field='credit_note_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField(default=0)),
                ('date', fields.DateField(null=True)),
                ('description', fields.CharField(max_length=500)),
                ('quantity', fields.DecimalField(max_digits=12, decimal_places=4)),
                ('unit_price_minor', fields.BigIntField()),
                ('tax_name', fields.CharField(default='', max_length=100)),
                ('tax_rate', fields.DecimalField(max_digits=7, decimal_places=4)),
                ('net_minor', fields.BigIntField()),
                ('tax_minor', fields.BigIntField()),
                ('gross_minor', fields.BigIntField()),
            ],
            options={'table': 'credit_note_line', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One line a credit note cancels, as the invoice had it.'},
            bases=['Model'],
        ),
    ]
