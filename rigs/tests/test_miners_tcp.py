"""TCP miner protocols: Claymore/PhoenixMiner, ethminer and TeamRedMiner's sgminer-style API.

First the parsers, field by field, against hand-written answers in the real shape
(rigs/tests/fixtures/miners/); then each `fetch` against the TCP simulators, including their faults.
No database; every network wait is bounded by a short endpoint timeout.
"""

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio

from rigs.formats import PROTOCOLS, MinerEndpoint, MinerError, claymore, ethminer, sgminer
from rigs.formats import fetch as fetch_any
from simulators.miners_tcp import pci_bus, server_port, start_server
from simulators.rig_agent import SimulatedRig

FIXTURES = Path(__file__).parent / "fixtures" / "miners"
MODULES = {"claymore": claymore, "ethminer": ethminer, "sgminer": sgminer}


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def column(reading, field):
    return [getattr(gpu, field) for gpu in reading.gpus]


class Clock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self, now: float = 1_764_081_600.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def endpoint(server, protocol, *, password="", timeout_s=2.0):
    return MinerEndpoint(protocol, "127.0.0.1", server_port(server), password, timeout_s)


async def poll(server, protocol, **kwargs):
    return await MODULES[protocol].fetch(endpoint(server, protocol, **kwargs), None)


async def poll_error(server, protocol, **kwargs) -> MinerError:
    with pytest.raises(MinerError) as caught:
        await poll(server, protocol, **kwargs)
    return caught.value


@pytest_asyncio.fixture
async def servers():
    """Starts simulators in the test's own loop and closes them afterwards."""
    started = []

    async def start(protocol, rig=None, **options):
        rig = rig or SimulatedRig("r1", 6, "rtx3070")
        server = await start_server(protocol, rig, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


# -- parsers against the fixtures -------------------------------------------------------------


def test_claymore_getstat1_fixture_field_by_field():
    answer = claymore.decode(fixture_bytes("claymore_getstat1.json"))
    reading = claymore.parse_getstat(claymore.stat_result(answer, tolerate_unknown=False))

    assert (reading.miner, reading.version, reading.algorithm) == ("Claymore", "15.0", "ethash")
    assert reading.pool_url == "eu1.ethermine.org:4444"
    assert reading.uptime_s == 1432 * 60  # minutes on the wire
    assert reading.hashrate_hs == 158_214_000.0  # kH/s on the wire, although Claymore says MH/s
    assert (reading.shares_accepted, reading.shares_rejected) == (3861, 2)
    assert (reading.shares_invalid, reading.shares_stale) == (1, None)
    assert column(reading, "index") == [0, 1, 2, 3, 4, 5]
    # GPU 4 is switched off: "off" in the per-GPU hashrates, a device at 0 H/s marked off.
    assert column(reading, "hashrate_hs") == [
        31_620e3,
        31_588e3,
        31_702e3,
        31_650e3,
        0.0,
        31_654e3,
    ]
    assert column(reading, "off") == [False, False, False, False, True, False]
    assert column(reading, "temperature_c") == [61, 64, 58, 63, 30, 60]
    assert column(reading, "fan_pct") == [55, 62, 49, 60, 0, 57]
    # getstat1 has no per-GPU shares and no bus numbers.
    for field in ("pci_bus", "shares_accepted", "shares_rejected", "shares_invalid"):
        assert column(reading, field) == [None] * 6


def test_claymore_getstat2_fixture_field_by_field():
    answer = claymore.decode(fixture_bytes("claymore_getstat2.json"))
    reading = claymore.parse_getstat(claymore.stat_result(answer, tolerate_unknown=True))

    assert (reading.miner, reading.version, reading.algorithm) == ("PhoenixMiner", "6.2c", "ethash")
    assert reading.uptime_s == 2891 * 60
    assert reading.hashrate_hs == 366_846_000.0
    assert (reading.shares_accepted, reading.shares_rejected, reading.shares_invalid) == (
        9120,
        3,
        0,
    )
    assert column(reading, "hashrate_hs") == [
        61_210e3,
        61_034e3,
        60_987e3,
        61_420e3,
        60_915e3,
        61_280e3,
    ]
    assert column(reading, "temperature_c") == [58, 61, 63, 55, 62, 57]
    assert column(reading, "fan_pct") == [64, 66, 70, 60, 68, 62]
    assert column(reading, "shares_accepted") == [1532, 1519, 1498, 1541, 1507, 1523]
    assert sum(column(reading, "shares_accepted")) == reading.shares_accepted
    assert column(reading, "shares_rejected") == [1, 0, 1, 0, 0, 1]
    assert column(reading, "shares_invalid") == [0] * 6
    # [15] is decimal (Hive OS reads it as such): "10" is bus 10, and GPU 3 sits out of order.
    assert column(reading, "pci_bus") == [1, 2, 3, 10, 4, 5]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15.0 - ETH", ("Claymore", "15.0", "ethash")),
        ("PM 6.2c - ETH", ("PhoenixMiner", "6.2c", "ethash")),
        ("PM 5.5c - ETC", ("PhoenixMiner", "5.5c", "etchash")),
        ("ethminer-0.16.0.dev0+commit.41639944", ("ethminer", "0.16.0.dev0+commit.41639944", "")),
        ("TeamRedMiner 0.8.0 - ETH", ("TeamRedMiner", "0.8.0", "ethash")),
        ("SomeMiner", ("SomeMiner", "", "")),
    ],
)
def test_claymore_version_split(text, expected):
    assert claymore.parse_version(text) == expected


def test_claymore_gpu_missing_from_some_arrays_gets_none():
    result = ["PM 6.2c - ETH", "5", "90000;3;0", "30000;30000;30000", "0;0;0", "off;off;off"]
    result += ["60;70;61;71", "pool:4444", "0;0;0;0", "1;1;1", "0;0;0", "0;0;0"]
    result += ["0;0;0", "0;0;0", "0;0;0", "1;2"]
    reading = claymore.parse_getstat(result)
    assert len(reading.gpus) == 3
    assert column(reading, "temperature_c") == [60, 61, None]
    assert column(reading, "fan_pct") == [70, 71, None]
    assert column(reading, "pci_bus") == [1, 2, None]


@pytest.mark.parametrize(
    "result",
    [
        "15.0 - ETH;1432",
        ["15.0 - ETH", "1432", "1;1;0", "1", "0;0;0"],
        ["15.0 - ETH", "1432", "1;1;0", "1", "0;0;0", "off", {"t": 1}, "pool", "0;0;0;0"],
    ],
    ids=["not-an-array", "five-fields", "object-field"],
)
def test_claymore_malformed_result_is_bad_answer(result):
    with pytest.raises(MinerError) as caught:
        claymore.parse_getstat(result)
    assert caught.value.kind == "bad_answer"


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ([1, 2, 3], "bad_answer"),
        ({"id": 0, "jsonrpc": "2.0"}, "bad_answer"),
        ({"id": 0, "result": None}, "bad_answer"),
        ({"id": 0, "error": {"code": -32603, "message": "Internal error"}}, "miner_error"),
        ({"id": 0, "error": {"code": -401, "message": "Invalid password"}}, "auth"),
        ({"id": 0, "error": "Wrong password"}, "auth"),
    ],
)
def test_claymore_envelope_errors(answer, kind):
    with pytest.raises(MinerError) as caught:
        claymore.stat_result(answer, tolerate_unknown=False)
    assert caught.value.kind == kind


def test_ethminer_getstatdetail_fixture_field_by_field():
    answer = claymore.decode(fixture_bytes("ethminer_getstatdetail.json"))
    reading = ethminer.parse_getstatdetail(answer["result"])

    assert (reading.miner, reading.version) == ("ethminer", "0.18.0+commit.70c7cdbe")
    assert reading.algorithm == "ethash"
    # The wallet and worker in the connection URI stay out of what we store.
    assert reading.pool_url == "stratum1+tls12://eu1-etc.ethermine.org:5555"
    assert reading.uptime_s == 7385  # seconds here, unlike getstat1
    assert reading.hashrate_hs == 121_986_470.0  # "0x0000000007455da6"
    assert (reading.shares_accepted, reading.shares_rejected, reading.shares_invalid) == (409, 1, 0)
    assert column(reading, "index") == [0, 1, 2, 3]
    assert column(reading, "pci_bus") == [1, 10, 2, 3]  # "0a:00.0" is hex
    assert column(reading, "hashrate_hs") == [
        30_512_345.0,
        30_498_211.0,
        30_455_870.0,
        30_520_044.0,
    ]
    assert sum(column(reading, "hashrate_hs")) == reading.hashrate_hs
    assert column(reading, "temperature_c") == [62, 58, 65, 60]
    assert column(reading, "fan_pct") == [71, 65, 78, 68]
    assert column(reading, "power_w") == [118.47, 112.9, 121.33, 115.02]
    assert column(reading, "name") == ["GeForce GTX 1070"] * 4
    assert column(reading, "memory_mb") == [8120] * 4  # "7.93 GB"
    assert column(reading, "vendor") == ["NVIDIA"] * 4
    assert column(reading, "shares_accepted") == [103, 99, 105, 102]
    assert column(reading, "shares_rejected") == [0, 1, 0, 0]
    assert column(reading, "shares_invalid") == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("pci", "bus"),
    [
        ("01:00.0", 1),
        ("0a:00.0", 10),
        ("0000:0b:00.0", 11),
        ("Intel GPU 0.0", None),
        ("CPU:00", None),
        (None, None),
    ],
)
def test_ethminer_pci_bus(pci, bus):
    assert ethminer.pci_bus(pci) == bus


def test_ethminer_unread_sensors_are_none():
    hardware = {"name": "gfx1030 15.98 GB", "pci": "03:00.0", "sensors": [0, 0, 0]}
    device = {"_index": 0, "_mode": "OpenCL", "hardware": hardware}
    device["mining"] = {"hashrate": "0x03b5c2d0"}
    gpu = ethminer.parse_device(0, device)
    assert (gpu.temperature_c, gpu.fan_pct, gpu.power_w) == (None, None, None)
    assert (gpu.hashrate_hs, gpu.pci_bus, gpu.vendor) == (62_243_536.0, 3, "AMD")


@pytest.mark.parametrize("missing", ["host", "mining", "devices"])
def test_ethminer_missing_keys_are_bad_answer(missing):
    result = json.loads(fixture_bytes("ethminer_getstatdetail.json"))["result"]
    del result[missing]
    with pytest.raises(MinerError) as caught:
        ethminer.parse_getstatdetail(result)
    assert caught.value.kind == "bad_answer"
    assert missing in str(caught.value)


def check_trm_fixture(reading):
    assert (reading.miner, reading.version) == ("TeamRedMiner", "0.10.8")
    assert reading.uptime_s == 93712
    assert reading.hashrate_hs == pytest.approx(248_195_345.0)  # "KHS 30s"
    assert (reading.shares_accepted, reading.shares_rejected) == (5612, 7)
    assert (reading.shares_stale, reading.shares_invalid) == (41, 1)
    assert column(reading, "index") == [0, 1, 2, 3]
    assert column(reading, "hashrate_hs") == pytest.approx(
        [62_105_123.0, 61_988_402.0, 62_231_770.0, 61_870_050.0]
    )
    assert column(reading, "temperature_c") == [61, 58, 64, 59]
    assert column(reading, "memory_temperature_c") == [78, 76, 80, 77]
    assert column(reading, "fan_pct") == [55, 49, 62, 52]
    assert column(reading, "power_w") == [142, 138, 147, 140]
    assert column(reading, "shares_accepted") == [1405, 1398, 1411, 1398]
    assert column(reading, "shares_rejected") == [2, 1, 3, 1]
    assert column(reading, "shares_invalid") == [0, 1, 0, 0]
    assert column(reading, "vendor") == ["AMD"] * 4
    assert column(reading, "pci_bus") == [None] * 4


def test_sgminer_fixture_with_trailing_nul_field_by_field():
    raw = fixture_bytes("sgminer_summary_devs.json").rstrip() + b"\x00"
    check_trm_fixture(sgminer.parse_summary_devs(claymore.decode(raw)))


def test_sgminer_fixture_in_cgminer_nesting():
    # cgminer's api.c wraps each command of a joined request in a one-element list.
    answer = json.loads(fixture_bytes("sgminer_summary_devs.json"))
    nested = {"summary": [answer["summary"]], "devs": [answer["devs"]], "id": 1}
    check_trm_fixture(sgminer.parse_summary_devs(nested))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ({"STATUS": "E", "Code": 14, "Msg": "Invalid command"}, "miner_error"),
        ({"STATUS": "E", "Code": 45, "Msg": "Access denied to 'devs' command"}, "auth"),
    ],
)
def test_sgminer_error_status(status, kind):
    answer = json.loads(fixture_bytes("sgminer_summary_devs.json"))
    answer["devs"]["STATUS"] = [status]
    with pytest.raises(MinerError) as caught:
        sgminer.parse_summary_devs(answer)
    assert caught.value.kind == kind


def test_sgminer_missing_section_is_bad_answer():
    answer = json.loads(fixture_bytes("sgminer_summary_devs.json"))
    del answer["devs"]
    with pytest.raises(MinerError) as caught:
        sgminer.parse_summary_devs(answer)
    assert caught.value.kind == "bad_answer"


# -- fetch against the simulators -------------------------------------------------------------


def test_registry_knows_the_three_protocols():
    for name, module in MODULES.items():
        assert PROTOCOLS[name] is module
        assert isinstance(module.DEFAULT_PORT, int)


@pytest.mark.asyncio
async def test_claymore_fetch_from_simulator(servers):
    rig = SimulatedRig("c1", 6, "rtx3070")
    server = await servers("claymore", rig, uptime_s=3659, clock=Clock())
    reading = await fetch_any(endpoint(server, "claymore"), None)

    assert (reading.miner, reading.version, reading.algorithm) == ("PhoenixMiner", "6.2c", "ethash")
    assert reading.uptime_s == 3600  # whole minutes only
    assert len(reading.gpus) == 6
    buses = column(reading, "pci_bus")
    assert buses == [pci_bus(i) for i in range(6)] and buses != sorted(buses)
    assert column(reading, "shares_accepted") == [gpu.accepted for gpu in rig.gpus]
    assert column(reading, "shares_rejected") == [gpu.rejected for gpu in rig.gpus]
    assert reading.shares_accepted == sum(gpu.accepted for gpu in rig.gpus)
    rates = column(reading, "hashrate_hs")
    assert all(55e6 < rate < 67e6 and rate % 1000 == 0 for rate in rates)
    assert reading.hashrate_hs == sum(rates)
    assert all(
        t is not None and f is not None
        for t, f in zip(column(reading, "temperature_c"), column(reading, "fan_pct"), strict=True)
    )


@pytest.mark.asyncio
async def test_ethminer_fetch_from_simulator(servers):
    rig = SimulatedRig("e1", 6, "rtx3070")
    server = await servers("ethminer", rig, uptime_s=3659, clock=Clock())
    reading = await fetch_any(endpoint(server, "ethminer"), None)

    assert reading.miner == "ethminer" and reading.algorithm == "ethash"
    assert reading.uptime_s == 3659
    assert reading.pool_url == "stratum1+tcp://etc.2miners.com:1010"
    assert column(reading, "pci_bus") == [3, 1, 5, 7, 9, 11]  # the last one is "0b:00.0"
    assert column(reading, "name") == ["GeForce RTX 3070"] * 6
    assert column(reading, "memory_mb") == [7977] * 6
    assert column(reading, "shares_accepted") == [gpu.accepted for gpu in rig.gpus]
    assert all(power > 50 for power in column(reading, "power_w"))
    assert reading.hashrate_hs == pytest.approx(sum(column(reading, "hashrate_hs")), abs=6)


@pytest.mark.asyncio
@pytest.mark.parametrize("variant", [None, "cgminer"])
async def test_sgminer_fetch_from_simulator(servers, variant):
    rig = SimulatedRig("t1", 4, "rx6800")
    server = await servers("sgminer", rig, uptime_s=3659, clock=Clock(), variant=variant)
    reading = await fetch_any(endpoint(server, "sgminer"), None)

    assert (reading.miner, reading.version) == ("TeamRedMiner", "0.10.21")
    assert reading.uptime_s == 3659
    assert column(reading, "index") == [0, 1, 2, 3]
    assert column(reading, "shares_accepted") == [gpu.accepted for gpu in rig.gpus]
    assert reading.shares_stale == sum(gpu.stale for gpu in rig.gpus)
    assert all(55e6 < rate < 70e6 for rate in column(reading, "hashrate_hs"))
    assert all(power > 50 for power in column(reading, "power_w"))


@pytest.mark.asyncio
@pytest.mark.parametrize("variant", ["getstat1", "getstat1_null", "getstat1_short"])
async def test_claymore_falls_back_to_getstat1(servers, variant):
    server = await servers("claymore", uptime_s=300, clock=Clock(), variant=variant)
    reading = await poll(server, "claymore")
    assert reading.uptime_s == 300
    assert len(reading.gpus) == 6
    assert all(rate > 0 for rate in column(reading, "hashrate_hs"))
    assert column(reading, "pci_bus") == [None] * 6
    assert column(reading, "shares_accepted") == [None] * 6


@pytest.mark.asyncio
async def test_ethminer_falls_back_to_getstat1(servers):
    server = await servers("ethminer", uptime_s=300, clock=Clock(), variant="getstat1")
    reading = await poll(server, "ethminer", password="")
    assert (reading.miner, reading.algorithm, reading.uptime_s) == ("ethminer", "ethash", 300)
    assert len(reading.gpus) == 6 and column(reading, "pci_bus") == [None] * 6


@pytest.mark.asyncio
async def test_claymore_password(servers):
    server = await servers("claymore", password="s3cret")
    assert len((await poll(server, "claymore", password="s3cret")).gpus) == 6
    assert (await poll_error(server, "claymore", password="wrong")).kind == "auth"
    # Without a password of ours, a silent close can't be told from a broken miner.
    assert (await poll_error(server, "claymore")).kind == "bad_answer"


@pytest.mark.asyncio
async def test_ethminer_password(servers):
    protected = await servers("ethminer", password="s3cret")
    assert len((await poll(protected, "ethminer", password="s3cret")).gpus) == 6
    wrong = await poll_error(protected, "ethminer", password="wrong")
    assert wrong.kind == "auth" and "Invalid password" in str(wrong)
    missing = await poll_error(protected, "ethminer")
    assert missing.kind == "auth" and "Authorization needed" in str(missing)
    # ethminer checks api_authorize even when it has no password: ours must then be wrong.
    open_api = await servers("ethminer")
    assert (await poll_error(open_api, "ethminer", password="s3cret")).kind == "auth"


@pytest.mark.asyncio
async def test_ethminer_password_with_getstat1_fallback(servers):
    server = await servers("ethminer", password="s3cret", variant="getstat1")
    assert len((await poll(server, "ethminer", password="s3cret")).gpus) == 6


@pytest.mark.asyncio
async def test_sgminer_access_denied_is_auth(servers):
    # cgminer-style APIs have no password; --api-allow refusing us is their auth failure.
    server = await servers("sgminer", password="not-in-api-allow")
    assert (await poll_error(server, "sgminer")).kind == "auth"


FAULT_KINDS = {
    "garbage": {"bad_answer"},
    "html": {"bad_answer"},
    "empty": {"bad_answer"},
    "truncated": {"bad_answer"},
    "rpc_error": {"miner_error"},
    # Closing before reading the request can reach the client as EOF or as a reset (RST).
    "close": {"bad_answer", "refused"},
}


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", ["claymore", "ethminer", "sgminer"])
@pytest.mark.parametrize("fault", list(FAULT_KINDS))
async def test_faults(servers, protocol, fault):
    server = await servers(protocol, fault=fault)
    error = await poll_error(server, protocol)
    assert error.kind in FAULT_KINDS[fault], str(error)
    if fault == "html":
        assert "HTML" in str(error)


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", ["claymore", "ethminer", "sgminer"])
async def test_hang_times_out_quickly(servers, protocol):
    server = await servers(protocol, fault="hang")
    started = time.monotonic()
    error = await poll_error(server, protocol, timeout_s=0.3)
    assert error.kind == "timeout"
    assert time.monotonic() - started < 0.8


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", ["claymore", "ethminer", "sgminer"])
async def test_connection_refused(protocol):
    with socket.socket() as sock:  # a port that was free a moment ago and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = MinerEndpoint(protocol, "127.0.0.1", port, "", 1.0)
    with pytest.raises(MinerError) as caught:
        await MODULES[protocol].fetch(target, None)
    assert caught.value.kind == "refused"


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", ["claymore", "ethminer", "sgminer"])
async def test_gpu_count_change_between_polls(servers, protocol):
    rig = SimulatedRig("g1", 6, "rx6800")
    server = await servers(protocol, rig)
    assert len((await poll(server, protocol)).gpus) == 6

    rig.gpus.pop(2)  # a card fell off the bus; the others keep their slots
    reading = await poll(server, protocol)
    assert len(reading.gpus) == 5
    assert column(reading, "index") == [0, 1, 2, 3, 4]
    if protocol != "sgminer":  # the sgminer-style API gives no bus numbers
        assert column(reading, "pci_bus") == [3, 1, 7, 9, 11]

    rig.gpus.append(type(rig.gpus[0])(6, rig.model, rig.gpus[0].rng))
    assert len((await poll(server, protocol)).gpus) == 6


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", ["claymore", "ethminer", "sgminer"])
async def test_uptime_advances_and_restart_resets_it(servers, protocol):
    rig, clock = SimulatedRig("u1", 2, "rtx3080"), Clock()
    server = await servers(protocol, rig, uptime_s=600, clock=clock)
    assert (await poll(server, protocol)).uptime_s == 600
    clock.now += 125
    expected = 720 if protocol == "claymore" else 725  # Claymore counts whole minutes
    assert (await poll(server, protocol)).uptime_s == expected
    rig.restart()
    clock.now += 5
    assert (await poll(server, protocol)).uptime_s == 0
    clock.now += 61
    assert (await poll(server, protocol)).uptime_s == (60 if protocol == "claymore" else 61)


@pytest.mark.asyncio
async def test_simulator_rejects_unknown_options():
    rig = SimulatedRig("x", 1, "rx580")
    for options in ({"fault": "explode"}, {"variant": "getstat9"}):
        with pytest.raises(ValueError):
            await start_server("claymore", rig, **options)
    with pytest.raises(ValueError):
        await start_server("cgminer", rig)


@pytest.mark.asyncio
async def test_many_simulators_are_cheap(servers):
    """The polling benchmark runs a thousand of these in one process; a hundred must start and
    answer a concurrent poll each in well under a second."""
    started = time.monotonic()
    rigs = [SimulatedRig(f"m{i}", 8, "rx580") for i in range(100)]
    protocols = ["claymore", "ethminer", "sgminer"]
    pool = [await servers(protocols[i % 3], rig) for i, rig in enumerate(rigs)]
    readings = await asyncio.gather(
        *(poll(server, protocols[i % 3]) for i, server in enumerate(pool))
    )
    assert all(len(reading.gpus) == 8 for reading in readings)
    assert time.monotonic() - started < 2.0


def test_simulator_imports_neither_django_nor_the_app():
    code = (
        "import sys, simulators.miners_tcp; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rigs', 'ethdash'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- GPUs switched off in the miner ------------------------------------------------------------


@pytest.mark.asyncio
async def test_claymore_simulator_lists_a_switched_off_gpu_as_off(servers):
    server = await servers("claymore", off_gpus=(1,))
    raw = await claymore.call(endpoint(server, "claymore"), "miner_getstat2")
    per_gpu = raw["result"][3].split(";")
    assert per_gpu[1] == "off"
    # The miner's total is over the GPUs that mine: the off one is not in it.
    assert int(raw["result"][2].split(";")[0]) == sum(int(k) for k in per_gpu if k != "off")

    reading = await poll(server, "claymore")
    assert column(reading, "off") == [False, True, False, False, False, False]
    assert reading.gpus[1].hashrate_hs == 0.0
    assert reading.gpus[1].temperature_c is not None  # still listed with its sensors
    assert reading.hashrate_hs == sum(column(reading, "hashrate_hs"))


@pytest.mark.asyncio
async def test_ethminer_simulator_reports_a_switched_off_gpu_as_paused(servers):
    server = await servers("ethminer", off_gpus=(2,))
    reading = await poll(server, "ethminer")
    assert column(reading, "off") == [False, False, True, False, False, False]
    assert (reading.gpus[2].hashrate_hs, reading.gpus[2].off_reason) == (
        0.0,
        "paused (Api request)",
    )
    assert reading.hashrate_hs == pytest.approx(sum(column(reading, "hashrate_hs")), abs=6)


@pytest.mark.asyncio
async def test_claymore_simulator_with_an_off_gpu_answers_as_claymore(servers):
    reading = await poll(await servers("claymore", off_gpus=(0,)), "claymore")
    assert (reading.miner, reading.version) == ("Claymore", "15.0")
