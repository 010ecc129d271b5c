"""The miner's own rig-level totals are stored beside the sums over its devices (issue 12, items
3-5): every format's recorded answer, parsed and stored, lands with its exact figures; a CPU that
mines is a device of kind "cpu"; a device the miner reports as off is stored at 0 H/s and makes
the rig degraded, naming it."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from rigs.formats import claymore, ethminer, gminer, lolminer, nbminer, sgminer, trex, xmrig
from rigs.models import Gpu, GpuSample, Rig, RigRollup, RigSample
from rigs.services.efficiency import rig_figures
from rigs.services.ingest import ingest_hiveos, store_readings
from rigs.services.rollups import CHAIN, rebuild

FIXTURES = Path(__file__).parent / "fixtures"
MINERS = FIXTURES / "miners"


def fixture(name):
    return json.loads((MINERS / name).read_text())


@pytest.fixture
def pushed(monkeypatch):
    sent = []
    monkeypatch.setattr("ethdash.live.push", lambda farm_id, *events: sent.extend(events))
    return sent


@pytest.fixture
def rig(alpha):
    Gpu.objects.filter(rig=alpha.rig).delete()
    return alpha.rig


def stored(rig, reading, now=None):
    now = now or timezone.now()
    store_readings([(rig, reading)], now=now)
    return RigSample.objects.get(rig=rig, ts=now), Rig.objects.get(pk=rig.pk)


SHARES = ("shares_accepted", "shares_rejected", "shares_stale", "shares_invalid")


def figures(sample):
    return {
        "hashrate_hs": sample.hashrate_hs,
        "hashrate_reported_hs": sample.hashrate_reported_hs,
        "hashrate_devices_hs": sample.hashrate_devices_hs,
        **{f: getattr(sample, f) for f in SHARES},
    }


# Each format's recorded answer -> the rig sample stored from it, in H/s and share counts.
# None for a figure the miner does not give and its devices do not give either.
CASES = {
    # getstat1: "158214;3861;2" (kH/s; accepted; rejected), [8] "1;0;0;0" (invalid first). No
    # per-GPU shares and no stale count at all. GPU 4 is "off".
    "claymore_getstat1": (
        lambda: claymore.parse_getstat(fixture("claymore_getstat1.json")["result"]),
        {
            "hashrate_hs": 158_214_000.0,
            "hashrate_reported_hs": 158_214_000.0,
            "hashrate_devices_hs": 158_214_000.0,
            "shares_accepted": 3861,
            "shares_rejected": 2,
            "shares_stale": None,
            "shares_invalid": 1,
        },
    ),
    # getstat2: totals "366846;9120;3" and [8] "0;2;0;0"; per-GPU counters in [9]-[11].
    "phoenixminer_getstat2": (
        lambda: claymore.parse_getstat(fixture("claymore_getstat2.json")["result"]),
        {
            "hashrate_hs": 366_846_000.0,
            "hashrate_reported_hs": 366_846_000.0,
            "hashrate_devices_hs": 366_846_000.0,
            "shares_accepted": 9120,
            "shares_rejected": 3,
            "shares_stale": None,
            "shares_invalid": 0,
        },
    ),
    "ethminer": (
        lambda: ethminer.parse_getstatdetail(fixture("ethminer_getstatdetail.json")["result"]),
        {
            "hashrate_hs": 121_986_470.0,
            "hashrate_reported_hs": 121_986_470.0,
            "hashrate_devices_hs": 121_986_470.0,
            "shares_accepted": 409,
            "shares_rejected": 1,
            "shares_stale": None,
            "shares_invalid": 0,
        },
    ),
    # SUMMARY "KHS 30s" 248195.345, Accepted 5612, Rejected 7, Stale 41, Hardware Errors 1.
    "sgminer": (
        lambda: sgminer.parse_summary_devs(fixture("sgminer_summary_devs.json")),
        {
            "hashrate_hs": 248_195_345.0,
            "hashrate_reported_hs": 248_195_345.0,
            "hashrate_devices_hs": 248_195_345.0,
            "shares_accepted": 5612,
            "shares_rejected": 7,
            "shares_stale": 41,
            "shares_invalid": 1,
        },
    ),
    "trex": (
        lambda: trex.parse_summary(fixture("trex_summary.json")),
        {
            "hashrate_hs": 219_604_544.0,
            "hashrate_reported_hs": 219_604_544.0,
            "hashrate_devices_hs": 219_604_544.0,
            "shares_accepted": 930,
            "shares_rejected": 3,
            "shares_stale": None,
            "shares_invalid": 1,
        },
    ),
    # Total_Performance 171.4 "Mh/s"; Total_Accepted 731, _Rejected 2, _Stales 5, _Errors 1.
    "lolminer": (
        lambda: lolminer.parse_summary(fixture("lolminer.json")),
        {
            "hashrate_hs": 171_400_000.0,
            "hashrate_reported_hs": 171_400_000.0,
            "hashrate_devices_hs": 171_400_000.0,
            "shares_accepted": 731,
            "shares_rejected": 2,
            "shares_stale": 5,
            "shares_invalid": 1,
        },
    ),
    # The summary's total is over every backend; xmrig counts only good and total shares.
    "xmrig": (
        lambda: xmrig.parse_summary(fixture("xmrig_summary.json"), fixture("xmrig_backends.json")),
        {
            "hashrate_hs": 76_725_630.13,
            "hashrate_reported_hs": 76_725_630.13,
            "hashrate_devices_hs": pytest.approx(76_725_630.13),
            "shares_accepted": 1288,
            "shares_rejected": 3,
            "shares_stale": None,
            "shares_invalid": None,
        },
    ),
    # Gminer gives no total hashrate: the rig's is the device sum, and none is "reported".
    "gminer": (
        lambda: gminer.parse_stat(fixture("gminer_stat.json")),
        {
            "hashrate_hs": 158_905_350.0,
            "hashrate_reported_hs": None,
            "hashrate_devices_hs": 158_905_350.0,
            "shares_accepted": 660,
            "shares_rejected": 1,
            "shares_stale": 4,
            "shares_invalid": 0,
        },
    ),
    "nbminer": (
        lambda: nbminer.parse_status(fixture("nbminer_status.json"), now=1717413919),
        {
            "hashrate_hs": 159_265_651.40142274,
            "hashrate_reported_hs": 159_265_651.40142274,
            "hashrate_devices_hs": pytest.approx(159_265_651.40142274),
            "shares_accepted": 678,
            "shares_rejected": 1,
            "shares_stale": None,
            "shares_invalid": 1,
        },
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_every_format_stores_the_miners_totals_and_the_device_sum(rig, pushed, case):
    parse, expected = CASES[case]
    sample, current = stored(rig, parse())
    assert figures(sample) == expected
    # The rig's current figures are the newest sample's.
    assert {f: getattr(current, f) for f in expected} == expected


def test_getstat1_share_totals_are_kept_although_no_gpu_has_any(rig, pushed):
    reading = claymore.parse_getstat(fixture("claymore_getstat1.json")["result"])
    sample, _ = stored(rig, reading)
    assert GpuSample.objects.filter(gpu__rig=rig, shares_accepted__isnull=False).count() == 0
    assert (sample.shares_accepted, sample.shares_rejected, sample.shares_invalid) == (3861, 2, 1)


def test_a_miner_total_differing_from_the_device_sum_is_kept_as_given(rig, pushed):
    # The Hive OS agent's total_khs covers its first miner; a second miner on another algorithm
    # (xmrig on the CPU here, RandomX beside Ethash) is a device with its own hashrate, added to
    # neither sum. Its `ar` gives accepted, rejected, invalid.
    body = json.loads((FIXTURES / "hiveos_stats.json").read_text())
    now = timezone.now()
    ingest_hiveos(rig=rig, body=body, now=now)
    sample = RigSample.objects.get(rig=rig, ts=now)
    assert sample.hashrate_reported_hs == 182_724_300.0  # total_khs 182724.3, kH/s
    assert sample.hashrate_devices_hs == pytest.approx(182_724_300.0)
    assert sample.hashrate_hs == 182_724_300.0  # the page shows the miner's total
    assert (sample.shares_accepted, sample.shares_rejected, sample.shares_invalid) == (4210, 7, 1)
    assert sample.shares_stale is None


def test_without_miner_totals_the_devices_counters_are_summed(rig, pushed):
    data = fixture("gminer_stat.json")
    for key in [key for key in data if key.startswith("total_")]:
        del data[key]
    sample, _ = stored(rig, gminer.parse_stat(data))
    # Devices: accepted 407 + 253, rejected 1 + 0, stale 3 + 1, invalid 0 + 0.
    assert [getattr(sample, f) for f in SHARES] == [660, 1, 4, 0]


def test_rig_sample_event_carries_both_hashrates_and_the_share_totals(rig, pushed):
    stored(rig, trex.parse_summary(fixture("trex_summary.json")))
    (event,) = [e for e in pushed if e["type"] == "rig.sample"]
    assert event["hashrate_hs"] == event["hashrate_reported_hs"] == 219_604_544.0
    assert event["hashrate_devices_hs"] == 219_604_544.0
    assert [event[f] for f in SHARES] == [930, 3, None, 1]


def test_share_quality_of_a_day_comes_from_the_miners_totals(rig, pushed):
    # getstat1 only: no GPU has a share counter, so only the rig's own totals can say anything.
    result = fixture("claymore_getstat1.json")["result"]
    t0 = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    store_readings([(rig, claymore.parse_getstat(result))], now=t0)
    later = list(result)
    later[2] = "158214;3961;4"  # 100 more accepted, 2 more rejected
    later[8] = "3;0;0;0"  # 2 more invalid
    # Counters are kept as each hour's last value: the day's share quality is their increase.
    store_readings([(rig, claymore.parse_getstat(later))], now=t0 + timedelta(minutes=60))
    for resolution, _ in CHAIN:
        rebuild(resolution, since=t0, until=t0 + timedelta(minutes=70))
    hours = RigRollup.objects.filter(rig=rig, resolution="1h").order_by("ts")
    assert [h.shares_accepted_last for h in hours] == [3861, 3961]
    assert [h.shares_invalid_last for h in hours] == [1, 3]

    day = rig_figures([Rig.objects.select_related("farm").get(pk=rig.pk)])[rig.pk]
    assert day.rejected_pct == pytest.approx(100 * 2 / 102)
    assert day.stale_pct == 0
    assert day.invalid_pct == pytest.approx(100 * 2 / 104)


# -- item 4: the CPU is a device ---------------------------------------------------------------


def test_xmrig_on_a_mixed_rig_keeps_the_cpu_as_a_device(rig, pushed):
    reading = xmrig.parse_summary(
        fixture("xmrig_summary_mixed.json"), fixture("xmrig_backends_mixed.json")
    )
    sample, current = stored(rig, reading)

    devices = list(Gpu.objects.filter(rig=rig).order_by("index"))
    assert [(d.index, d.kind, d.name, d.pci_bus) for d in devices] == [
        (0, "gpu", "AMD Radeon RX 6800", 10),
        (1, "cpu", "AMD Ryzen 7 5800X 8-Core Processor", None),
    ]
    assert [d.label for d in devices] == ["GPU 0", "CPU 1"]
    by_kind = {s.gpu.kind: s.hashrate_hs for s in GpuSample.objects.filter(gpu__rig=rig)}
    assert by_kind == {"gpu": pytest.approx(3022.31), "cpu": 38426.27}  # H/s
    assert sample.hashrate_reported_hs == 41448.58  # the summary's 10 s total, every backend
    assert sample.hashrate_devices_hs == pytest.approx(3022.31 + 38426.27)
    assert sample.gpus_reporting == 2
    assert (sample.shares_accepted, sample.shares_rejected) == (412, 2)
    assert current.status == Rig.Status.ONLINE


def test_a_cpu_never_takes_over_a_gpu_row(rig, pushed):
    # A GPU registered at index 1 with a bus; the CPU then arrives at index 1 without one.
    t0 = timezone.now() - timedelta(minutes=1)
    Gpu.objects.create(rig=rig, index=1, pci_bus=3, name="RTX 3070")
    reading = xmrig.parse_summary(
        fixture("xmrig_summary_mixed.json"), fixture("xmrig_backends_mixed.json")
    )
    store_readings([(rig, reading)], now=t0)
    kinds = sorted((g.kind, g.pci_bus) for g in Gpu.objects.filter(rig=rig))
    assert kinds == [("cpu", None), ("gpu", 3), ("gpu", 10)]


# -- item 5: a device the miner reports as off --------------------------------------------------


def test_claymore_off_gpu_is_stored_at_zero_and_the_rig_is_degraded(rig, pushed):
    reading = claymore.parse_getstat(fixture("claymore_getstat2_off.json")["result"])
    now = timezone.now()
    sample, current = stored(rig, reading, now)

    off_gpu = Gpu.objects.get(rig=rig, pci_bus=10)
    off_sample = GpuSample.objects.get(gpu=off_gpu, ts=now)
    assert off_sample.hashrate_hs == 0.0
    assert (off_sample.temperature_c, off_sample.fan_pct) == (41.0, 30.0)
    assert off_gpu.hashrate_hs == 0.0
    assert GpuSample.objects.filter(gpu__rig=rig, ts=now).count() == 6
    assert sample.gpus_reporting == 5
    assert sample.hashrate_reported_hs == 305_426_000.0
    assert sample.hashrate_devices_hs == 305_426_000.0
    assert current.status == Rig.Status.DEGRADED
    assert current.status_reason == "5 of 6 GPUs reporting (off in the miner: GPU 3 (bus 10))."
    (status,) = [e for e in pushed if e["type"] == "rig.status"]
    assert (status["status"], status["reason"]) == ("degraded", current.status_reason)


def test_ethminer_paused_gpu_is_off_with_its_reason(rig, pushed):
    result = fixture("ethminer_getstatdetail.json")["result"]
    mining = result["devices"][2]["mining"]
    mining.update(paused=True, pause_reason="Overheating", hashrate="0x00000000")
    _, current = stored(rig, ethminer.parse_getstatdetail(result))
    device = Gpu.objects.get(rig=rig, index=2)
    assert GpuSample.objects.get(gpu=device).hashrate_hs == 0.0
    assert current.status_reason == (
        f"3 of 4 GPUs reporting (off in the miner: GPU 2 (bus {device.pci_bus}): "
        "paused (Overheating))."
    )


def test_a_paused_xmrig_has_every_device_off(rig, pushed):
    summary = fixture("xmrig_summary_mixed.json")
    summary["paused"] = True
    _, current = stored(rig, xmrig.parse_summary(summary, fixture("xmrig_backends_mixed.json")))
    assert set(GpuSample.objects.filter(gpu__rig=rig).values_list("hashrate_hs", flat=True)) == {
        0.0
    }
    assert current.status_reason == (
        "0 of 2 devices reporting (off in the miner: GPU 0 (bus 10): xmrig is paused, "
        "CPU 1: xmrig is paused)."
    )


def test_a_gpu_switched_back_on_makes_the_rig_online_again(rig, pushed):
    t0 = timezone.now() - timedelta(minutes=1)
    store_readings(
        [(rig, claymore.parse_getstat(fixture("claymore_getstat2_off.json")["result"]))], now=t0
    )
    store_readings(
        [(rig, claymore.parse_getstat(fixture("claymore_getstat2.json")["result"]))],
        now=t0 + timedelta(seconds=30),
    )
    current = Rig.objects.get(pk=rig.pk)
    assert (current.status, current.status_reason, current.gpus_reporting) == ("online", "", 6)


# -- shown on the pages and in the API ----------------------------------------------------------


def test_rig_page_gpu_list_and_api_show_totals_and_the_cpu(rig, pushed, owner_client, api, alpha):
    reading = xmrig.parse_summary(
        fixture("xmrig_summary_mixed.json"), fixture("xmrig_backends_mixed.json")
    )
    store_readings([(rig, reading)])

    page = owner_client.get(f"/rigs/{rig.pk}/").content.decode()
    assert ">CPU 1</a> · AMD Ryzen 7 5800X 8-Core Processor" in page
    assert ">GPU 0</a> · AMD Radeon RX 6800 · bus 10" in page
    assert "miner's total · devices 41.45 kH/s" in page
    assert '<span id="rig-shares-accepted">412</span>' in page
    assert '<span id="rig-shares-stale">–</span>' in page
    listing = owner_client.get("/rigs/gpus/").content.decode()
    assert f"{rig.name} · CPU 1</a>" in listing

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    body = api.get(f"/api/v1/rigs/{rig.pk}/").json()
    assert body["hashrate_hs"] == body["hashrate_reported_hs"] == 41448.58
    assert body["hashrate_devices_hs"] == pytest.approx(41448.58)
    assert [body[f] for f in SHARES] == [412, 2, None, None]
    assert [(g["index"], g["kind"]) for g in body["gpus"]] == [(0, "gpu"), (1, "cpu")]
