"""The simulators' occasional faults, switched on by the demo: each holds exactly on its cycle
(a rig's GPU hot, a rig silent, a pool answering 502, a validator missing its attestations),
and none happens unless asked, so tests and benchmarks see the same worlds as before.

No Django and no database: only the simulators are imported."""

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from simulators.beacon_chain import Chain
from simulators.faults import FaultCycle
from simulators.fleet import start_fleet
from simulators.pools import PoolState, start_pool_server, stop_pool_server
from simulators.rig_agent import SimulatedRig, flaky_cycle

T0 = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


# -- the cycle ------------------------------------------------------------------------------


def test_a_cycle_holds_from_at_for_its_length_in_every_period():
    cycle = FaultCycle(600, 240, 30)
    assert [cycle.active(t) for t in (0, 29.9, 30, 269.9, 270, 629.9, 630, 869.9, 870)] == [
        False, False, True, True, False, False, True, True, False,
    ]  # fmt: skip
    assert cycle.windows(0, 100) == list(range(30, 100))
    assert cycle.windows(250, 700) == [*range(250, 270), *range(630, 700)]


def test_a_cycle_is_parsed_from_the_command_line_and_refuses_nonsense():
    assert FaultCycle.parse("40:4:22") == FaultCycle(40, 4, 22)
    assert FaultCycle.parse("600:150") == FaultCycle(600, 150, 0)
    for bad in ("600", "600:600", "600:0", "10:20", "600:150:-1", "a:b", "1:2:3:4"):
        with pytest.raises(Exception, match=bad.replace("-", r"\-")):
            FaultCycle.parse(bad)


# -- a rig overheats ------------------------------------------------------------------------


def _temperatures(rig, seconds, step=5):
    """{second: (GPU 0's temperature, its fan, GPU 1's temperature)} every `step` seconds."""
    readings = {}
    for second in range(0, seconds, step):
        samples = rig.sample(T0 + timedelta(seconds=second))
        readings[second] = (
            samples[0]["temperature_c"],
            samples[0]["fan_pct"],
            samples[1]["temperature_c"],
        )
    return readings


def test_an_overheating_rig_passes_90_c_in_its_window_then_cools():
    rig = SimulatedRig("2", 4, "rtx3080", overheat=FaultCycle(600, 240, 30))
    readings = _temperatures(rig, 1260)
    assert rig.overheating(100) and not rig.overheating(10) and not rig.overheating(300)
    for cycle_start in (0, 600):
        window = range(cycle_start + 30, cycle_start + 270, 5)
        hot = [s for s in window if readings[s][0] > 90]
        # Past 90 °C within about two minutes of the fan stopping, and until it restarts.
        assert hot and hot[0] <= cycle_start + 30 + 150 and hot[-1] == cycle_start + 265
        assert all(readings[s][1] == 0 for s in window)  # the stopped fan reads 0 %
        # Cooled back within a minute and a half, until the next window.
        cool = range(cycle_start + 360, cycle_start + 630, 5)
        assert all(readings[s][0] < 80 and readings[s][1] > 0 for s in cool)
    assert all(gpu1 < 80 for _, _, gpu1 in readings.values())  # only GPU 0 overheats


def test_no_rig_overheats_unless_asked():
    plain, asked = SimulatedRig("2", 4, "rtx3080"), SimulatedRig("2", 4, "rtx3080")
    assert not any(plain.overheating(t) for t in range(0, 3600, 5))
    readings = _temperatures(plain, 3600)
    assert max(temp for temp, _, _ in readings.values()) < 80
    assert all(fan > 0 for _, fan, _ in readings.values())
    # The same seed gives the same figures as before faults existed: nothing random was added.
    assert _temperatures(asked, 3600) == readings


def test_a_polled_miner_of_the_fleet_overheats_when_asked():
    async def start():
        fleet = await start_fleet(
            [("trex", 2, "rtx3080"), ("trex", 2, "rtx3080")], overheat={1: FaultCycle(60, 30)}
        )
        for server, _, _ in fleet:
            server.close()
        return [rig for _, _, rig in fleet]

    quiet, hot = asyncio.run(start())
    assert not quiet.overheating(10) and hot.overheating(10) and not hot.overheating(40)


# -- a rig goes silent ------------------------------------------------------------------------


def test_a_flaky_rig_is_silent_for_the_end_of_each_cycle():
    silence = flaky_cycle(600, 180)
    silent = [t for t in range(0, 1800, 30) if silence.active(t)]
    assert silent == [*range(420, 600, 30), *range(1020, 1200, 30), *range(1620, 1800, 30)]
    # Its defaults, as the agent has always run them: 40 s out of every 180.
    assert [t for t in range(0, 360, 10) if flaky_cycle(180, 40).active(t)] == [
        *range(140, 180, 10), *range(320, 360, 10),
    ]  # fmt: skip


def test_the_agent_refuses_a_silence_longer_than_its_cycle():
    run = subprocess.run(
        [sys.executable, "-m", "simulators.rig_agent", "--token", "t", "--rig", "1:2",
         "--flaky", "1", "--flaky-every", "60", "--flaky-off", "60"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert run.returncode == 2 and "--flaky-off" in run.stderr


# -- a pool answers 502 ---------------------------------------------------------------------


def _pool(**options):
    return PoolState(
        "ethermine-v1", {}, coin="ETC", pool_id="etc1", fault=None, rate_limit=None, seed=1,
        slow_s=15.0, **options,
    )  # fmt: skip


def test_a_pool_with_an_outage_fails_only_in_its_window():
    pool = _pool(outage=FaultCycle(600, 150, 180))
    faults = {t: pool.fault_at(pool.started + t) for t in range(0, 1200, 30)}
    assert [t for t, fault in faults.items() if fault] == [
        *range(180, 330, 30), *range(780, 930, 30),
    ]  # fmt: skip
    assert set(faults.values()) == {None, "html"}  # 502 with an HTML page
    assert not any(_pool().fault_at(_pool().started + t) for t in range(0, 3600, 30))


def test_a_pool_server_answers_502_during_its_outage_and_serves_after():
    login = "0x" + "de" * 19 + "03"

    async def scenario():
        # Down for the first half second of every two.
        server = await start_pool_server(
            "ethermine-v1", accounts={login: {}}, outage=FaultCycle(2.0, 0.5, 0.0)
        )
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=5) as client:
                down = await client.get(f"/miner/{login}/currentStats")
                await asyncio.sleep(max(0.0, server.pool.started + 0.7 - time.time()))
                up = await client.get(f"/miner/{login}/currentStats")
        finally:
            await stop_pool_server(server)
        return down, up, server.stats

    down, up, stats = asyncio.run(scenario())
    assert down.status_code == 502 and down.headers["content-type"].startswith("text/html")
    assert up.status_code == 200 and up.json()["status"] == "OK"
    assert stats.faults == 1


# -- a validator misses attestations ---------------------------------------------------------


def test_the_outage_validator_misses_in_its_epochs_only():
    chain = Chain(registry_size=1000, attestation_outage=(13, FaultCycle(40, 4, 22)))
    plain = Chain(registry_size=1000)
    missed = [e for e in range(200) if chain.attestation_outcome(13, e) == "missed"]
    seeded = [e for e in range(200) if plain.attestation_outcome(13, e) == "missed"]
    outage = [*range(22, 26), *range(62, 66), *range(102, 106), *range(142, 146), *range(182, 186)]
    assert missed == sorted(set(outage) | set(seeded))
    # Every other validator, and every other epoch of this one, is as without the outage.
    for index in (0, 12, 14, 999):
        assert [chain.attestation_outcome(index, e) for e in range(200)] == [
            plain.attestation_outcome(index, e) for e in range(200)
        ]
    assert [chain.attestation_outcome(13, e) for e in range(200) if e not in outage] == [
        plain.attestation_outcome(13, e) for e in range(200) if e not in outage
    ]
    # The balance's closed form counts the outage's penalties, epoch by epoch.
    for epoch in (0, 22, 24, 26, 63, 150, 200):
        expected = sum(sum(chain.attestation_reward(13, e)) for e in range(epoch))
        assert chain.attestation_total(13, epoch) == expected
    assert chain.attestation_total(13, 200) < plain.attestation_total(13, 200)


def test_several_validators_share_one_outage_cycle():
    from simulators.beacon_node import _outage

    indices, cycle = _outage("13,14,20:10:4:3")
    assert indices == (13, 14, 20) and cycle == FaultCycle(10, 4, 3)
    chain = Chain(registry_size=1000, attestation_outage=(indices, cycle))
    for index in indices:
        assert [e for e in range(30) if chain.in_outage(index, e)] == [3, 4, 5, 6, 13, 14, 15, 16,
                                                                      23, 24, 25, 26]  # fmt: skip
        expected = sum(sum(chain.attestation_reward(index, e)) for e in range(30))
        assert chain.attestation_total(index, 30) == expected
    assert not any(chain.in_outage(15, e) for e in range(30))


def test_no_validator_misses_by_outage_unless_asked():
    chain = Chain(registry_size=1000)
    assert not any(chain.in_outage(i, e) for i in range(64) for e in range(200))


def test_the_outage_validator_is_not_live_over_the_beacon_api():
    from simulators.beacon_node import start_beacon_node, stop_beacon_node

    async def scenario():
        # Every other epoch: the current one or the one before is an outage epoch, and the
        # node serves liveness for both.
        server = await start_beacon_node(
            seconds_per_slot=0.05, slots_per_epoch=4, registry_size=100,
            attestation_outage=(13, FaultCycle(2, 1, 0)),
        )  # fmt: skip
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=5) as client:
                epoch = server.chain.current_epoch()
                outage = max(e for e in range(epoch + 1) if server.chain.in_outage(13, e))
                live = await client.post(f"/eth/v1/validator/liveness/{outage}", json=["13", "14"])
        finally:
            await stop_beacon_node(server)
        return live.json()["data"], server.chain.attestation_outcome(14, outage)

    live, other = asyncio.run(scenario())
    assert live == [
        {"index": "13", "is_live": False},
        {"index": "14", "is_live": other != "missed"},
    ]
