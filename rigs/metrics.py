"""A farm's rigs and devices on /metrics (docs/metrics.md): the latest figures stored per rig and
per GPU, in the units of their names, and the farm's count of rigs by status."""

from collections import Counter

from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from rigs.models import Gpu, Rig

RIG_LABELS = ["farm_id", "rig_id", "rig"]
GPU_LABELS = ["farm_id", "rig_id", "rig", "gpu", "pci_bus", "name"]
SHARE_KINDS = ("accepted", "rejected", "stale", "invalid")


SILENT_CAN_BE = (Rig.Status.ONLINE, Rig.Status.DEGRADED)


def collect(farm_ids, options):
    rigs = list(
        Rig.objects.filter(farm_id__in=farm_ids)
        .order_by("farm_id", "pk")
        .values(
            "pk",
            "farm_id",
            "name",
            "status",
            "stale_at",
            "hashrate_hs",
            "power_w",
            "temperature_max_c",
            "gpus_reporting",
            "last_seen_at",
            *(f"shares_{kind}" for kind in SHARE_KINDS),
        )
    )
    by_status = Counter()
    count = GaugeMetricFamily(
        "ethdash_rigs", "Rigs of the farm, by status.", labels=["farm_id", "status"]
    )
    status = GaugeMetricFamily(
        "ethdash_rig_status", "1 for the rig's current status.", labels=[*RIG_LABELS, "status"]
    )
    gauges = {
        "hashrate_hs": GaugeMetricFamily(
            "ethdash_rig_hashrate_hashes_per_second",
            "The rig's hashrate in its latest sample.",
            labels=RIG_LABELS,
        ),
        "power_w": GaugeMetricFamily(
            "ethdash_rig_power_watts",
            "The rig's power draw in its latest sample.",
            labels=RIG_LABELS,
        ),
        "temperature_max_c": GaugeMetricFamily(
            "ethdash_rig_temperature_max_celsius",
            "The hottest device of the rig in its latest sample.",
            labels=RIG_LABELS,
        ),
        "gpus_reporting": GaugeMetricFamily(
            "ethdash_rig_gpus_reporting", "Devices in the rig's latest sample.", labels=RIG_LABELS
        ),
    }
    last_seen = GaugeMetricFamily(
        "ethdash_rig_last_seen_timestamp_seconds",
        "When the rig last reported or answered a poll (Unix time).",
        labels=RIG_LABELS,
    )
    shares = CounterMetricFamily(
        "ethdash_rig_shares",
        "The miner's cumulative share counts (reset when the miner restarts), by kind.",
        labels=[*RIG_LABELS, "kind"],
    )
    now = timezone.now()
    for rig in rigs:
        labels = [str(rig["farm_id"]), str(rig["pk"]), rig["name"]]
        # As pages read it (Rig.current_status): a rig past its stale_at is offline now, even
        # while no worker runs the sweep that writes it.
        current = rig["status"]
        if current in SILENT_CAN_BE and rig["stale_at"] is not None and rig["stale_at"] < now:
            current = Rig.Status.OFFLINE
        by_status[(rig["farm_id"], current)] += 1
        status.add_metric([*labels, current], 1)
        for field, family in gauges.items():
            if rig[field] is not None:
                family.add_metric(labels, rig[field])
        if rig["last_seen_at"] is not None:
            last_seen.add_metric(labels, rig["last_seen_at"].timestamp())
        for kind in SHARE_KINDS:
            if rig[f"shares_{kind}"] is not None:
                shares.add_metric([*labels, kind], rig[f"shares_{kind}"])
    for farm_id in farm_ids:
        for value in Rig.Status.values:
            count.add_metric([str(farm_id), value], by_status[(farm_id, value)])
    yield from (count, status, *gauges.values(), last_seen, shares)
    yield from _gpus(farm_ids)


def _gpus(farm_ids):
    fields = {
        "hashrate_hs": ("ethdash_gpu_hashrate_hashes_per_second", "The device's hashrate.", 1),
        "temperature_c": ("ethdash_gpu_temperature_celsius", "The device's core temperature.", 1),
        "memory_temperature_c": (
            "ethdash_gpu_memory_temperature_celsius",
            "The device's memory temperature.",
            1,
        ),
        # Prometheus keeps ratios in 0-1; the miners report per cent.
        "fan_pct": ("ethdash_gpu_fan_ratio", "The device's fan speed, 0 to 1.", 0.01),
        "power_w": ("ethdash_gpu_power_watts", "The device's power draw.", 1),
    }
    families = {
        field: (GaugeMetricFamily(name, f"{text} In its latest sample.", labels=GPU_LABELS), scale)
        for field, (name, text, scale) in fields.items()
    }
    rows = (
        Gpu.objects.filter(rig__farm_id__in=farm_ids)
        .order_by("rig__farm_id", "rig_id", "index")
        .values("rig__farm_id", "rig_id", "rig__name", "index", "pci_bus", "name", *fields)
    )
    for gpu in rows:
        labels = [
            str(gpu["rig__farm_id"]),
            str(gpu["rig_id"]),
            gpu["rig__name"],
            str(gpu["index"]),
            "" if gpu["pci_bus"] is None else str(gpu["pci_bus"]),
            gpu["name"],
        ]
        for field, (family, scale) in families.items():
            if gpu[field] is not None:
                family.add_metric(labels, gpu[field] * scale)
    yield from (family for family, _ in families.values())
