"""Pool-wide statistics as chart series."""

from ethdash.timeseries import iso
from pools.models import PoolStatsSample

SERIES_FIELDS = ("pool_hashrate_hs", "network_hashrate_hs", "miners", "workers", "effort")


def pool_stats_series(pool, *, since, until=None):
    """{"pool": id, "ts": [...], <field>: [...]} for the pool's samples in the range, oldest
    first; a figure the pool's format does not give is null throughout."""
    rows = PoolStatsSample.objects.filter(pool=pool, ts__gte=since)
    if until is not None:
        rows = rows.filter(ts__lte=until)
    series = {"pool": pool.pk, "ts": [], **{field: [] for field in SERIES_FIELDS}}
    for row in rows.order_by("ts").values_list("ts", *SERIES_FIELDS):
        series["ts"].append(iso(row[0]))
        for field, value in zip(SERIES_FIELDS, row[1:], strict=True):
            series[field].append(value)
    return series
