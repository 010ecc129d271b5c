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
    # miner2 (xmrig on the CPU, no bus shared with the GPUs) adds a device of its own.
    assert reading.gpus[-1].hashrate_hs == pytest.approx(7123.4)


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
