"""Issued documents (issue 16, item 6): each invoice, receipt and Factur-X file stored once, with its hash.

Follows 0011 (the invoices' reverse-charge column).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_invoice_reverse_charge')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IssuedDocument',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=20)),
                ('subject_id', fields.IntField()),
                ('storage_key', fields.CharField(max_length=200)),
                ('sha256', fields.CharField(max_length=64)),
                ('size', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'issued_document', 'app': 'models', 'unique_together': (('kind', 'subject_id'),), 'pk_attr': 'id', 'table_description': "An issued document's file, stored once (issue 16): served as stored, checked against its SHA-256."},
            bases=['Model'],
        ),
    ]
