"""Database helpers the ORM lacks at our scale, and the one place that knows which database runs:
services call these (or their app's `db` module, built on them) and never branch on the vendor."""

from decimal import Decimal

from django.db import connection, models


def ping():
    """One round trip to the database (the health check's); raises what the driver raises."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


# Fields whose database value is the Python value itself when it already has this type (their
# get_prep_value is int(), bool() or str() of it): update_by_pk sends such columns as they are.
# Preparing 100,000 validators x 13 fields one value at a time took 2.3 s of a 5.2 s update.
_PLAIN_TYPES = (
    (models.BooleanField, bool),
    (models.IntegerField, int),
    (models.CharField, str),
    (models.TextField, str),
)


def _prepared(field, column):
    for field_class, python_type in _PLAIN_TYPES:
        if isinstance(field, field_class):
            if all(value is None or type(value) is python_type for value in column):
                return column
            break
    return [field.get_db_prep_save(value, connection) for value in column]


def update_by_pk(model, pks, values, *, same=None, batch_size=None):
    """UPDATE rows of `model` by primary key: `values` maps a field name to one value per pk,
    `same` a field name to one value for every row.
    One pass joined on the key, instead of a CASE per column that scans the whole batch for
    each row. On PostgreSQL each column of a batch travels as one array parameter (unnest), so
    neither psycopg nor the server parses a statement with a placeholder per value; for 100,000
    validators x 13 fields this is about a second instead of the CASE form's 25."""
    pks = list(pks)
    if not pks:
        return
    same = same or {}
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [meta.pk, *(meta.get_field(name) for name in values)]
    columns = [pks, *values.values()]
    fixed = [(meta.get_field(name), value) for name, value in same.items()]
    fixed_params = [field.get_db_prep_save(value, connection) for field, value in fixed]
    table = quote(meta.db_table)
    names = ", ".join(f"c{i}" for i in range(len(fields)))
    assignments = ", ".join(
        [f"{quote(field.column)} = v.c{i}" for i, field in enumerate(fields) if i]
        + [f"{quote(field.column)} = %s" for field, _ in fixed]
    )
    where = f"WHERE {table}.{quote(meta.pk.column)} = v.c0"
    postgres = connection.vendor == "postgresql"
    batch_size = batch_size or (10_000 if postgres else 2_000)
    if postgres:
        arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
        sql = f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({names}) {where}"
    else:
        renamed = ", ".join(f"column{i + 1} AS c{i}" for i in range(len(fields)))
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(pks), batch_size):
            prepped = [
                _prepared(field, column[start : start + batch_size])
                for field, column in zip(fields, columns, strict=True)
            ]
            if postgres:
                # The SET's placeholders come before the FROM's.
                cursor.execute(sql, fixed_params + prepped)
                continue
            rows = list(zip(*prepped, strict=True))
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (SELECT {renamed} FROM "
                f"(VALUES {', '.join([row_sql] * len(rows))})) AS v {where}",
                fixed_params + [value for row in rows for value in row],
            )


def bulk_update_columns(objs, fields, *, batch_size=1000):
    """Writes the given fields of model instances in one UPDATE per batch, like
    QuerySet.bulk_update for plain column values.

    Django's bulk_update builds a Case(When(...)) expression for every value and resolves each
    one; for a poll cycle of 8,000 GPUs x 6 fields that took 12 s of a 19 s store here. The SQL
    is the same (SET col = CASE pk WHEN .. THEN .. END), built as a string with parameters.
    """
    objs = list(objs)
    if not objs:
        return
    meta = type(objs[0])._meta
    quote = connection.ops.quote_name
    pk_column = quote(meta.pk.column)
    columns = [meta.get_field(name) for name in fields]
    # PostgreSQL cannot infer a type for a branch of only NULL parameters; SQLite types
    # dynamically, and a CAST there would coerce text dates into numbers.
    cast = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            batch = objs[start : start + batch_size]
            when = " ".join(["WHEN %s THEN %s"] * len(batch))
            assignments, params = [], []
            for field in columns:
                column = quote(field.column)
                case = f"CASE {pk_column} {when} ELSE {column} END"
                if cast:
                    case = f"CAST({case} AS {field.db_type(connection)})"
                assignments.append(f"{column} = {case}")
                for obj in batch:
                    value = field.get_db_prep_save(getattr(obj, field.attname), connection)
                    params += [obj.pk, value]
            placeholders = ", ".join(["%s"] * len(batch))
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "
                f"WHERE {pk_column} IN ({placeholders})",
                [*params, *(obj.pk for obj in batch)],
            )


def insert_rows(
    model, columns, rows, *, array_types, prepare=None, on_conflict="", batch_size=1000
):
    """INSERTs `rows` into `model`'s table, one statement per batch, each ending with
    `on_conflict` (an ON CONFLICT clause, which PostgreSQL and SQLite share). A row is a tuple
    of values ready for the database, in the order of `columns`; or, with `prepare`, whatever
    `prepare` turns into such tuples: it is given one slice of `rows` at a time, so only one
    batch of converted rows is held at once.

    On PostgreSQL each column of a batch travels as one array parameter (unnest, each array of
    the type in `array_types`): no statement with a placeholder per value to parse (that alone
    took psycopg 2 s for 20,000 rows); batches of 10,000 bound the worker's memory. Elsewhere
    one multi-row VALUES per `batch_size` rows."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    postgres = connection.vendor == "postgresql"
    if postgres:
        arrays = ", ".join(f"%s::{t}[]" for t in array_types)
        sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {on_conflict}"
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    batch_size = 10_000 if postgres else batch_size
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            if prepare is not None:
                batch = prepare(batch)
            if postgres:
                cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)])
                continue
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([row_sql] * len(batch))} "
                f"{on_conflict}",
                [value for row in batch for value in row],
            )


def sums_base_units() -> bool:
    """Whether SQL sums and orders BaseUnitField amounts exactly on this database: PostgreSQL
    does (numeric); SQLite holds them as text (see BaseUnitField), so there callers read the
    amounts and add them in Python."""
    return connection.vendor == "postgresql"


class BaseUnitField(models.DecimalField):
    """An integer amount in a coin's smallest unit (wei, gwei), exact at any size.

    PostgreSQL stores numeric(40, 0). SQLite cannot: Django reads its decimals through a float
    context of 15 significant digits, and its integers stop at 2^63 (under 10 ETH in wei), so
    there the digits are stored as text. Amounts are never compared or summed in SQL on SQLite.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 40)
        kwargs.setdefault("decimal_places", 0)
        super().__init__(*args, **kwargs)

    def get_internal_type(self):
        # Not "DecimalField", so no backend converter rounds the value on the way out.
        return "BaseUnitField"

    def db_type(self, connection):
        if connection.vendor == "sqlite":
            return "text"
        return f"numeric({self.max_digits}, {self.decimal_places})"

    def rel_db_type(self, connection):
        return self.db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        if value is not None and connection.vendor == "sqlite":
            return str(Decimal(value).quantize(Decimal(1)))
        return value

    def from_db_value(self, value, expression, connection):
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))


# Beyond any figure the apps let in (rigs.limits) and short of every float that is not finite:
# a column checked against it holds no NaN and no infinity. A database constraint rather than a
# check in each store function, because it holds for every writer (bulk inserts, upserts,
# rollups, the admin, a migration, a script) at the cost of two comparisons a row; PostgreSQL's
# float columns take 'NaN' and 'Infinity' otherwise, which break every JSON answer and chart
# that reads them.
FINITE_BOUND = 1e300


def finite_check(name, *fields):
    """A CHECK constraint: each of `fields` is NULL or a finite float (within ±FINITE_BOUND).
    On PostgreSQL NaN sorts above every number, so the upper bound refuses it too; SQLite
    stores NaN as NULL."""
    condition = models.Q()
    for field in fields:
        condition &= models.Q(**{f"{field}__isnull": True}) | models.Q(
            **{f"{field}__gte": -FINITE_BOUND, f"{field}__lte": FINITE_BOUND}
        )
    return models.CheckConstraint(condition=condition, name=name)


def for_aggregation():
    """Within a transaction, on PostgreSQL: settings for one large grouping statement. JIT off:
    a rollup statement that does 300 ms of work was planned at a cost that compiled it for
    700 ms more (bench/rollups.py); 64 MB to sort in, not 4 MB spilled to disk. SET LOCAL
    ends with the transaction. Nothing to do elsewhere."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")


class TimeBucket(models.Func):
    """The start (UTC) of the `seconds`-long bucket holding a datetime column, buckets counted
    from the Unix epoch: what SQL groups time series by. Django's Trunc stops at calendar units;
    5-minute buckets need the epoch arithmetic, which each database spells its own way."""

    output_field = models.DateTimeField()

    def __init__(self, expression, seconds):
        if int(seconds) != seconds or seconds < 1:
            raise ValueError(f"bucket of {seconds!r} s")
        self.seconds = int(seconds)
        super().__init__(expression)

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError(f"TimeBucket on {connection.vendor}")

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        s = self.seconds
        # date_part is double precision; EXTRACT is numeric there, which took a quarter of a
        # 200,000-row rollup query (bench/rollups.py).
        return f"to_timestamp(FLOOR(date_part('epoch', {sql}) / {s}) * {s})", params

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django keeps an aware datetime as UTC text there; strftime's '%s' is its Unix time in
        # whole seconds (passed as a parameter: a literal % would be read as a placeholder), and
        # datetime(..., 'unixepoch') writes a time back in the form Django stores.
        sql, params = compiler.compile(self.source_expressions[0])
        s = self.seconds
        return (
            f"datetime(CAST(strftime(%s, {sql}) AS INTEGER) / {s} * {s}, 'unixepoch')",
            ["%s", *params],
        )
