"""Reading rig and GPU history for charts and the API."""

from rigs.models import GpuSample, RigSample

CHART_FIELDS = ("hashrate_hs", "temperature_c")


def gpu_chart_series(rig, *, since, until):
    """Per GPU of the rig, its samples in [since, until] as parallel lists, ready for Plotly."""
    series = {
        gpu.pk: {"id": gpu.pk, "index": gpu.index, "name": gpu.name, "ts": []}
        | {f: [] for f in CHART_FIELDS}
        for gpu in rig.gpus.all()
    }
    rows = (
        GpuSample.objects.filter(gpu__rig=rig, ts__gte=since, ts__lte=until)
        .order_by("gpu_id", "ts")
        .values_list("gpu_id", "ts", *CHART_FIELDS)
    )
    for gpu_id, ts, *values in rows.iterator(chunk_size=5000):
        entry = series[gpu_id]
        entry["ts"].append(ts)
        for field, value in zip(CHART_FIELDS, values, strict=True):
            entry[field].append(value)
    return list(series.values())


def rig_chart_series(rig, *, since, until):
    rows = (
        RigSample.objects.filter(rig=rig, ts__gte=since, ts__lte=until)
        .order_by("ts")
        .values_list("ts", "hashrate_hs", "power_w")
    )
    ts, hashrate, power = [], [], []
    for row_ts, row_hashrate, row_power in rows.iterator(chunk_size=5000):
        ts.append(row_ts)
        hashrate.append(row_hashrate)
        power.append(row_power)
    return {"ts": ts, "hashrate_hs": hashrate, "power_w": power}
