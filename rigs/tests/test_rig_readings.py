"""Whole-rig readings (polled miners, Hive OS agents): GPU identity, restarts, status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from rigs.formats import GpuReading, MinerError, RigReading
from rigs.models import Gpu, GpuSample, Rig, RigSample
from rigs.services.ingest import record_poll_failures, store_readings


@pytest.fixture
def pushed(monkeypatch):
    sent = []
    # Captured where services hand events over; they leave for browsers only after commit.
    monkeypatch.setattr("ethdash.live.push", lambda farm_id, *events: sent.extend(events))
    return sent


def reading(buses, *, uptime_s=600, hashrate_hs=30e6, order=None):
    order = order or list(range(len(buses)))
    return RigReading(
        miner="PhoenixMiner",
        version="6.2c",
        algorithm="ethash",
        pool_url="stratum+tcp://eu1.example:4444",
        uptime_s=uptime_s,
        gpus=[
            GpuReading(
                index=position,
                pci_bus=buses[i],
                name="RX 6800",
                hashrate_hs=hashrate_hs + i,
                temperature_c=60.0 + i,
                power_w=140.0,
                shares_accepted=10 * i,
            )
            for position, i in enumerate(order)
        ],
    )


@pytest.fixture
def bare_rig(alpha):
    Gpu.objects.filter(rig=alpha.rig).delete()
    return alpha.rig


def test_first_reading_registers_gpus_by_bus_and_stores_samples(bare_rig, pushed):
    now = timezone.now()
    store_readings([(bare_rig, reading([3, 5, 9]))], now=now)

    gpus = list(Gpu.objects.filter(rig=bare_rig).order_by("index"))
    assert [(g.index, g.pci_bus, g.name) for g in gpus] == [
        (0, 3, "RX 6800"),
        (1, 5, "RX 6800"),
        (2, 9, "RX 6800"),
    ]
    assert GpuSample.objects.filter(gpu__rig=bare_rig, ts=now).count() == 3
    total = RigSample.objects.get(rig=bare_rig)
    assert total.hashrate_hs == pytest.approx(3 * 30e6 + 3)
    assert total.temperature_max_c == 62
    rig = Rig.objects.get(pk=bare_rig.pk)
    assert (rig.status, rig.miner, rig.miner_version, rig.algorithm, rig.uptime_s) == (
        "online", "PhoenixMiner", "6.2c", "ethash", 600,
    )  # fmt: skip
    assert [e["type"] for e in pushed].count("gpu.sample") == 3


def test_gpu_identity_survives_reordering(bare_rig, pushed):
    t0 = timezone.now() - timedelta(seconds=60)
    store_readings([(bare_rig, reading([3, 5, 9]))], now=t0)
    by_bus = {g.pci_bus: g.pk for g in Gpu.objects.filter(rig=bare_rig)}

    # The miner now lists bus 9 first: each sample must still land on its own GPU.
    store_readings(
        [(bare_rig, reading([3, 5, 9], order=[2, 0, 1]))], now=t0 + timedelta(seconds=30)
    )

    assert Gpu.objects.filter(rig=bare_rig).count() == 3
    latest = {
        s.gpu_id: s.hashrate_hs for s in GpuSample.objects.filter(ts=t0 + timedelta(seconds=30))
    }
    assert latest == {by_bus[3]: 30e6, by_bus[5]: 30e6 + 1, by_bus[9]: 30e6 + 2}


def test_same_instant_is_stored_once(bare_rig, pushed):
    now = timezone.now()
    store_readings([(bare_rig, reading([1, 2]))], now=now)
    store_readings([(bare_rig, reading([1, 2]))], now=now)
    assert GpuSample.objects.count() == 2
    assert RigSample.objects.count() == 1


def test_uptime_going_back_counts_a_restart(bare_rig, pushed):
    t0 = timezone.now() - timedelta(minutes=5)
    store_readings([(bare_rig, reading([1], uptime_s=3600))], now=t0)
    store_readings([(bare_rig, reading([1], uptime_s=3630))], now=t0 + timedelta(seconds=30))
    store_readings([(bare_rig, reading([1], uptime_s=20))], now=t0 + timedelta(seconds=60))
    rig = Rig.objects.get(pk=bare_rig.pk)
    assert (rig.restarts, rig.uptime_s) == (1, 20)


def test_missing_gpu_makes_the_rig_degraded_with_the_reason(bare_rig, pushed):
    t0 = timezone.now() - timedelta(minutes=1)
    store_readings([(bare_rig, reading([1, 2, 3]))], now=t0)

    store_readings([(bare_rig, reading([1, 3]))], now=t0 + timedelta(seconds=30))

    rig = Rig.objects.get(pk=bare_rig.pk)
    assert rig.status == Rig.Status.DEGRADED
    assert rig.status_reason == "2 of 3 GPUs reporting (not reporting: GPU 1 (bus 2))."
    status_events = [e for e in pushed if e["type"] == "rig.status"]
    assert status_events[-1]["status"] == "degraded"
    assert status_events[-1]["reason"] == rig.status_reason


def test_hashrate_under_80_percent_of_the_24h_median_is_degraded(bare_rig, pushed):
    Rig.objects.filter(pk=bare_rig.pk).update(hashrate_median_24h_hs=100e6)
    bare_rig.refresh_from_db()
    store_readings([(bare_rig, reading([1], hashrate_hs=70e6))])
    rig = Rig.objects.get(pk=bare_rig.pk)
    assert rig.status == Rig.Status.DEGRADED
    assert "70% of its 24-hour median" in rig.status_reason


def test_poll_failure_marks_unreachable_and_a_good_poll_recovers(bare_rig, pushed):
    record_poll_failures([(bare_rig, MinerError("refused", "Connection refused."))])
    rig = Rig.objects.get(pk=bare_rig.pk)
    assert (rig.status, rig.last_error_kind, rig.last_error) == (
        "unreachable",
        "refused",
        "Connection refused.",
    )
    assert rig.status_reason == "Miner API: Connection refused."

    store_readings([(rig, reading([1]))])

    rig.refresh_from_db()
    assert (rig.status, rig.last_error) == ("online", "")
    assert [(e["previous"], e["status"]) for e in pushed if e["type"] == "rig.status"] == [
        ("new", "unreachable"),
        ("unreachable", "online"),
    ]


def test_many_rigs_in_one_call_use_a_fixed_number_of_queries(
    db, django_assert_max_num_queries, pushed
):
    from tests.factories import make_farm

    worlds = [make_farm(f"F{i}", gpus=0) for i in range(5)]
    store_readings([(w.rig, reading([1, 2])) for w in worlds])  # registers the GPUs
    later = timezone.now() + timedelta(seconds=1)
    rigs = [Rig.objects.get(pk=w.rig.pk) for w in worlds]
    with django_assert_max_num_queries(12):
        store_readings([(rig, reading([1, 2])) for rig in rigs], now=later)
    assert GpuSample.objects.filter(ts=later).count() == 10


def test_gpu_without_a_hashrate_yet_reports_but_stores_no_sample(bare_rig, pushed):
    first = reading([1, 2])
    first.gpus[1].hashrate_hs = None

    store_readings([(bare_rig, first)])

    assert GpuSample.objects.count() == 1
    rig = Rig.objects.get(pk=bare_rig.pk)
    assert (rig.gpus_reporting, rig.status) == (2, "online")
