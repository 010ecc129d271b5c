"""The rig-agent simulator: telemetry realism without HTTP, then push/buffer logic over HTTP.

No Django and no database: only simulators.rig_agent is imported.
"""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from simulators import rig_agent
from simulators.rig_agent import (
    DROPPED,
    GPU_MODELS,
    OK,
    RETRY,
    RigUplink,
    SimulatedRig,
    fan_curve,
    push_batch,
)

T0 = datetime(2026, 11, 25, 14, 0, 0, tzinfo=UTC)
FIELDS = {
    "ts",
    "gpu",
    "hashrate_hs",
    "temperature_c",
    "fan_pct",
    "power_w",
    "shares_accepted",
    "shares_rejected",
    "shares_stale",
}


def run_ticks(rig, n, step=5.0, start=T0):
    return [rig.sample(start + timedelta(seconds=i * step)) for i in range(n)]


def test_samples_follow_contract_fields_and_units():
    rig = SimulatedRig("7", 6, "rtx3070", seed=3)
    ticks = run_ticks(rig, 200)
    nominal_hs, _ = GPU_MODELS["rtx3070"]
    assert ticks[1][0]["ts"] == "2026-11-25T14:00:05Z"
    for tick in ticks:
        assert [s["gpu"] for s in tick] == list(range(6))
        for s in tick:
            assert set(s) == FIELDS
            assert isinstance(s["hashrate_hs"], float)
            assert 0.0 <= s["hashrate_hs"] <= 2 * nominal_hs
            assert -40.0 <= s["temperature_c"] <= 150.0
            assert 0.0 <= s["fan_pct"] <= 100.0
            assert s["power_w"] > 0
            assert all(isinstance(s[k], int) for k in FIELDS if k.startswith("shares_"))
    # H/s, not MH/s: the typical sample sits near the nominal rate.
    rates = sorted(s["hashrate_hs"] for tick in ticks for s in tick)
    assert 0.95 * nominal_hs < rates[len(rates) // 2] < 1.05 * nominal_hs


def test_share_counters_never_decrease_and_grow_with_hashrate():
    rig = SimulatedRig("1", 4, "rtx3080", seed=5)
    ticks = run_ticks(rig, 720)  # one simulated hour
    for gpu in range(4):
        for key in ("shares_accepted", "shares_rejected", "shares_stale"):
            series = [tick[gpu][key] for tick in ticks]
            assert series == sorted(series)
        # ~97 MH/s * 3600 s / 4e9 ≈ 87 shares an hour.
        assert 50 < ticks[-1][gpu]["shares_accepted"] < 130
        assert ticks[-1][gpu]["shares_rejected"] < ticks[-1][gpu]["shares_accepted"] / 10


def test_same_seed_is_deterministic_and_seeds_differ():
    a = run_ticks(SimulatedRig("2", 8, seed=11), 50)
    b = run_ticks(SimulatedRig("2", 8, seed=11), 50)
    c = run_ticks(SimulatedRig("2", 8, seed=12), 50)
    assert a == b
    assert a != c


def test_temperature_rises_after_load_increases():
    rig = SimulatedRig("3", 1, "rx6800", seed=2)
    gpu = rig.gpus[0]
    run_ticks(rig, 120)  # warm up to steady state
    gpu.start_drop(ticks=60, factor=0.0)  # miner stalls: power falls to idle
    idle = run_ticks(rig, 60, start=T0 + timedelta(seconds=600))
    busy = run_ticks(rig, 12, start=T0 + timedelta(seconds=900))
    idle_temps = [t[0]["temperature_c"] for t in idle]
    busy_temps = [t[0]["temperature_c"] for t in busy]
    assert idle[-1][0]["hashrate_hs"] == 0.0
    assert idle_temps[-1] < idle_temps[0] - 5
    # Thermal lag: load is back at once, temperature climbs over the following ticks.
    assert busy[0][0]["power_w"] > idle[-1][0]["power_w"] * 2
    assert busy_temps[-1] > busy_temps[0] + 3
    assert busy[-1][0]["fan_pct"] >= idle[-1][0]["fan_pct"]


def test_fan_follows_curve():
    assert fan_curve(20) == fan_curve(50) == 30
    assert fan_curve(65) == 65
    assert fan_curve(80) == fan_curve(95) == 100
    temps = [t / 2 for t in range(60, 200)]
    fans = [fan_curve(t) for t in temps]
    assert fans == sorted(fans)
    for tick in run_ticks(SimulatedRig("4", 3, "rx5700xt", seed=9), 100):
        for s in tick:
            assert s["fan_pct"] == fan_curve(s["temperature_c"])


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError):
        SimulatedRig("1", 2, "gtx9999")


def test_cli_rig_spec_parsing():
    assert rig_agent._rig_spec("2:8:RTX-3080") == ("2", 8, "rtx3080")
    assert rig_agent._rig_spec("1:6") == ("1", 6, None)
    with pytest.raises(Exception, match="ID:GPUS"):
        rig_agent._rig_spec("1")


# --- push / buffer logic against a real local HTTP server ---------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        srv = self.server
        srv.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": json.loads(body)}
        )
        status = srv.statuses.pop(0) if srv.statuses else 202
        payload = {"accepted": 1} if status < 400 else {"detail": "nope", "code": "bad_sample"}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.requests, srv.statuses = [], []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=2)


@pytest.fixture
def client():
    with httpx.Client(timeout=2.0) as c:
        yield c


def buffer_tick(up, tick):
    """Buffers the rig's reading of tick `tick` (5 s apart from T0), as the agent's loop does."""
    up.buffer.append(up.rig.sample(T0 + timedelta(seconds=5 * tick)))


def test_successful_push_sends_bearer_and_json_body(server, client):
    srv, url = server
    samples = SimulatedRig("5", 2, "rtx3070").sample(T0)
    assert push_batch(client, url + "/", "tok-123", "5", samples) == OK
    (req,) = srv.requests
    assert req["path"] == "/api/v1/rigs/5/telemetry/"
    assert req["auth"] == "Bearer tok-123"
    assert req["body"] == {"samples": samples}


def test_503_keeps_batch_and_next_push_sends_both_ticks(server, client):
    srv, url = server
    srv.statuses = [503]
    up = RigUplink(SimulatedRig("6", 2, "rx6800"))
    buffer_tick(up, 0)
    assert up.flush(client, url, "t", now=100.0) == RETRY
    assert len(up.buffer) == 1
    assert not up.due(100.0) and up.due(100.0 + up.rig.cadence)

    buffer_tick(up, 1)
    assert up.flush(client, url, "t", now=105.0) == OK
    sent = srv.requests[1]["body"]["samples"]
    assert [s["ts"] for s in sent] == ["2026-11-25T14:00:00Z"] * 2 + ["2026-11-25T14:00:05Z"] * 2
    assert not up.buffer and up.failures == 0


def test_400_drops_batch(server, client):
    srv, url = server
    srv.statuses = [400]
    up = RigUplink(SimulatedRig("6", 2, "rx6800"))
    buffer_tick(up, 0)
    assert up.flush(client, url, "t", now=0.0) == DROPPED
    assert not up.buffer
    buffer_tick(up, 1)
    assert up.flush(client, url, "t", now=5.0) == OK
    assert len(srv.requests[1]["body"]["samples"]) == 2


def test_connection_errors_back_off_exponentially_and_buffer_is_bounded():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    up = RigUplink(SimulatedRig("8", 1, "rx580", cadence=5.0), max_ticks=3)
    delays = []
    with httpx.Client(transport=httpx.MockTransport(refuse)) as c:
        for i in range(8):
            buffer_tick(up, i)
            assert up.flush(c, "http://agent.invalid", "t", now=0.0) == RETRY
            delays.append(up.retry_at)
    assert delays == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0, 60.0]
    assert len(up.buffer) == 3
    assert up.buffer[0][0]["ts"] == "2026-11-25T14:00:25Z"  # oldest ticks were discarded


def test_batches_are_capped_at_max_samples(monkeypatch):
    monkeypatch.setattr(rig_agent, "MAX_BATCH_SAMPLES", 5)
    sizes = []

    def accept(request):
        sizes.append(len(json.loads(request.content)["samples"]))
        return httpx.Response(201, json={})

    up = RigUplink(SimulatedRig("9", 2, "rtx3070"))
    for i in range(3):
        buffer_tick(up, i)
    with httpx.Client(transport=httpx.MockTransport(accept)) as c:
        assert up.flush(c, "http://x", "t", now=0.0) == OK
        assert up.flush(c, "http://x", "t", now=0.0) == OK
    assert sizes == [4, 2]
    assert not up.buffer


def test_run_loop_pushes_each_rig_per_tick_and_stops():
    seen = []

    def accept(request):
        seen.append(request.url.path)
        return httpx.Response(202, json={})

    rigs = [SimulatedRig("1", 2, seed=1, cadence=0.05), SimulatedRig("2", 3, seed=1, cadence=0.05)]
    with httpx.Client(transport=httpx.MockTransport(accept)) as c:
        rig_agent.run("http://x", "t", rigs, cadence=0.05, duration=0.22, client=c)
    assert 2 <= seen.count("/api/v1/rigs/1/telemetry/") <= 6
    assert seen.count("/api/v1/rigs/1/telemetry/") == seen.count("/api/v1/rigs/2/telemetry/")
