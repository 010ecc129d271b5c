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


def _reference(rows, bucket_s):
    """What a rollup of raw rows (ts, field -> value) must hold, computed the plain way: the
    5-minute bucket from its raw rows; an hourly one from those 5-minute figures, averages
    weighted by each 5-minute bucket's sample count (a bucket's average of a figure some of
    its samples lack still counts for all of them: rollups keep one count per bucket)."""
    fine = {}
    for row in sorted(rows, key=lambda r: r["ts"]):
        fine.setdefault(rollups.bucket_start(row["ts"], 300), []).append(row)

    def figures(members):
        def present(field):
            return [m[field] for m in members if m[field] is not None]

        return {
            "samples": len(members),
            "avg": lambda f: sum(present(f)) / len(present(f)) if present(f) else None,
            "min": lambda f: min(present(f)) if present(f) else None,
            "max": lambda f: max(present(f)) if present(f) else None,
            "last": lambda f: present(f)[-1] if present(f) else None,
        }

    fine = {ts: figures(members) for ts, members in fine.items()}
    if bucket_s == 300:
        return fine
    coarse = {}
    for ts, fig in sorted(fine.items()):
        coarse.setdefault(rollups.bucket_start(ts, bucket_s), []).append(fig)

    def weighted(figs, field):
        pairs = [(f["avg"](field), f["samples"]) for f in figs if f["avg"](field) is not None]
        total = sum(n for _, n in pairs)
        return sum(v * n for v, n in pairs) / total if total else None

    out = {}
    for ts, figs in coarse.items():

        def extreme(field, how, chooser, figs=figs):
            values = [f[how](field) for f in figs if f[how](field) is not None]
            return chooser(values) if values else None

        def last(field, figs=figs):
            values = [f["last"](field) for f in figs if f["last"](field) is not None]
            return values[-1] if values else None

        out[ts] = {
            "samples": sum(f["samples"] for f in figs),
            "avg": lambda field, figs=figs: weighted(figs, field),
            "min": lambda field, extreme=extreme: extreme(field, "min", min),
            "max": lambda field, extreme=extreme: extreme(field, "max", max),
            "last": last,
        }
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_rollups_equal_the_plain_computation_with_gaps_and_nulls(alpha, hour_ago, seed):
    """Every column of every 5-minute and hourly bucket, against the raw rows: nulls anywhere
    (also in a bucket's last sample, where "last" is the latest non-null value), uneven
    spacing, several buckets, and the backfill path narrowed to one rig."""
    import random

    rng = random.Random(seed)
    gpu = alpha.gpus[0]

    def maybe(value):
        return None if rng.random() < 0.3 else value

    gpu_rows, rig_rows, ts = [], [], hour_ago
    while ts < hour_ago + timedelta(minutes=58):
        ts += timedelta(seconds=rng.choice([7, 30, 45, 120]), microseconds=rng.randrange(10**6))
        gpu_rows.append(
            {
                "ts": ts,
                "hashrate_hs": rng.uniform(1e6, 9e7),
                "temperature_c": maybe(rng.uniform(30, 90)),
                "power_w": maybe(rng.uniform(50, 300)),
                "fan_pct": maybe(rng.uniform(0, 100)),
                "shares_accepted": maybe(rng.randrange(10**12)),
                "shares_rejected": None,
                "shares_stale": maybe(3),
                "shares_invalid": maybe(2**62),
            }
        )
        rig_rows.append(
            {
                "ts": ts,
                "hashrate_hs": rng.uniform(1e6, 9e7),
                "power_w": maybe(rng.uniform(50, 3000)),
                "temperature_max_c": maybe(rng.uniform(30, 90)),
                "gpus_reporting": rng.randrange(9),
                "shares_accepted": maybe(rng.randrange(100)),
                "shares_rejected": maybe(1),
                "shares_stale": None,
                "shares_invalid": None,
            }
        )
    GpuSample.objects.bulk_create([GpuSample(gpu=gpu, **row) for row in gpu_rows])
    RigSample.objects.bulk_create([RigSample(rig=alpha.rig, **row) for row in rig_rows])

    until = hour_ago + timedelta(hours=1)
    for resolution in (rollups.Resolution.FIVE_MINUTES, rollups.Resolution.HOUR):
        rollups.rebuild(resolution, since=hour_ago, until=until, rig_ids=[alpha.rig.pk])

    gpu_fields = {"hashrate": "hashrate_hs", "temperature": "temperature_c", "power": "power_w"}
    for resolution, bucket_s in (("5m", 300), ("1h", 3600)):
        expected = _reference(gpu_rows, bucket_s)
        stored = {r.ts: r for r in GpuRollup.objects.filter(gpu=gpu, resolution=resolution)}
        assert set(stored) == set(expected)
        for ts, want in expected.items():
            got = stored[ts]
            assert got.samples == want["samples"]
            for metric, field in gpu_fields.items():
                for how in ("avg", "min", "max", "last"):
                    assert getattr(got, f"{metric}_{how}") == pytest.approx(want[how](field))
            assert got.fan_avg == pytest.approx(want["avg"]("fan_pct"))
            for counter in rollups.GPU_COUNTERS:
                assert getattr(got, f"{counter}_last") == want["last"](counter)

        expected = _reference(rig_rows, bucket_s)
        stored = {r.ts: r for r in RigRollup.objects.filter(rig=alpha.rig, resolution=resolution)}
        assert set(stored) == set(expected)
        for ts, want in expected.items():
            got = stored[ts]
            assert got.samples == want["samples"]
            for metric, field in {"hashrate": "hashrate_hs", "power": "power_w"}.items():
                for how in ("avg", "min", "max", "last"):
                    assert getattr(got, f"{metric}_{how}") == pytest.approx(want[how](field))
            assert got.temperature_max_avg == pytest.approx(want["avg"]("temperature_max_c"))
            assert got.temperature_max_max == want["max"]("temperature_max_c")
            assert got.gpus_reporting_min == want["min"]("gpus_reporting")
            for counter in rollups.GPU_COUNTERS:
                assert getattr(got, f"{counter}_last") == want["last"](counter)
