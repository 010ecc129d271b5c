"""The validators' SQL: what the ORM cannot say, or not fast enough at 100,000 validators.
Dialect differences stay in ethdash.db; the services call these and never branch on the database.
"""

from django.db import connection
from django.db.models import Max, Q, Sum

from accounts.models import Farm
from ethdash.db import insert_rows, sums_base_units
from validators.models import Validator, ValidatorDay

# Columns an epoch adds to its day row (ValidatorDay), in insert order after the fixed ones.
DAY_SUMS = [
    "epochs",
    "effective_balance_sum",
    "income",
    "attestation_reward",
    "attestation_ideal",
    "attestations",
    "attestations_missed",
    "head_missed",
    "target_missed",
    "source_missed",
    "missed_cost",
    "proposals",
    "proposals_missed",
    "proposals_orphaned",
    "proposal_reward",
    "sync_duties",
    "sync_missed",
    "sync_reward",
    "withdrawals",
    "deposits",
]
DAY_COLUMNS = [
    "validator_id",
    "day",
    "first_epoch",
    "last_epoch",
    "start_balance",
    "end_balance",
    "execution_income",
    *DAY_SUMS,
]


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def upsert_validator_days(
    rows: list[tuple], *, batch_size: int = 1000, out_of_order: bool = False
) -> None:
    """rows: (validator_id, day, epoch, start_balance, end_balance, *DAY_SUMS values). Adds each
    row to the validator's day; an epoch not newer than the day's last one changes nothing.
    `out_of_order` (a backfill, older than the live epochs already in the day): the epoch is
    added wherever it falls, the day's first epoch and start balance move back when it is
    older, and only the farm's EpochSummary row (inserted in the same transaction) keeps an
    epoch from counting twice. SET expressions read the row as it was, on both databases."""
    if not rows:
        return
    table = quote(ValidatorDay._meta.db_table)
    first, last = quote("first_epoch"), quote("last_epoch")
    sums = [f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in DAY_SUMS]
    if out_of_order:
        older = f"excluded.{first} < {table}.{first}"
        newer = f"excluded.{last} > {table}.{last}"
        updates = ", ".join(
            [
                f"{first} = CASE WHEN {older} THEN excluded.{first} ELSE {table}.{first} END",
                f"{quote('start_balance')} = CASE WHEN {older} THEN excluded."
                f"{quote('start_balance')} ELSE {table}.{quote('start_balance')} END",
                f"{last} = CASE WHEN {newer} THEN excluded.{last} ELSE {table}.{last} END",
                f"{quote('end_balance')} = CASE WHEN {newer} THEN excluded."
                f"{quote('end_balance')} ELSE {table}.{quote('end_balance')} END",
                *sums,
            ]
        )
        guard = ""
    else:
        updates = ", ".join(
            [
                f"{last} = excluded.{last}",
                f"{quote('end_balance')} = excluded.{quote('end_balance')}",
                *sums,
            ]
        )
        guard = f" WHERE {table}.{last} < excluded.{last}"
    conflict = (
        f"ON CONFLICT ({quote('validator_id')}, {quote('day')}) DO UPDATE SET {updates}{guard}"
    )
    zero = ValidatorDay._meta.get_field("execution_income").get_db_prep_save(0, connection)
    day_value = connection.ops.adapt_datefield_value
    insert_rows(
        ValidatorDay,
        DAY_COLUMNS,
        rows,
        prepare=lambda batch: [
            (validator_id, day_value(day), epoch, epoch, start_balance, end, zero, *sums)
            for validator_id, day, epoch, start_balance, end, *sums in batch
        ],
        array_types=["bigint", "date", *["bigint"] * 4, "numeric", *["bigint"] * len(DAY_SUMS)],
        on_conflict=conflict,
        batch_size=batch_size,
    )


def sum_days(days, group: list[str], *, windows: dict | None = None) -> list[dict]:
    """The day rows of `days` (a ValidatorDay queryset) summed per `group` (ValidatorDay lookups,
    such as ["validator_id", "validator__farm_id"]), in one query (two on SQLite):
    - without `windows`: one row per group and day, holding the group's lookups, "day", and the
      sum of each column of DAY_SUMS and "execution_income", and "attestations_max", the most
      active epochs any one validator of the group had that day;
    - with `windows` ({name: (first_day, last_day)}): one row per group, holding the group's
      lookups and "<name>__<column>" for each window and column, a filtered sum.
    A sum over no rows is None or absent. execution_income is exact on both databases:
    PostgreSQL stores it as numeric(40, 0) and sums it in the same query; SQLite stores it as
    text, so there the non-zero amounts (days with a proposal: few) are read and added here."""
    exact_sql = sums_base_units()
    columns = (*DAY_SUMS, "execution_income") if exact_sql else DAY_SUMS
    if windows is None:
        # First, so that "attestations" still names the column, not its sum.
        aggregates = {"attestations_max": Max("attestations")}
        aggregates |= {column: Sum(column) for column in columns}
        rows = list(days.order_by().values(*group, "day").annotate(**aggregates))
    else:
        aggregates = {}
        for name, (first, last) in windows.items():
            condition = Q(day__gte=first, day__lte=last)
            for column in columns:
                aggregates[f"{name}__{column}"] = Sum(column, filter=condition)
        rows = list(days.order_by().values(*group).annotate(**aggregates))
    if exact_sql:
        return rows
    # Days without a proposal hold "0"; only the few with one are read, and summed exactly.
    execution = list(
        days.exclude(execution_income=0).order_by().values_list(*group, "day", "execution_income")
    )
    if not execution:
        return rows
    per_day = windows is None
    by_key = {
        tuple(row[lookup] for lookup in group) + ((row["day"],) if per_day else ()): row
        for row in rows
    }
    for *key, day, amount in execution:
        if per_day:
            row = by_key[(*key, day)]
            row["execution_income"] = row.get("execution_income", 0) + int(amount)
            continue
        row = by_key[tuple(key)]
        for name, (first, last) in windows.items():
            if first <= day <= last:
                column = f"{name}__execution_income"
                row[column] = row.get(column, 0) + int(amount)
    return rows


def validator_ids_by_day_sums(
    validators,
    key: str,
    *,
    descending: bool,
    first_day,
    last_day,
    epochs_per_year: dict[int, float],
    apr_min_epochs: dict[int, int] | None = None,
    start: int,
    stop: int,
) -> list[int]:
    """The pks of the validators at positions [start, stop) when ordered by a figure of their
    day rows from `first_day` to `last_day` (key: "today", "24h" or "30d" for income, "apr" or
    "effectiveness"), in that order.

    One query: the window's day rows summed per validator (a grouped subquery, LEFT JOINed so
    validators without rows stay, last, whichever the direction), ordered and cut in SQL; ties
    go by farm name, index and pk. The orders are those of the figures: income is consensus ×
    10^9 + execution in wei; APR is income over Σ effective balance × the farm's epochs per year
    (`epochs_per_year` by farm id; a farm without one has none); income and APR are unknown
    without epochs or effective balance, effectiveness without ideal reward, APR also with
    fewer active epochs than the farm's `apr_min_epochs` (figures.APR_MIN_DAYS).
    On SQLite, where execution amounts are text and never summed in SQL, income and APR are
    ordered by consensus income alone (execution income is a few proposals' worth; the figures
    shown are still exact)."""
    exact_sql = sums_base_units()
    members, member_params = validators.order_by().values("pk").query.sql_with_params()
    execution = ", SUM(d.execution_income) AS execution" if exact_sql else ""
    income = "s.income * 1000000000 + s.execution" if exact_sql else "s.income"
    if key == "effectiveness":
        value = "CASE WHEN s.ideal > 0 THEN CAST(s.reward AS DOUBLE PRECISION) / s.ideal END"
        value_params = []
    elif key == "apr":
        per_year = " ".join("WHEN %s THEN %s" for _ in epochs_per_year)
        value_params = [x for farm_and_rate in epochs_per_year.items() for x in farm_and_rate]
        minimum = apr_min_epochs or {}
        least = " ".join("WHEN %s THEN %s" for _ in minimum)
        least_sql = f"s.active >= (CASE v.farm_id {least} ELSE 0 END)" if minimum else "1 = 1"
        gwei = "s.income + s.execution / 1000000000.0" if exact_sql else "s.income"
        value = (
            f"CASE WHEN s.balance > 0 AND {least_sql} THEN CAST({gwei} AS DOUBLE PRECISION) "
            f"* (CASE v.farm_id {per_year} END) / s.balance END"
            if epochs_per_year
            else "NULL"
        )
        value_params = [*(x for pair in minimum.items() for x in pair), *value_params]
    else:
        value, value_params = f"CASE WHEN s.epochs > 0 THEN {income} END", []
    direction = "DESC" if descending else "ASC"
    day = connection.ops.adapt_datefield_value
    sql = (
        f"SELECT v.id FROM {quote(Validator._meta.db_table)} v "
        f"INNER JOIN {quote(Farm._meta.db_table)} f ON f.id = v.farm_id "
        "LEFT JOIN (SELECT d.validator_id, SUM(d.epochs) AS epochs, SUM(d.income) AS income, "
        "SUM(d.effective_balance_sum) AS balance, SUM(d.attestations) AS active, "
        "SUM(d.attestation_reward) AS reward, "
        f"SUM(d.attestation_ideal) AS ideal{execution} "
        f"FROM {quote(ValidatorDay._meta.db_table)} d "
        f"WHERE d.day >= %s AND d.day <= %s AND d.validator_id IN ({members}) "
        "GROUP BY d.validator_id) s ON s.validator_id = v.id "
        f"WHERE v.id IN ({members}) "
        f"ORDER BY {value} {direction} NULLS LAST, f.name ASC, v.{quote('index')} ASC, v.id ASC "
        "LIMIT %s OFFSET %s"
    )
    params = [day(first_day), day(last_day), *member_params, *member_params, *value_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, max(0, stop - start), start])
        return [row[0] for row in cursor.fetchall()]
