"""Rollups at 5 minutes, 1 hour and 1 day (avg, min, max, last), kept up to date incrementally.

Each run rebuilds only the buckets that can still change: the current and previous bucket of
each resolution, plus, for a rig that received a backfill, everything from the backfill's oldest
sample on (Rig.rollups_stale_from). 5-minute buckets come from raw samples, hourly ones from
5-minute buckets and daily ones from hourly buckets, with averages weighted by sample count, so
an hourly average equals the mean of the raw samples of that hour.
"""

import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Sum,
    Value,
    When,
)
from django.db.models.functions import NullIf
from django.utils import timezone

from ethdash.db import TimeBucket, bulk_update_columns, for_aggregation
from rigs import limits
from rigs.models import GpuRollup, GpuSample, Resolution, Rig, RigRollup, RigSample

BUCKET_S = {Resolution.FIVE_MINUTES: 300, Resolution.HOUR: 3600, Resolution.DAY: 86400}
CHAIN = [
    (Resolution.FIVE_MINUTES, None),
    (Resolution.HOUR, Resolution.FIVE_MINUTES),
    (Resolution.DAY, Resolution.HOUR),
]
RETENTION = {Resolution.FIVE_MINUTES: timedelta(days=180)}  # hourly and daily are kept
MAX_POINTS = 1500

# metric -> (raw field on GpuSample); the rollup columns are <metric>_avg/_min/_max/_last.
GPU_METRICS = {"hashrate": "hashrate_hs", "temperature": "temperature_c", "power": "power_w"}
# Cumulative share counters, on GPU and rig samples alike: rollups keep their last value.
GPU_COUNTERS = ("shares_accepted", "shares_rejected", "shares_stale", "shares_invalid")
RIG_METRICS = {"hashrate": "hashrate_hs", "power": "power_w"}


def bucket_start(ts, seconds):
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def choose_resolution(since, until, cadence_s):
    """The finest resolution whose point count for [since, until] stays within MAX_POINTS."""
    span = (until - since).total_seconds()
    if span / max(cadence_s, 1) <= MAX_POINTS:
        return "raw"
    for resolution in (Resolution.FIVE_MINUTES, Resolution.HOUR):
        if span / BUCKET_S[resolution] <= MAX_POINTS:
            return resolution.value
    return Resolution.DAY.value


def update_rollups(*, now=None):
    """The periodic step: recent buckets of every rig, and the backfilled ranges."""
    now = now or timezone.now()
    for resolution, _ in CHAIN:
        seconds = BUCKET_S[resolution]
        since = bucket_start(now, seconds) - timedelta(seconds=seconds)
        rebuild(resolution, since=since, until=now)
    stale = list(
        Rig.objects.filter(rollups_stale_from__isnull=False).values_list("pk", "rollups_stale_from")
    )
    for rig_id, stale_from in stale:
        for resolution, _ in CHAIN:
            rebuild(resolution, since=stale_from, until=now, rig_ids=[rig_id])
        Rig.objects.filter(pk=rig_id, rollups_stale_from=stale_from).update(rollups_stale_from=None)


def rebuild(resolution, *, since, until, rig_ids=None):
    """Recomputes every bucket of `resolution` that overlaps [since, until]; returns how many
    GPU and rig rollups were written (a bucket that rolls up to what is stored is left as is)."""
    seconds = BUCKET_S[resolution]
    start = bucket_start(since, seconds)
    source = dict(CHAIN)[resolution]
    with transaction.atomic():
        for_aggregation()
        return tuple(
            _roll_up(*tables, Resolution(resolution), source, seconds, (start, until), rig_ids)
            for tables in (
                (GpuSample, GpuRollup, "gpu", GPU_COLUMNS),
                (RigSample, RigRollup, "rig", RIG_COLUMNS),
            )
        )


# Rollup column -> (how it is rolled up, the raw sample field it comes from). Rolling rollups
# up, a column comes from the same column of the finer resolution: averages weighted by
# sample count, minimum of minimums, maximum of maximums, the latest non-null last.
GPU_COLUMNS = (
    {
        f"{metric}_{how}": (how, field)
        for metric, field in GPU_METRICS.items()
        for how in ("avg", "min", "max", "last")
    }
    | {"fan_avg": ("avg", "fan_pct")}
    | {f"{c}_last": ("last", c) for c in GPU_COUNTERS}
)
RIG_COLUMNS = (
    {
        f"{metric}_{how}": (how, field)
        for metric, field in RIG_METRICS.items()
        for how in ("avg", "min", "max", "last")
    }
    | {
        "temperature_max_avg": ("avg", "temperature_max_c"),
        "temperature_max_max": ("max", "temperature_max_c"),
        "gpus_reporting_min": ("min", "gpus_reporting"),
    }
    | {f"{c}_last": ("last", c) for c in GPU_COUNTERS}
)

_SUM_SCALE = 2.0**-40

# The lookup that narrows each owner's rows to some rigs.
_RIG_LOOKUP = {"gpu": "gpu__rig_id__in", "rig": "rig_id__in"}


def _roll_up(raw_model, rollup_model, owner, columns, resolution, source, seconds, span, rig_ids):
    """Writes every owner's `resolution` buckets in `span` (start, until) from `source` (raw samples
    when None), in one INSERT ... SELECT; returns how many rows it wrote.

    The database does the arithmetic, and the rows never leave it. Rolling up in Python read
    every raw sample of the last ten minutes each minute and held a core for seconds while
    pages waited (bench/rollups.py: 2.7 s a step for 200 rigs of 8 GPUs); writing the buckets
    back through Python took most of what was left. Rows are grouped by owner and bucket; each
    group is joined to its latest row (hashrate is never null, so that is the row at the
    group's latest time) for the "last" columns, and a "last" figure that row lacks is read
    from the bucket's latest row that has it, through the (owner, ts) unique index.
    """
    start, until = span
    model = raw_model if source is None else rollup_model
    queryset = model.objects.filter(ts__gte=start, ts__lte=until)
    if source is not None:
        queryset = queryset.filter(resolution=source)
    if rig_ids is not None:
        queryset = queryset.filter(**{_RIG_LOOKUP[owner]: rig_ids})
    weight = Value(1) if source is None else F("samples")
    aggregates = {"n": Count("pk") if source is None else Sum("samples"), "t_latest": Max("ts")}
    lasts = {}  # rollup column -> source field
    for name, (how, raw_field) in columns.items():
        field = raw_field if source is None else name
        if how == "avg":
            # Scaled down before it is weighted and added up: in-range figures add up to far
            # less than a float holds, but a stored figure may be anything up to ethdash.db's
            # FINITE_BOUND, and on PostgreSQL a float sum that overflows is an error that would
            # cost every rig its rollups. A power of two scales exactly; undone after dividing,
            # when the average is no larger than the largest figure.
            weights = Sum(Case(When(**{f"{field}__isnull": False}, then=weight), default=0))
            aggregates[name] = ExpressionWrapper(
                Sum(F(field) * Value(_SUM_SCALE) * weight) / NullIf(weights, 0) / _SUM_SCALE,
                output_field=FloatField(),
            )
        elif how == "min":
            aggregates[name] = Min(field)
        elif how == "max":
            aggregates[name] = Max(field)
        else:
            aggregates[f"t_{name}"] = Max(Case(When(**{f"{field}__isnull": False}, then="ts")))
            lasts[name] = model._meta.get_field(field).column
    grouped = (
        queryset.annotate(bucket=TimeBucket("ts", seconds))
        .values(f"{owner}_id", "bucket")
        .annotate(**aggregates)
        .order_by()
    )
    inner, inner_params = grouped.query.sql_with_params()

    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    owner_column = quote(f"{owner}_id")
    same_resolution = " AND {0}.resolution = %s" if source is not None else ""
    select, select_params = [f"m.{owner_column}", "%s", "m.bucket", "m.n"], [resolution.value]
    for name in columns:
        if name not in lasts:
            select.append(f"m.{quote(name)}")
            continue
        column = quote(lasts[name])
        select.append(
            f"COALESCE(s.{column}, (SELECT x.{column} FROM {table} x WHERE x.{owner_column} = "
            f"m.{owner_column} AND x.ts = m.{quote('t_' + name)}{same_resolution.format('x')}))"
        )
        if source is not None:
            select_params.append(source)
    adapt = connection.ops.adapt_datetimefield_value  # as the ORM sends a time (text on SQLite)
    join_params = [adapt(start), adapt(until)] + ([source] if source is not None else [])

    target = [quote(f"{owner}_id"), "resolution", "ts", "samples", *map(quote, columns)]
    figures = target[3:]
    rollup_table = quote(rollup_model._meta.db_table)
    sql = (
        f"INSERT INTO {rollup_table} ({', '.join(target)}) "
        f"SELECT {', '.join(select)} FROM ({inner}) m INNER JOIN {table} s "
        f"ON s.{owner_column} = m.{owner_column} AND s.ts = m.{quote('t_latest')} "
        f"AND s.ts >= %s AND s.ts <= %s{same_resolution.format('s')} "
        # SQLite needs a WHERE before an upsert's ON CONFLICT, to tell it from a join's ON.
        "WHERE 1 = 1 "
        f"ON CONFLICT ({owner_column}, resolution, ts) DO UPDATE SET "
        + ", ".join(f"{column} = EXCLUDED.{column}" for column in figures)
        # A closed bucket rolls up to what is stored already (the step rebuilds the previous
        # bucket of each resolution every minute): such a row is left as it is, not rewritten.
        + f" WHERE ({', '.join(f'{rollup_table}.{column}' for column in figures)}) "
        f"IS DISTINCT FROM ({', '.join(f'EXCLUDED.{column}' for column in figures)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*select_params, *inner_params, *join_params])
        return cursor.rowcount


def refresh_hashrate_medians(*, now=None):
    """Each rig's median hashrate over the last 24 hours of 5-minute averages: the baseline a
    rig is compared with to call it degraded."""
    now = now or timezone.now()
    values = defaultdict(list)
    rows = RigRollup.objects.filter(
        resolution=Resolution.FIVE_MINUTES, ts__gte=now - timedelta(hours=24)
    ).values_list("rig_id", "hashrate_avg")
    for rig_id, hashrate in rows.iterator(chunk_size=20000):
        values[rig_id].append(hashrate)
    rigs = list(Rig.objects.filter(pk__in=values).only("id"))
    for rig in rigs:
        rig.hashrate_median_24h_hs = limits.finite_or_none(statistics.median(values[rig.pk]))
    bulk_update_columns(rigs, ["hashrate_median_24h_hs"])
    return len(rigs)


def purge_expired(*, now=None):
    """Deletes raw samples past ETHDASH_RAW_RETENTION_DAYS and 5-minute rollups past 180 days;
    hourly and daily rollups are kept."""
    now = now or timezone.now()
    raw_cutoff = now - timedelta(days=settings.ETHDASH_RAW_RETENTION_DAYS)
    deleted = {
        "gpu_samples": GpuSample.objects.filter(ts__lt=raw_cutoff).delete()[0],
        "rig_samples": RigSample.objects.filter(ts__lt=raw_cutoff).delete()[0],
    }
    for resolution, keep in RETENTION.items():
        cutoff = now - keep
        deleted[f"gpu_rollups_{resolution}"] = GpuRollup.objects.filter(
            resolution=resolution, ts__lt=cutoff
        ).delete()[0]
        deleted[f"rig_rollups_{resolution}"] = RigRollup.objects.filter(
            resolution=resolution, ts__lt=cutoff
        ).delete()[0]
    return deleted
