"""Storing rig telemetry: the only writer of GPU and rig samples."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from ethdash import live
from ethdash.timeseries import iso
from rigs.models import GpuSample, Rig, RigSample

SAMPLE_FIELDS = (
    "hashrate_hs",
    "temperature_c",
    "fan_pct",
    "power_w",
    "shares_accepted",
    "shares_rejected",
    "shares_stale",
)


def sample_time_problem(ts, now):
    """Why a sample's timestamp cannot be stored, or None when it can."""
    if ts > now + timedelta(seconds=settings.ETHDASH_MAX_FUTURE_S):
        limit = settings.ETHDASH_MAX_FUTURE_S
        return f"is more than {limit} s in the future (server time {iso(now)})."
    retention = timedelta(days=settings.ETHDASH_RAW_RETENTION_DAYS)
    if ts < now - retention:
        return f"is older than the raw-sample retention of {retention.days} days."
    return None


@dataclass(frozen=True)
class IngestResult:
    received: int
    status_changed: bool


def ingest_telemetry(*, rig, samples, now=None):
    """Stores a validated batch of GPU samples of one rig in one transaction.

    `samples` are dicts with `gpu` (a Gpu of this rig), `ts` and SAMPLE_FIELDS. A sample whose
    (gpu, ts) is already stored is skipped, so a resent batch stores nothing twice. The rig's
    totals per instant are recomputed from the stored GPU samples, the rig is marked online, and
    the farm's browsers get the newest figures after commit.
    """
    now = now or timezone.now()
    if not samples:
        return IngestResult(received=0, status_changed=False)
    with transaction.atomic():
        locked = Rig.objects.select_for_update().get(pk=rig.pk)
        GpuSample.objects.bulk_create(
            [
                GpuSample(gpu=s["gpu"], ts=s["ts"], **{f: s.get(f) for f in SAMPLE_FIELDS})
                for s in samples
            ],
            ignore_conflicts=True,
        )
        rig_samples = _store_rig_totals(
            locked, min(s["ts"] for s in samples), max(s["ts"] for s in samples)
        )
        newest = rig_samples[-1]
        changes = {"last_seen_at": now, "stale_at": now + _offline_delay(locked)}
        if locked.last_sample_at is None or newest.ts >= locked.last_sample_at:
            changes.update(
                last_sample_at=newest.ts,
                hashrate_hs=newest.hashrate_hs,
                power_w=newest.power_w,
                temperature_max_c=newest.temperature_max_c,
                gpus_reporting=newest.gpus_reporting,
            )
        status_changed = locked.status != Rig.Status.ONLINE
        if status_changed:
            changes.update(status=Rig.Status.ONLINE, status_changed_at=now)
        Rig.objects.filter(pk=locked.pk).update(**changes)

        # A backfill (an agent flushing its buffer after an outage) is stored but not announced:
        # live charts show the present, and older points appear in place on the next load.
        previous = locked.last_sample_at
        fresh = [s for s in samples if previous is None or s["ts"] > previous]
        events = [_gpu_event(s) for s in _newest_per_gpu(fresh)]
        if fresh:
            events.append(_rig_sample_event(locked, newest, last_seen_at=now))
        if status_changed:
            events.append(status_event(locked, locked.status, Rig.Status.ONLINE, now))
        live.push(locked.farm_id, *events)
    return IngestResult(received=len(samples), status_changed=status_changed)


def _offline_delay(rig):
    return timedelta(seconds=rig.cadence_s * settings.ETHDASH_OFFLINE_AFTER_CADENCES)


def _store_rig_totals(rig, since, until):
    # From the stored rows rather than the batch, so a batch that brings the rest of an instant's
    # GPUs, or repeats some, still leaves the correct total.
    totals = (
        GpuSample.objects.filter(gpu__rig_id=rig.pk, ts__gte=since, ts__lte=until)
        .values("ts")
        .annotate(
            total_hashrate=Sum("hashrate_hs"),
            total_power=Sum("power_w"),
            max_temperature=Max("temperature_c"),
            gpus=Count("id"),
            accepted=Sum("shares_accepted"),
            rejected=Sum("shares_rejected"),
            stale=Sum("shares_stale"),
        )
        .order_by("ts")
    )
    rows = [
        RigSample(
            rig_id=rig.pk,
            ts=t["ts"],
            hashrate_hs=t["total_hashrate"],
            power_w=t["total_power"],
            temperature_max_c=t["max_temperature"],
            gpus_reporting=t["gpus"],
            shares_accepted=t["accepted"],
            shares_rejected=t["rejected"],
            shares_stale=t["stale"],
        )
        for t in totals
    ]
    RigSample.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["rig", "ts"],
        update_fields=[
            "hashrate_hs",
            "power_w",
            "temperature_max_c",
            "gpus_reporting",
            "shares_accepted",
            "shares_rejected",
            "shares_stale",
        ],
    )
    return rows


def _newest_per_gpu(samples):
    newest = {}
    for s in samples:
        current = newest.get(s["gpu"].pk)
        if current is None or s["ts"] > current["ts"]:
            newest[s["gpu"].pk] = s
    return newest.values()


def _gpu_event(sample):
    gpu = sample["gpu"]
    return {
        "type": "gpu.sample",
        "id": gpu.pk,
        "rig": gpu.rig_id,
        "index": gpu.index,
        "ts": iso(sample["ts"]),
        **{f: sample.get(f) for f in SAMPLE_FIELDS},
    }


def _rig_sample_event(rig, rig_sample, *, last_seen_at):
    return {
        "type": "rig.sample",
        "id": rig.pk,
        "ts": iso(rig_sample.ts),
        "last_seen_at": iso(last_seen_at),
        "status": Rig.Status.ONLINE.value,
        "hashrate_hs": rig_sample.hashrate_hs,
        "power_w": rig_sample.power_w,
        "temperature_max_c": rig_sample.temperature_max_c,
        "gpus_reporting": rig_sample.gpus_reporting,
    }


def status_event(rig, previous, status, ts):
    return {
        "type": "rig.status",
        "id": rig.pk,
        "ts": iso(ts),
        "status": str(status),
        "previous": str(previous),
    }
