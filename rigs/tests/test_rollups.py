from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from rigs.models import GpuRollup, GpuSample, Rig, RigRollup, RigSample
from rigs.services import rollups
from tests.factories import RigRollupFactory, sample_batch


def _store(alpha, *, start, ticks, step_s=30, hashrate=None):
    from rigs.api.serializers import TelemetryBatchSerializer
    from rigs.services.ingest import ingest_telemetry

    body = sample_batch(gpu_count=2, ticks=ticks, start=start, step_s=step_s)
    for i, sample in enumerate(body["samples"]):
        sample["hashrate_hs"] = hashrate(i) if hashrate else 50e6 + 1e5 * (i % 7)
        sample["temperature_c"] = 55.0 + (i % 5)
    serializer = TelemetryBatchSerializer(
        data=body,
        context={"gpus_by_index": {g.index: g for g in alpha.gpus}, "now": timezone.now()},
    )
    serializer.is_valid(raise_exception=True)
    ingest_telemetry(rig=alpha.rig, samples=serializer.validated_data["samples"])


@pytest.fixture
def hour_ago():
    now = timezone.now()
    return rollups.bucket_start(now, 3600) - timedelta(hours=1)


def test_hourly_rollup_of_a_gpu_equals_the_mean_of_its_raw_samples(alpha, hour_ago):
    # 120 samples per GPU at 30 s: a full hour, with uneven values.
    _store(alpha, start=hour_ago, ticks=120, hashrate=lambda i: 40e6 + (i * 7919) % 1000 * 1e4)

    rollups.update_rollups(now=hour_ago + timedelta(hours=1, minutes=1))

    gpu = alpha.gpus[0]
    raw = list(
        GpuSample.objects.filter(
            gpu=gpu, ts__gte=hour_ago, ts__lt=hour_ago + timedelta(hours=1)
        ).values_list("hashrate_hs", "temperature_c")
    )
    hourly = GpuRollup.objects.get(gpu=gpu, resolution="1h", ts=hour_ago)
    assert hourly.samples == len(raw) == 120
    assert hourly.hashrate_avg == pytest.approx(sum(h for h, _ in raw) / len(raw))
    assert hourly.hashrate_min == min(h for h, _ in raw)
    assert hourly.hashrate_max == max(h for h, _ in raw)
    assert hourly.temperature_avg == pytest.approx(sum(t for _, t in raw) / len(raw))
    assert (
        GpuRollup.objects.filter(
            gpu=gpu, resolution="5m", ts__gte=hour_ago, ts__lt=hour_ago + timedelta(hours=1)
        ).count()
        == 12
    )
    rig_hourly = RigRollup.objects.get(rig=alpha.rig, resolution="1h", ts=hour_ago)
    rig_raw = list(
        RigSample.objects.filter(
            rig=alpha.rig, ts__gte=hour_ago, ts__lt=hour_ago + timedelta(hours=1)
        ).values_list("hashrate_hs", flat=True)
    )
    assert rig_hourly.hashrate_avg == pytest.approx(sum(rig_raw) / len(rig_raw))
    assert RigRollup.objects.filter(rig=alpha.rig, resolution="1d").exists()


def test_rerunning_rebuilds_the_same_buckets_without_duplicates(alpha, hour_ago):
    _store(alpha, start=hour_ago, ticks=20)
    now = hour_ago + timedelta(minutes=11)
    rollups.update_rollups(now=now)
    first = GpuRollup.objects.count()
    rollups.update_rollups(now=now)
    assert GpuRollup.objects.count() == first


def test_a_backfill_is_rolled_up_once_it_arrives(alpha):
    old = rollups.bucket_start(timezone.now() - timedelta(hours=5), 3600)
    _store(alpha, start=old, ticks=10)
    assert Rig.objects.get(pk=alpha.rig.pk).rollups_stale_from == old

    rollups.update_rollups()

    assert GpuRollup.objects.filter(resolution="1h", ts=old).count() == 2
    assert Rig.objects.get(pk=alpha.rig.pk).rollups_stale_from is None


@pytest.mark.parametrize(
    ("span", "cadence", "expected"),
    [
        (timedelta(hours=1), 5, "raw"),
        (timedelta(hours=12), 30, "raw"),
        (timedelta(days=1), 5, "5m"),
        (timedelta(days=5), 30, "5m"),
        (timedelta(days=30), 30, "1h"),
        (timedelta(days=365), 30, "1d"),
    ],
)
def test_resolution_auto_keeps_at_most_1500_points(span, cadence, expected):
    until = datetime(2026, 11, 25, tzinfo=UTC)
    assert rollups.choose_resolution(until - span, until, cadence) == expected


def test_hashrate_median_is_the_baseline_for_degraded(alpha):
    now = timezone.now()
    for minutes, value in enumerate([100e6, 110e6, 90e6, 300e6, 95e6]):
        ts = now - timedelta(minutes=5 * (minutes + 1))
        RigRollupFactory(rig=alpha.rig, resolution="5m", ts=ts, samples=10, hashrate_avg=value)
    rollups.refresh_hashrate_medians(now=now)
    assert Rig.objects.get(pk=alpha.rig.pk).hashrate_median_24h_hs == 100e6


def test_purge_keeps_what_retention_says(alpha, settings):
    now = timezone.now()
    _store(alpha, start=now - timedelta(minutes=5), ticks=2)
    GpuSample.objects.filter(gpu=alpha.gpus[0]).update(ts=F("ts") - timedelta(days=15))
    RigRollupFactory(rig=alpha.rig, resolution="5m", ts=now - timedelta(days=181), hashrate_avg=1)
    RigRollupFactory(rig=alpha.rig, resolution="1h", ts=now - timedelta(days=400), hashrate_avg=1)

    deleted = rollups.purge_expired(now=now)

    assert deleted["gpu_samples"] == 2
    assert GpuSample.objects.count() == 2
    assert list(RigRollup.objects.values_list("resolution", flat=True)) == ["1h"]
