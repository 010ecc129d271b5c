"""The HTTP miner protocols: each parser against a recorded answer field by field, and each
fetch against the simulator, including the odd answers and the failures a rig can give."""

import asyncio
import copy
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from rigs.formats import (
    PROTOCOLS,
    MinerEndpoint,
    MinerError,
    gminer,
    lolminer,
    nbminer,
    trex,
    xmrig,
)
from simulators.miners_http import pci_bus, start_server, stop_server
from simulators.rig_agent import SimulatedRig

FIXTURES = Path(__file__).parent / "fixtures" / "miners"
HTTP_PROTOCOLS = ("trex", "lolminer", "xmrig", "gminer", "nbminer")


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


@pytest_asyncio.fixture
async def serve():
    """Starts simulated miners; returns (server, endpoint); stops them after the test."""
    servers = []

    async def start(protocol, rig=None, *, password="", timeout_s=2.0, **options):
        rig = rig or SimulatedRig("rig07", 3, "rtx3070", seed=7)
        server = await start_server(protocol, rig, password=password or None, **options)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        endpoint = MinerEndpoint(protocol, "127.0.0.1", port, password, timeout_s)
        return server, endpoint

    yield start
    for server in servers:
        await stop_server(server)


def test_every_http_protocol_is_registered():
    for name in HTTP_PROTOCOLS:
        assert name == PROTOCOLS[name].PROTOCOL
        assert isinstance(PROTOCOLS[name].DEFAULT_PORT, int)
    assert trex.DEFAULT_PORT == 4067


# ------------------------------------------------------------------------- recorded answers


def test_trex_summary_field_by_field():
    reading = trex.parse_summary(fixture("trex_summary.json"))
    assert (reading.miner, reading.version, reading.algorithm) == ("T-Rex", "0.26.8", "etchash")
    assert reading.pool_url == "stratum+tcp://etc.2miners.com:1010"
    assert reading.uptime_s == 86512
    assert reading.hashrate_hs == 219604544.0
    assert (reading.shares_accepted, reading.shares_rejected, reading.shares_invalid) == (930, 3, 1)
    assert reading.shares_stale is None
    first, second, third = reading.gpus
    assert (first.index, first.pci_bus, first.name, first.vendor) == (
        0,
        3,
        "GeForce RTX 3080",
        "EVGA",
    )
    assert first.hashrate_hs == 97354112.0
    assert (first.temperature_c, first.memory_temperature_c) == (61.0, 76.0)
    assert (first.fan_pct, first.power_w) == (68.0, 223.0)
    assert (first.shares_accepted, first.shares_rejected, first.shares_invalid) == (412, 1, 0)
    assert second.memory_temperature_c is None  # 0 from a card without a memory sensor
    assert [gpu.pci_bus for gpu in reading.gpus] == [3, 1, 2]
    assert (third.index, third.shares_rejected, third.shares_invalid) == (2, 2, 1)


def test_trex_api_1_0_gpus_have_only_a_hashrate():
    data = {
        "accepted_count": 44,
        "active_pool": {"retries": 0, "url": "stratum+tcp://pool.example:4553", "user": "D8x"},
        "algorithm": "lyra2z",
        "api": "1.0",
        "gpus": [{"device_id": 0, "gpu_id": 0, "hashrate": 3059637, "intensity": 20}],
        "hashrate": 3059637,
        "name": "t-rex",
        "rejected_count": 0,
        "uptime": 290,
        "version": "0.5.6",
    }
    reading = trex.parse_summary(data)
    gpu = reading.gpus[0]
    assert (gpu.index, gpu.hashrate_hs, gpu.pci_bus, gpu.temperature_c) == (
        0,
        3059637.0,
        None,
        None,
    )
    assert (reading.shares_accepted, reading.shares_invalid) == (44, None)


def test_numbers_sent_as_strings_and_nulls_are_read():
    data = fixture("trex_summary.json")
    data["hashrate"] = "219604544"
    data["uptime"] = "86512"
    data["gpus"][0].update(temperature="61", fan_speed=None, power="n/a")
    del data["gpus"][0]["shares"]
    reading = trex.parse_summary(data)
    assert (reading.hashrate_hs, reading.uptime_s) == (219604544.0, 86512)
    gpu = reading.gpus[0]
    assert (gpu.temperature_c, gpu.fan_pct, gpu.power_w, gpu.shares_accepted) == (
        61.0,
        None,
        None,
        None,
    )


def test_lolminer_summary_field_by_field():
    reading = lolminer.parse_summary(fixture("lolminer.json"))
    assert (reading.miner, reading.version, reading.algorithm) == ("lolMiner", "1.88", "Etchash")
    assert reading.pool_url == "etc.2miners.com:1010"
    assert reading.uptime_s == 86512
    assert reading.hashrate_hs == pytest.approx(171.4e6)
    assert (reading.shares_accepted, reading.shares_rejected) == (731, 2)
    assert (reading.shares_stale, reading.shares_invalid) == (5, 1)
    first, second, third = reading.gpus
    assert (first.index, first.pci_bus, first.name) == (0, 6, "AMD Radeon RX 6800")
    assert first.hashrate_hs == pytest.approx(62.51e6)
    assert (first.temperature_c, first.memory_temperature_c, first.fan_pct) == (57.0, 84.0, 64.0)
    assert first.power_w == 139.4
    assert (first.shares_accepted, first.shares_rejected, first.shares_stale) == (268, 1, 2)
    assert second.pci_bus == 3
    assert (third.pci_bus, third.hashrate_hs) == (12, pytest.approx(47.02e6))
    assert third.memory_temperature_c is None
    assert third.shares_invalid == 1


@pytest.mark.parametrize(
    ("unit", "factor"),
    [
        ("Mh/s", 1e6),
        ("MH/s", 1e6),
        ("mh/s", 1e6),
        ("kh/s", 1e3),
        ("Kh/s", 1e3),
        ("KH/s", 1e3),
        ("GH/s", 1e9),
        ("H/s", 1.0),
        ("Sol/s", 1.0),
        ("g/s", 1.0),
        (" MH/S ", 1e6),
    ],
)
def test_lolminer_performance_unit_in_any_case(unit, factor):
    data = fixture("lolminer.json")
    data["Algorithms"][0]["Performance_Unit"] = unit
    data["Algorithms"][0]["Performance_Factor"] = None
    reading = lolminer.parse_summary(data)
    assert reading.hashrate_hs == pytest.approx(171.4 * factor)
    assert reading.gpus[1].hashrate_hs == pytest.approx(61.87 * factor)


def test_lolminer_unknown_unit_falls_back_to_the_factor_or_to_nothing():
    data = fixture("lolminer.json")
    data["Algorithms"][0]["Performance_Unit"] = "Mhashes"
    assert lolminer.parse_summary(data).hashrate_hs == pytest.approx(171.4e6)
    del data["Algorithms"][0]["Performance_Factor"]
    reading = lolminer.parse_summary(data)
    assert reading.hashrate_hs is None
    assert reading.gpus[0].temperature_c == 57.0


def test_lolminer_worker_arrays_shorter_than_workers():
    data = fixture("lolminer.json")
    data["Algorithms"][0]["Worker_Performance"] = [62.51]
    reading = lolminer.parse_summary(data)
    assert reading.gpus[0].hashrate_hs == pytest.approx(62.51e6)
    assert reading.gpus[2].hashrate_hs is None


def test_lolminer_legacy_shape():
    data = {
        "Software": "lolMiner 0.9",
        "Mining": {"Coin": "AION", "Algorithm": "Equihash 210/9"},
        "Stratum": {"Current_Pool": "na.aionmine.org:3333", "Average_Latency": 41.0},
        "Session": {
            "Startup": 1547410837,
            "Uptime": 140,
            "Active_GPUs": 1,
            "Performance_Summary": 65.1,
            "Accepted": 4,
            "Submitted": 5,
        },
        "GPUs": [
            {
                "Index": 0,
                "Name": "GeForce GTX 1050 Ti",
                "Performance": 65.1,
                "Consumption (W)": 61,
                "Fan Speed (%)": 40,
                "Temp (deg C)": 56,
                "Mem Temp (deg C)": 0,
                "Session_Accepted": 4,
                "Session_Submitted": 5,
                "Session_HWErr": 0,
                "PCIE_Address": "1:0",
            }
        ],
    }
    reading = lolminer.parse_summary(data)
    assert (reading.version, reading.algorithm, reading.pool_url) == (
        "0.9",
        "Equihash 210/9",
        "na.aionmine.org:3333",
    )
    assert (reading.uptime_s, reading.hashrate_hs) == (140, 65.1)
    assert (reading.shares_accepted, reading.shares_rejected) == (4, 1)
    gpu = reading.gpus[0]
    assert (gpu.pci_bus, gpu.temperature_c, gpu.fan_pct, gpu.power_w) == (1, 56.0, 40.0, 61.0)
    assert (gpu.shares_accepted, gpu.shares_rejected, gpu.shares_invalid) == (4, 1, 0)
    assert gpu.memory_temperature_c is None


def test_xmrig_summary_and_backends_field_by_field():
    reading = xmrig.parse_summary(fixture("xmrig_summary.json"), fixture("xmrig_backends.json"))
    assert (reading.miner, reading.version, reading.algorithm) == ("XMRig", "6.21.0", "kawpow")
    assert reading.pool_url == "rvn.2miners.com:6060"
    assert reading.uptime_s == 4210
    assert reading.hashrate_hs == 76725630.13
    assert (reading.shares_accepted, reading.shares_rejected) == (1288, 3)
    assert reading.shares_invalid is None
    amd, nvidia, nvidia2 = reading.gpus
    # Two OpenCL threads on one card are one GPU; CUDA devices follow the OpenCL ones.
    assert (amd.index, amd.pci_bus, amd.name, amd.vendor) == (0, 10, "AMD Radeon RX 6800", "AMD")
    assert amd.hashrate_hs == pytest.approx(30008639.75)
    assert (amd.temperature_c, amd.power_w, amd.memory_mb) == (66.0, 131.0, 16368)
    assert amd.fan_pct is None  # OpenCL reports fan rpm, not percent
    assert (nvidia.index, nvidia.pci_bus, nvidia.name, nvidia.vendor) == (
        1,
        1,
        "NVIDIA GeForce RTX 3070",
        "NVIDIA",
    )
    assert nvidia.hashrate_hs == 24411873.36
    assert (nvidia.temperature_c, nvidia.fan_pct, nvidia.power_w) == (57.0, 62.0, 118.0)
    assert nvidia.memory_mb == 8191
    assert (nvidia2.index, nvidia2.pci_bus, nvidia2.fan_pct) == (2, 3, 58.0)


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        ([None, None, None], None),
        ([1234.56, None, None], 1234.56),
        ([None, 987.5, None], 987.5),
        ([None, None, 42.0], 42.0),
        ([], None),
    ],
)
def test_xmrig_first_window_that_has_a_value(windows, expected):
    summary = fixture("xmrig_summary.json")
    summary["hashrate"]["total"] = windows
    backends = fixture("xmrig_backends.json")
    backends[2]["threads"][0]["hashrate"] = windows
    reading = xmrig.parse_summary(summary, backends)
    assert reading.hashrate_hs == expected
    assert reading.gpus[1].hashrate_hs == expected


def test_xmrig_cpu_only_is_one_cpu_device_named_after_the_cpu():
    summary = fixture("xmrig_summary.json")
    backends = fixture("xmrig_backends.json")
    thread = {"intensity": 1, "affinity": 0, "av": 1, "hashrate": [812.4, 810.9, None]}
    cpu = dict(backends[0], enabled=True, hashrate=[812.4, 810.9, None], threads=[thread])
    reading = xmrig.parse_summary(summary, [cpu, dict(backends[2], enabled=False)])
    (device,) = reading.gpus
    assert (device.index, device.kind) == (0, "cpu")
    assert device.name == "Intel(R) Celeron(R) CPU G3930 @ 2.90GHz"
    assert device.hashrate_hs == 812.4  # the cpu backend's own 10 s window, H/s
    assert reading.hashrate_hs == 76725630.13  # the summary's total, kept as the miner gave it
    assert reading.shares_rejected == 3


def test_xmrig_without_backend_devices_is_the_cpu_with_the_total():
    summary = fixture("xmrig_summary.json")
    backends = fixture("xmrig_backends.json")
    reading = xmrig.parse_summary(summary, [backends[0]])  # the cpu backend, disabled
    (device,) = reading.gpus
    assert (device.kind, device.hashrate_hs) == ("cpu", 76725630.13)


def test_gminer_stat_field_by_field():
    reading = gminer.parse_stat(fixture("gminer_stat.json"))
    assert (reading.miner, reading.version, reading.algorithm) == ("GMiner", "3.44", "Etchash")
    assert reading.pool_url == "stratum+tcp://etc.2miners.com:1010"
    assert reading.uptime_s == 86512
    assert reading.hashrate_hs is None  # Gminer gives no total: the store sums the devices
    assert (reading.shares_accepted, reading.shares_rejected) == (660, 1)
    assert (reading.shares_stale, reading.shares_invalid) == (4, 0)
    first, second = reading.gpus
    assert (first.index, first.pci_bus, first.name, first.hashrate_hs) == (0, 5, "3080", 97611248)
    assert (first.temperature_c, first.memory_temperature_c) == (62.0, 78.0)
    assert (first.fan_pct, first.power_w) == (71.0, 226.0)
    assert (first.shares_accepted, first.shares_rejected, first.shares_stale) == (407, 1, 3)
    assert (second.index, second.pci_bus, second.memory_temperature_c) == (1, 2, None)


def test_gminer_without_totals_leaves_them_to_the_device_sums():
    data = fixture("gminer_stat.json")
    for key in [key for key in data if key.startswith("total_")]:
        del data[key]
    del data["miner"]
    reading = gminer.parse_stat(data)
    assert (reading.miner, reading.version) == ("GMiner", "")
    # No miner totals: none is made up here; the store sums the devices' counters.
    assert (reading.shares_accepted, reading.shares_rejected, reading.shares_stale) == (
        None, None, None,
    )  # fmt: skip
    assert [gpu.shares_accepted for gpu in reading.gpus] == [407, 253]


def test_nbminer_status_field_by_field():
    reading = nbminer.parse_status(fixture("nbminer_status.json"), now=1717327407 + 86512)
    assert (reading.miner, reading.version, reading.algorithm) == ("NBMiner", "42.3", "etchash")
    assert reading.pool_url == "etc.2miners.com:1010"
    assert reading.uptime_s == 86512
    assert reading.hashrate_hs == 159265651.40142274
    assert (reading.shares_accepted, reading.shares_rejected, reading.shares_invalid) == (678, 1, 1)
    first, second = reading.gpus
    assert (first.index, first.pci_bus, first.name) == (0, 4, "NVIDIA GeForce RTX 3070")
    assert first.hashrate_hs == 61843920.517302394
    assert (first.temperature_c, first.memory_temperature_c) == (56.0, None)
    assert (first.fan_pct, first.power_w) == (57.0, 122.0)
    assert (first.shares_accepted, first.shares_rejected, first.shares_invalid) == (266, 1, 0)
    assert (second.pci_bus, second.memory_temperature_c, second.shares_invalid) == (1, 80.0, 1)


def test_nbminer_both_spellings_of_rejected():
    data = fixture("nbminer_status.json")
    for device in data["miner"]["devices"]:
        device["reject_shares"] = device.pop("rejected_shares") + 5
    reading = nbminer.parse_status(data, now=1717413919)
    assert [gpu.shares_rejected for gpu in reading.gpus] == [6, 5]


def test_nbminer_early_build_with_memory_in_info_and_a_clock_behind_ours():
    data = fixture("nbminer_status.json")
    data["miner"]["devices"][0].update(info="GeForce GTX 1080 Ti 11178 MB", hashrate=1499)
    reading = nbminer.parse_status(data, now=data["start_time"] - 30)
    assert (reading.gpus[0].name, reading.gpus[0].memory_mb) == ("GeForce GTX 1080 Ti", 11178)
    assert reading.uptime_s == 0


PARSERS = {
    "trex": trex.parse_summary,
    "lolminer": lolminer.parse_summary,
    "xmrig": xmrig.parse_summary,
    "gminer": gminer.parse_stat,
    "nbminer": nbminer.parse_status,
}


@pytest.mark.parametrize("protocol", HTTP_PROTOCOLS)
@pytest.mark.parametrize("answer", [None, [], "OK", 42, {}, {"gpus": "none", "devices": 3}])
def test_answers_without_the_essential_parts_are_bad_answers(protocol, answer):
    with pytest.raises(MinerError) as caught:
        PARSERS[protocol](copy.deepcopy(answer))
    assert caught.value.kind == "bad_answer"
    assert str(caught.value).startswith("Unexpected answer from the miner")


@pytest.mark.parametrize(
    ("protocol", "name", "entries"),
    [
        ("trex", "trex_summary.json", lambda d: d["gpus"]),
        ("lolminer", "lolminer.json", lambda d: d["Workers"]),
        ("gminer", "gminer_stat.json", lambda d: d["devices"]),
        ("nbminer", "nbminer_status.json", lambda d: d["miner"]["devices"]),
    ],
)
def test_a_gpu_entry_that_is_not_an_object_is_a_bad_answer(protocol, name, entries):
    data = fixture(name)
    entries(data).append("GPU3")
    with pytest.raises(MinerError) as caught:
        PARSERS[protocol](data)
    assert caught.value.kind == "bad_answer"


# ----------------------------------------------------------------------- against the simulator


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", HTTP_PROTOCOLS)
async def test_fetch_from_the_simulator(serve, protocol):
    _, endpoint = await serve(protocol, uptime_s=120)  # past xmrig's 60 s window
    async with httpx.AsyncClient() as http:
        reading = await PROTOCOLS[protocol].fetch(endpoint, http)
    assert len(reading.gpus) == 3
    assert [gpu.pci_bus for gpu in reading.gpus] == [2, 1, 3]  # bus order differs from index
    assert [gpu.index for gpu in reading.gpus] == [0, 1, 2]
    assert 119 <= reading.uptime_s <= 122
    if protocol == "gminer":
        assert reading.hashrate_hs is None  # Gminer has no total of its own
    else:
        assert reading.hashrate_hs == pytest.approx(3 * 61e6, rel=0.1)
    for gpu in reading.gpus:
        assert gpu.hashrate_hs == pytest.approx(61e6, rel=0.1)
        assert 20 <= gpu.temperature_c <= 90
        assert 80 <= gpu.power_w <= 160
        assert "3070" in gpu.name
    assert reading.shares_accepted >= 0
    assert reading.algorithm
    assert reading.pool_url


@pytest.mark.asyncio
async def test_lolminer_simulator_changes_unit_case_and_prefix(serve):
    _, endpoint = await serve("lolminer")
    units = []
    async with httpx.AsyncClient() as http:
        for _ in range(4):
            raw = await http.get(f"http://127.0.0.1:{endpoint.port}/")
            units.append(raw.json()["Algorithms"][0]["Performance_Unit"])
            reading = await lolminer.fetch(endpoint, http)
            assert reading.hashrate_hs == pytest.approx(3 * 61e6, rel=0.1)
    assert len(set(units)) > 1


@pytest.mark.asyncio
async def test_xmrig_windows_are_null_right_after_start(serve):
    server, endpoint = await serve("xmrig")
    async with httpx.AsyncClient() as http:
        fresh = await xmrig.fetch(endpoint, http)
        server.miner.started -= 15
        warm = await xmrig.fetch(endpoint, http)
        summary = (await http.get(f"http://127.0.0.1:{endpoint.port}/2/summary")).json()
    assert fresh.hashrate_hs is None
    assert [gpu.hashrate_hs for gpu in fresh.gpus] == [None, None, None]
    assert summary["hashrate"]["total"][1:] == [None, None]
    assert warm.hashrate_hs == pytest.approx(3 * 61e6, rel=0.1)


@pytest.mark.asyncio
async def test_xmrig_bearer_token(serve):
    _, endpoint = await serve("xmrig", password="s3cret")
    wrong = MinerEndpoint("xmrig", endpoint.host, endpoint.port, "guess")
    missing = MinerEndpoint("xmrig", endpoint.host, endpoint.port, "")
    _, tokenless = await serve("xmrig")
    sent_to_tokenless = MinerEndpoint("xmrig", tokenless.host, tokenless.port, "s3cret")
    async with httpx.AsyncClient() as http:
        reading = await xmrig.fetch(endpoint, http)
        assert len(reading.gpus) == 3
        for bad in (wrong, missing, sent_to_tokenless):
            with pytest.raises(MinerError) as caught:
                await xmrig.fetch(bad, http)
            assert caught.value.kind == "auth"
        refused = await http.get(f"http://127.0.0.1:{endpoint.port}/2/summary")
    assert (refused.status_code, refused.json()) == (401, {"status": 401, "error": "Unauthorized"})


@pytest.mark.asyncio
async def test_nbminer_simulator_uses_both_spellings(serve):
    _, endpoint = await serve("nbminer")
    keys = set()
    async with httpx.AsyncClient() as http:
        for _ in range(2):
            raw = (await http.get(f"http://127.0.0.1:{endpoint.port}/api/v1/status")).json()
            keys |= {k for k in raw["miner"]["devices"][0] if k.startswith("reject")}
            reading = nbminer.parse_status(raw)
            assert all(gpu.shares_rejected is not None for gpu in reading.gpus)
        assert len((await nbminer.fetch(endpoint, http)).gpus) == 3
    assert keys == {"rejected_shares", "reject_shares"}


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", HTTP_PROTOCOLS)
async def test_gpu_count_change_between_polls(serve, protocol):
    rig = SimulatedRig("rig07", 4, "rx6800", seed=3)
    _, endpoint = await serve(protocol, rig)
    async with httpx.AsyncClient() as http:
        before = await PROTOCOLS[protocol].fetch(endpoint, http)
        rig.gpus.pop()  # a riser fails and the card drops off the bus
        after = await PROTOCOLS[protocol].fetch(endpoint, http)
    assert len(before.gpus) == 4
    assert len(after.gpus) == 3
    assert [gpu.pci_bus for gpu in after.gpus] == [gpu.pci_bus for gpu in before.gpus[:3]]
    assert [gpu.pci_bus for gpu in after.gpus] == [pci_bus(i) for i in range(3)]


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", HTTP_PROTOCOLS)
async def test_restart_resets_uptime_and_counters(serve, protocol):
    rig = SimulatedRig("rig07", 2, "rtx3080", seed=5)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    for minutes in range(0, 60, 10):  # an hour of mining: dozens of shares per GPU
        rig.sample(an_hour_ago + timedelta(minutes=minutes))
    _, endpoint = await serve(protocol, rig, uptime_s=3600)
    async with httpx.AsyncClient() as http:
        before = await PROTOCOLS[protocol].fetch(endpoint, http)
        rig.restart()
        after = await PROTOCOLS[protocol].fetch(endpoint, http)
    assert before.uptime_s >= 3600
    assert after.uptime_s <= 2
    assert after.shares_accepted < before.shares_accepted


# ------------------------------------------------------------------------------------ failures

FAULT_KINDS = {
    "garbage": "bad_answer",
    "html": "bad_answer",
    "empty": "bad_answer",
    "truncated": "bad_answer",
    "http500": "bad_answer",
    "close": "refused",
}


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", HTTP_PROTOCOLS)
@pytest.mark.parametrize("fault", sorted(FAULT_KINDS))
async def test_faults(serve, protocol, fault):
    _, endpoint = await serve(protocol, fault=fault)
    async with httpx.AsyncClient() as http:
        with pytest.raises(MinerError) as caught:
            await PROTOCOLS[protocol].fetch(endpoint, http)
    assert caught.value.kind == FAULT_KINDS[fault]


@pytest.mark.asyncio
async def test_a_miner_that_never_answers_times_out(serve):
    endpoints = [(await serve(p, fault="hang", timeout_s=0.3))[1] for p in HTTP_PROTOCOLS]

    async def poll(endpoint):
        with pytest.raises(MinerError) as caught:
            await PROTOCOLS[endpoint.protocol].fetch(endpoint, http)
        return caught.value.kind

    started = time.monotonic()
    async with httpx.AsyncClient() as http:
        kinds = await asyncio.gather(*(poll(endpoint) for endpoint in endpoints))
    assert kinds == ["timeout"] * len(HTTP_PROTOCOLS)
    assert time.monotonic() - started < 1.0


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", HTTP_PROTOCOLS)
async def test_connection_refused(protocol):
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = MinerEndpoint(protocol, "127.0.0.1", port, timeout_s=1.0)
    async with httpx.AsyncClient() as http:
        with pytest.raises(MinerError) as caught:
            await PROTOCOLS[protocol].fetch(endpoint, http)
    assert caught.value.kind == "refused"


@pytest.mark.asyncio
async def test_an_ipv6_miner_address_is_put_in_brackets():
    from rigs.formats.transport import http_get_json

    seen = []

    def answer(request):
        seen.append(request.url)
        return httpx.Response(200, json={"ok": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        endpoint = MinerEndpoint(protocol="trex", host="fe80::1", port=4067)
        assert await http_get_json(http, endpoint, "/summary") == {"ok": True}
    assert (seen[0].host, seen[0].port, str(seen[0])) == (
        "fe80::1",
        4067,
        "http://[fe80::1]:4067/summary",
    )


@pytest.mark.asyncio
async def test_xmrig_simulator_mining_on_cpu_and_gpus(serve):
    _, endpoint = await serve("xmrig", uptime_s=120, cpu_hashrate_hs=9600.0)
    async with httpx.AsyncClient() as http:
        backends = (await http.get(f"http://127.0.0.1:{endpoint.port}/2/backends")).json()
        reading = await xmrig.fetch(endpoint, http)
    cpu_backend = backends[0]
    assert (cpu_backend["type"], cpu_backend["enabled"], cpu_backend["algo"]) == (
        "cpu", True, "rx/0",
    )  # fmt: skip
    assert [thread["hashrate"][0] for thread in cpu_backend["threads"]] == [4800.0, 4800.0]
    assert [gpu.kind for gpu in reading.gpus] == ["gpu", "gpu", "gpu", "cpu"]
    cpu = reading.gpus[3]
    assert (cpu.index, cpu.name, cpu.hashrate_hs, cpu.pci_bus) == (
        3, "Intel(R) Celeron(R) CPU G3930 @ 2.90GHz", 9600.0, None,
    )  # fmt: skip
    # The summary's total covers every backend, the CPU's included (summary and backends are two
    # requests, each a fresh reading of the miner, so they agree only roughly).
    assert reading.hashrate_hs == pytest.approx(
        sum(gpu.hashrate_hs for gpu in reading.gpus), rel=0.05
    )
    assert reading.algorithm == "rx/0"
