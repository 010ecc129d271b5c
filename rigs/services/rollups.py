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
from django.db import transaction
from django.utils import timezone

from ethdash.db import bulk_update_columns
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
    """Recomputes every bucket of `resolution` that overlaps [since, until]."""
    seconds = BUCKET_S[resolution]
    start = bucket_start(since, seconds)
    source = dict(CHAIN)[resolution]
    with transaction.atomic():
        if source is None:
            gpu_rows = _raw_gpu_rows(start, until, rig_ids)
            rig_rows = _raw_rig_rows(start, until, rig_ids)
        else:
            gpu_rows = _rollup_rows(GpuRollup, "gpu", source, start, until, rig_ids)
            rig_rows = _rollup_rows(RigRollup, "rig", source, start, until, rig_ids)
        gpu_rollups = [
            bucket
            for key, rows in _group(gpu_rows, seconds).items()
            if (bucket := _gpu_bucket(key, rows, resolution)) is not None
        ]
        rig_rollups = [
            bucket
            for key, rows in _group(rig_rows, seconds).items()
            if (bucket := _rig_bucket(key, rows, resolution)) is not None
        ]
        _upsert(GpuRollup, gpu_rollups, "gpu")
        _upsert(RigRollup, rig_rollups, "rig")
    return len(gpu_rollups), len(rig_rollups)


def _upsert(model, rollups, owner):
    keys = (owner, "resolution", "ts")
    model.objects.bulk_create(
        rollups,
        update_conflicts=True,
        unique_fields=list(keys),
        update_fields=[f.name for f in model._meta.concrete_fields if f.name not in ("id", *keys)],
    )


def _single(metric, value):
    """One raw value as a bucket of one: it is its own average, minimum, maximum and last."""
    return {f"{metric}_{part}": value for part in ("avg", "min", "max", "last")}


# Rows are normalised to dicts: {"owner", "ts", "n", <metric>_avg/_min/_max/_last, ...}; a raw
# sample is a bucket of one.


# The lookup that narrows each owner's rows to some rigs.
_RIG_LOOKUP = {"gpu": "gpu__rig_id__in", "rig": "rig_id__in"}


def _rows(model, owner, start, until, rig_ids, fields=(), **filters):
    """`model`'s rows in [start, until] (of `rig_ids` only, when given), by owner then time."""
    queryset = model.objects.filter(ts__gte=start, ts__lte=until, **filters)
    if rig_ids is not None:
        queryset = queryset.filter(**{_RIG_LOOKUP[owner]: rig_ids})
    ordered = queryset.order_by(f"{owner}_id", "ts")
    return ordered.values(*fields).iterator(chunk_size=10000)


def _raw_gpu_rows(start, until, rig_ids):
    fields = ["gpu_id", "ts", *GPU_METRICS.values(), "fan_pct", *GPU_COUNTERS]
    for row in _rows(GpuSample, "gpu", start, until, rig_ids, fields):
        out = {"owner": row["gpu_id"], "ts": row["ts"], "n": 1, "fan_avg": row["fan_pct"]}
        for metric, field in GPU_METRICS.items():
            out |= _single(metric, row[field])
        out |= {f"{c}_last": row[c] for c in GPU_COUNTERS}
        yield out


def _raw_rig_rows(start, until, rig_ids):
    fields = [
        "rig_id", "ts", *RIG_METRICS.values(), "temperature_max_c", "gpus_reporting",
        *GPU_COUNTERS,
    ]  # fmt: skip
    for row in _rows(RigSample, "rig", start, until, rig_ids, fields):
        out = {"owner": row["rig_id"], "ts": row["ts"], "n": 1}
        for metric, field in RIG_METRICS.items():
            out |= _single(metric, row[field])
        out |= {
            "temperature_max_avg": row["temperature_max_c"],
            "temperature_max_max": row["temperature_max_c"],
            "gpus_reporting_min": row["gpus_reporting"],
            **{f"{c}_last": row[c] for c in GPU_COUNTERS},
        }
        yield out


def _rollup_rows(model, owner, source, start, until, rig_ids):
    for row in _rows(model, owner, start, until, rig_ids, resolution=source):
        yield row | {"owner": row[f"{owner}_id"], "n": row["samples"]}


def _group(rows, seconds):
    groups = defaultdict(list)
    for row in rows:
        groups[(row["owner"], bucket_start(row["ts"], seconds))].append(row)
    return groups


def _weighted_avg(rows, field):
    pairs = [(r[field], r["n"]) for r in rows if r[field] is not None]
    weight = sum(n for _, n in pairs)
    return sum(v * n for v, n in pairs) / weight if weight else None


def _extreme(rows, field, pick):
    values = [r[field] for r in rows if r[field] is not None]
    return pick(values) if values else None


def _last(rows, field):
    for row in reversed(rows):
        if row[field] is not None:
            return row[field]
    return None


def _metric_columns(rows, metric):
    return {
        f"{metric}_avg": _weighted_avg(rows, f"{metric}_avg"),
        f"{metric}_min": _extreme(rows, f"{metric}_min", min),
        f"{metric}_max": _extreme(rows, f"{metric}_max", max),
        f"{metric}_last": _last(rows, f"{metric}_last"),
    }


def _bucket(model, owner, metrics, key, rows, resolution, **columns):
    """One rollup of `model` for the rows of one owner's bucket: the metrics' avg/min/max/last
    and the sample count, plus the model's own `columns`."""
    owner_id, ts = key
    for metric in metrics:
        columns |= _metric_columns(rows, metric)
    # Averages of in-range figures stay finite (rigs.limits); checked after the arithmetic all
    # the same: such a figure becomes no figure, and a bucket without a hashrate is not stored,
    # so one bad bucket never fails the run for every rig.
    columns = {name: limits.finite_or_none(value) for name, value in columns.items()}
    if any(columns[f"hashrate_{part}"] is None for part in ("avg", "min", "max", "last")):
        return None
    return model(
        **{f"{owner}_id": owner_id},
        resolution=resolution,
        ts=ts,
        samples=sum(r["n"] for r in rows),
        **columns,
    )


def _gpu_bucket(key, rows, resolution):
    return _bucket(
        GpuRollup,
        "gpu",
        GPU_METRICS,
        key,
        rows,
        resolution,
        fan_avg=_weighted_avg(rows, "fan_avg"),
        **{f"{c}_last": _last(rows, f"{c}_last") for c in GPU_COUNTERS},
    )


def _rig_bucket(key, rows, resolution):
    return _bucket(
        RigRollup,
        "rig",
        RIG_METRICS,
        key,
        rows,
        resolution,
        temperature_max_avg=_weighted_avg(rows, "temperature_max_avg"),
        temperature_max_max=_extreme(rows, "temperature_max_max", max),
        gpus_reporting_min=_extreme(rows, "gpus_reporting_min", min),
        **{f"{c}_last": _last(rows, f"{c}_last") for c in GPU_COUNTERS},
    )


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
