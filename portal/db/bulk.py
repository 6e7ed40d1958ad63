"""Many rows of one table in one statement, without a model object for each row (batch jobs).

Tortoise's `bulk_create` builds and validates a model instance per row, which costs more than the insert
itself when a job writes hundreds of rows (bench/jobs.py). `insert_rows` takes plain values by field name,
already as the database stores them (ints, strings, dates and aware datetimes; a JSON field's value is
encoded here), and sends one statement on the caller's connection, so it joins the caller's
transaction: on PostgreSQL an `INSERT ... SELECT FROM unnest(...)` of one array a column (one plan, whatever
the number of rows), on SQLite an `executemany` (sqlite3 runs one prepared statement for every row). A
multi-row VALUES statement measured slower on PostgreSQL (bench/jobs.py: 3.6 against 2.8 for executemany).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import Field, JSONField
from tortoise.models import Model


async def insert_rows(
    model: type[Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    connection: BaseDBAsyncClient | None = None,
    skip_conflicts: bool = False,
) -> None:
    """Insert `rows` (each the same field names) into `model`'s table; with `skip_conflicts`, a row that
    would break a unique key is left out (`ON CONFLICT DO NOTHING`)."""
    if not rows:
        return
    meta = model._meta
    db = connection or connections.get(meta.default_connection or "default")
    names = list(rows[0])
    columns = [meta.fields_db_projection[name] for name in names]
    encoders = {n: meta.fields_map[n] for n in names if isinstance(meta.fields_map.get(n), JSONField)}
    values = [
        [encoders[n].to_db_value(row[n], None) if n in encoders else row[n] for n in names] for row in rows
    ]
    head = f'INSERT INTO "{meta.db_table}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) '
    tail = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    if db.capabilities.dialect == "postgres":
        # one statement whatever the number of rows: one array a column, unnested side by side
        arrays = ", ".join(f"${k}::{_array_type(meta.fields_map[n])}" for k, n in enumerate(names, start=1))
        columns_of_values = [list(column) for column in zip(*values, strict=True)]
        await db.execute_query(f"{head}SELECT * FROM unnest({arrays}){tail}", columns_of_values)
        return
    marks = ", ".join("?" for _ in names)
    await db.execute_many(f"{head}VALUES ({marks}){tail}", values)


def _array_type(field: Field) -> str:
    """PostgreSQL's array type of a field's column: 'VARCHAR(60)' -> 'VARCHAR[]', 'JSONB' -> 'JSONB[]'."""
    return str(field.get_for_dialect("postgres", "SQL_TYPE")).split("(", 1)[0] + "[]"
