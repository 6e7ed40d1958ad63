"""Issued documents (issue 16, item 6): each invoice, receipt and Factur-X file stored once, with its hash.

Numbered 0012: 0011 is another branch's (a column on invoices). Until that lands this one follows 0010;
re-chain `dependencies` to 0011 when merging.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_invoice_mentions')]

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
