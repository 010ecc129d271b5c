"""Reading rig and GPU history for charts and the API, at the resolution the range calls for."""

from rigs.models import GpuRollup, GpuSample, RigRollup, RigSample
from rigs.services.rollups import BUCKET_S, bucket_start, choose_resolution


def rig_series(rig, *, since, until, resolution="auto"):
    """{"resolution", "rig": {ts, hashrate_hs, power_w}, "gpus": [{id, index, name, ts,
    hashrate_hs, temperature_c}]} for [since, until]; averages when rolled up."""
    if resolution == "auto":
        resolution = choose_resolution(since, until, rig.cadence_s)
    since = _first_bucket(since, resolution)
    gpus = {
        gpu.pk: {
            "id": gpu.pk,
            "index": gpu.index,
            "kind": gpu.kind,
            "name": gpu.name,
            "ts": [],
            "hashrate_hs": [],
            "temperature_c": [],
        }
        for gpu in rig.gpus.all()
    }
    if resolution == "raw":
        rig_rows = RigSample.objects.filter(rig=rig, ts__gte=since, ts__lte=until).values_list(
            "ts", "hashrate_hs", "power_w"
        )
        gpu_rows = GpuSample.objects.filter(gpu__rig=rig, ts__gte=since, ts__lte=until).values_list(
            "gpu_id", "ts", "hashrate_hs", "temperature_c"
        )
    else:
        rig_rows = RigRollup.objects.filter(
            rig=rig, resolution=resolution, ts__gte=since, ts__lte=until
        ).values_list("ts", "hashrate_avg", "power_avg")
        gpu_rows = GpuRollup.objects.filter(
            gpu__rig=rig, resolution=resolution, ts__gte=since, ts__lte=until
        ).values_list("gpu_id", "ts", "hashrate_avg", "temperature_avg")
    totals = {"ts": [], "hashrate_hs": [], "power_w": []}
    for ts, hashrate, power in rig_rows.order_by("ts").iterator(chunk_size=5000):
        totals["ts"].append(ts)
        totals["hashrate_hs"].append(hashrate)
        totals["power_w"].append(power)
    for gpu_id, ts, hashrate, temperature in gpu_rows.order_by("gpu_id", "ts").iterator(
        chunk_size=5000
    ):
        entry = gpus.get(gpu_id)
        if entry is not None:
            entry["ts"].append(ts)
            entry["hashrate_hs"].append(hashrate)
            entry["temperature_c"].append(temperature)
    return {"resolution": resolution, "rig": totals, "gpus": list(gpus.values())}


def gpu_series(gpu, *, since, until, resolution="auto"):
    """One GPU: {"resolution", "ts", "hashrate_hs", "temperature_c", "power_w", "fan_pct"}, with
    "hashrate_min"/"hashrate_max" when rolled up."""
    if resolution == "auto":
        resolution = choose_resolution(since, until, gpu.rig.cadence_s)
    since = _first_bucket(since, resolution)
    if resolution == "raw":
        fields = {
            "hashrate_hs": "hashrate_hs",
            "temperature_c": "temperature_c",
            "power_w": "power_w",
            "fan_pct": "fan_pct",
        }
        queryset = GpuSample.objects.filter(gpu=gpu, ts__gte=since, ts__lte=until)
    else:
        fields = {
            "hashrate_hs": "hashrate_avg",
            "hashrate_min": "hashrate_min",
            "hashrate_max": "hashrate_max",
            "temperature_c": "temperature_avg",
            "power_w": "power_avg",
            "fan_pct": "fan_avg",
        }
        queryset = GpuRollup.objects.filter(
            gpu=gpu, resolution=resolution, ts__gte=since, ts__lte=until
        )
    result = {"resolution": resolution, "ts": []} | {name: [] for name in fields}
    for row in (
        queryset.order_by("ts").values_list("ts", *fields.values()).iterator(chunk_size=5000)
    ):
        result["ts"].append(row[0])
        for name, value in zip(fields, row[1:], strict=True):
            result[name].append(value)
    return result


def _first_bucket(since, resolution):
    # A bucket that starts before the range but overlaps it belongs to the range.
    return since if resolution == "raw" else bucket_start(since, BUCKET_S[resolution])
