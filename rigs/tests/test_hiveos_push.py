"""A Hive OS agent's stats body, pushed unchanged to the telemetry endpoint."""

import json
from pathlib import Path

import pytest

from rigs.formats import MinerError, hiveos
from rigs.models import Gpu, GpuSample, Rig
from rigs.services.ingest import ingest_hiveos

FIXTURE = Path(__file__).parent / "fixtures" / "hiveos_stats.json"


def load():
    return json.loads(FIXTURE.read_text())


def test_parse_converts_units_and_keeps_bus_numbers():
    reading = hiveos.parse_stats(load())

    assert (reading.miner, reading.version, reading.algorithm, reading.uptime_s) == (
        "phoenixminer", "6.2c", "ethash", 7340,
    )  # fmt: skip
    assert reading.hashrate_hs == pytest.approx(182724.3e3)  # total_khs is always kH/s
    assert [g.pci_bus for g in reading.gpus[:3]] == [1, 3, 4]
    assert reading.gpus[0].hashrate_hs == pytest.approx(30512.3e3)  # hs in kH/s by default
    # The agent's power array is in its detection order, not the miner's: without the rig's
    # detection order (from its hello) it is not paired by position.
    assert (reading.gpus[1].temperature_c, reading.gpus[1].fan_pct, reading.gpus[1].power_w) == (
        63, 72, None,
    )  # fmt: skip
    assert (reading.shares_accepted, reading.shares_rejected, reading.shares_invalid) == (
        4210,
        7,
        1,
    )
    assert [g.shares_invalid for g in reading.gpus[:3]] == [0, 1, 0]
    # miner2 (xmrig-new on the CPU, one hs entry per thread) adds one device of its own.
    assert len(reading.gpus) == 7
    assert reading.gpus[-1].kind == "cpu"


@pytest.mark.parametrize(("units", "scale"), [("hs", 1), ("khs", 1e3), ("MHS", 1e6), (None, 1e3)])
def test_hs_units(units, scale):
    body = load()
    stats = body["params"]["miner_stats"]
    if units is None:
        stats.pop("hs_units")
    else:
        stats["hs_units"] = units
    assert hiveos.parse_stats(body).gpus[0].hashrate_hs == pytest.approx(30512.3 * scale)


def test_pushed_unchanged_to_the_endpoint(api, alpha):
    Gpu.objects.filter(rig=alpha.rig).delete()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}")

    response = api.post(f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", load(), format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == {"received": 7, "status": "online"}
    assert Gpu.objects.filter(rig=alpha.rig).count() == 7
    assert GpuSample.objects.filter(gpu__rig=alpha.rig).count() == 7
    assert Rig.objects.get(pk=alpha.rig.pk).miner == "phoenixminer"


def test_bad_hive_body_is_a_400_and_stores_nothing(api, alpha):
    body = load()
    body["params"]["miner_stats"]["hs_units"] = "furlongs"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}")

    response = api.post(f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", body, format="json")

    assert response.status_code == 400
    assert "hs_units" in response.json()["errors"]["miner_stats"][0]
    assert GpuSample.objects.count() == 0


def test_ingest_hiveos_stores_the_body_as_one_reading(alpha):
    Gpu.objects.filter(rig=alpha.rig).delete()
    result = ingest_hiveos(rig=alpha.rig, body=load())
    assert (result.received, result.status) == (7, "online")
    assert GpuSample.objects.filter(gpu__rig=alpha.rig).count() == 7


def test_ingest_hiveos_refuses_a_body_the_agent_does_not_build_and_stores_nothing(alpha):
    body = load()
    body["params"]["miner_stats"]["hs_units"] = "furlongs"
    with pytest.raises(MinerError):
        ingest_hiveos(rig=alpha.rig, body=body)
    assert GpuSample.objects.count() == 0


def test_a_cpu_miner_beside_the_gpu_miner_is_one_cpu_device_on_its_own_algorithm():
    # xmrig-new's h-stats.sh: one hs entry per CPU thread, in H/s, each with a null bus number,
    # the CPU's temperature repeated per thread, null fans.
    cpu = hiveos.parse_stats(load(), cpu_model="AMD Ryzen 5 3600").gpus[-1]
    assert (cpu.kind, cpu.index, cpu.pci_bus, cpu.name) == ("cpu", 6, None, "AMD Ryzen 5 3600")
    assert cpu.hashrate_hs == pytest.approx(7123.4)  # total_khs2, kH/s: the threads' sum
    assert (cpu.temperature_c, cpu.fan_pct) == (71.0, None)
    assert (cpu.shares_accepted, cpu.shares_rejected) == (52, 0)
    # RandomX beside Ethash: shown, but flagged so that the rig's sums leave it out.
    assert cpu.other_algorithm == "rx/0"


def test_xmrigs_older_script_sends_threads_without_bus_numbers_or_units():
    # hive/miners/xmrig/h-stats.sh: hs [.hashrate.threads[][0]] (H/s, no hs_units, so read as
    # kH/s), temp one per core, ar built with jq --arg (strings), no bus_numbers at all.
    body = load()
    body["params"]["miner2"] = "xmrig"
    body["params"]["total_khs2"] = "2.6541"
    body["params"]["miner_stats2"] = {
        "hs": [663.2, 664.1, 663.5, 663.3],
        "temp": [48, 52, 50, 49],
        "ar": ["31", "1"],
        "uptime": 5400,
        "algo": "cn/r",
        "ver": "2.14.1",
    }
    devices = hiveos.parse_stats(body).gpus
    assert [d.kind for d in devices] == ["gpu"] * 6 + ["cpu"]
    cpu = devices[-1]
    # The miner's total (always kH/s), not the threads read in the wrong unit.
    assert cpu.hashrate_hs == pytest.approx(2654.1)
    assert (cpu.temperature_c, cpu.shares_accepted, cpu.shares_rejected) == (52, 31, 1)
    assert cpu.other_algorithm == "cn/r"


def test_a_cpu_only_rig_is_one_cpu_device_on_the_rigs_own_algorithm():
    body = {
        "method": "stats",
        "params": {
            "v": 1, "rig_id": "5", "passwd": "x", "temp": [], "fan": [], "power": [],
            "miner": "cpuminer-opt", "total_khs": 3.412,
            "miner_stats": {"vers": "3.9.6.2", "algo": "yescryptr16", "hs": [853, 852, 854, 853],
                            "ar": ["120", "2"], "temp": [55, 55, 55, 55], "uptime": "600"},
        },
    }  # fmt: skip
    reading = hiveos.parse_stats(body)
    (cpu,) = reading.gpus
    assert (cpu.kind, cpu.index, cpu.hashrate_hs, cpu.other_algorithm) == ("cpu", 0, 3412.0, "")
    assert reading.hashrate_hs == 3412.0


def test_one_miner_on_cpu_threads_and_gpus_sums_its_threads_into_one_cpu_device():
    # xmrig-new mining on the CPU and two cards: null bus numbers for the CPU threads first.
    body = load()
    stats = body["params"]["miner_stats"]
    body["params"]["miner"], body["params"]["total_khs"] = "xmrig-new", 8.1
    stats.update(
        hs=[1000.5, 999.5, 3050.0, 3050.0], hs_units="hs", bus_numbers=[None, None, 1, 3],
        temp=[66, 66, 61, 63], fan=[None, None, 70, 72], ar=[40, 0], algo="rx/0",
    )  # fmt: skip
    del body["params"]["miner_stats2"]
    devices = hiveos.parse_stats(body).gpus
    assert [(d.kind, d.index, d.pci_bus) for d in devices] == [
        ("gpu", 0, 1), ("gpu", 1, 3), ("cpu", 2, None),
    ]  # fmt: skip
    assert devices[2].hashrate_hs == pytest.approx(2000.0)  # its threads, the total covers all
    assert devices[2].temperature_c == 66
    assert devices[2].shares_accepted is None  # the miner's counters cover the GPUs too
    assert devices[2].other_algorithm == ""


def test_a_gpu_miner_without_bus_numbers_keeps_its_gpus():
    # Scripts older than bus_numbers: the first miner's entries are GPUs by position.
    body = load()
    del body["params"]["miner_stats"]["bus_numbers"]
    devices = hiveos.parse_stats(body).gpus
    assert [d.kind for d in devices] == ["gpu"] * 6 + ["cpu"]
    assert [d.index for d in devices[:6]] == list(range(6))


def test_the_cpu_is_out_of_the_hottest_gpu_and_of_the_device_sum(alpha):
    Gpu.objects.filter(rig=alpha.rig).delete()
    ingest_hiveos(rig=alpha.rig, body=load())
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert rig.temperature_max_c == 64  # the hottest GPU; the CPU at 71 °C is not one
    assert rig.hashrate_devices_hs == pytest.approx(182_724_300.0)  # Ethash GPUs only
    assert rig.gpus_reporting == 7
    cpu = Gpu.objects.get(rig=alpha.rig, kind=Gpu.Kind.CPU)
    assert (cpu.pci_bus, cpu.hashrate_hs, cpu.temperature_c) == (None, pytest.approx(7123.4), 71)
