"""Stand-in for a rig agent pushing GPU telemetry to ethdash: ethdash's own batch format to the
ingest API, or, for the rigs given a Hive OS password, the Hive OS agent's own requests (hello,
then stats every cadence) to /worker/api, built and sent as hive/bin/agent and hive/bin/hello of
minershive/hiveos-linux do.

Run: python -m simulators.rig_agent --token T --rig 1:6 --rig 2:8:rtx3080 [--flaky 2]
     python -m simulators.rig_agent --rig 7:4 --hive 7:RIG_PASSWD [--hive-gzip]
     python -m simulators.rig_agent --token T --rig 1:6 --overheat 1 --overheat-cycle 600:240:30

Occasional faults, off unless asked (simulators.faults.FaultCycle, on seconds since the agent
started):
- `--flaky ID` (repeatable): the rig goes silent, pushing nothing, for the last `--flaky-off`
  seconds of every `--flaky-every` (40 of 180 by default); back, its miner restarts from zero.
- `--overheat ID` (repeatable): the fan of the rig's first GPU fails during each window of
  `--overheat-cycle EVERY:FOR[:AT]` (600:240:30 by default: from 30 s, 4 minutes in every 10).
  The fan reads 0 % and the card heats towards 40 °C above its usual temperature with the
  heatsink's lag (THERMAL_TAU_S), passing 90 °C about 95 s in; once the window ends it cools
  back below 80 °C within a minute.

Deliberately independent of Django/ethdash (stdlib + httpx only) so it exercises the HTTP
contract exactly as a real agent on a remote rig would.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import os
import random
import signal
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from simulators.faults import FaultCycle

log = logging.getLogger("rig_agent")

# name -> (nominal hashrate H/s, nominal power W) for a typical Ethash tune.
GPU_MODELS: dict[str, tuple[float, float]] = {
    "rtx3060ti": (60e6, 120.0),
    "rtx3070": (61e6, 120.0),
    "rtx3080": (97e6, 220.0),
    "rtx3090": (120e6, 290.0),
    "rx580": (31e6, 125.0),
    "rx5700xt": (54e6, 130.0),
    "rx6700xt": (47e6, 120.0),
    "rx6800": (62e6, 140.0),
}

SHARE_DIFFICULTY = 4e9  # hashes per share, as on a typical pool port
AMBIENT_C = 25.0
THERMAL_TAU_S = 60.0  # heatsink time constant; makes temperature lag behind power
FAN_FAILURE_EXTRA_C = 40.0  # how much hotter a card runs, at the same power, with its fan stopped
DROPS_PER_GPU_HOUR = 1.0
MAX_BATCH_SAMPLES = 5000
MAX_BUFFER_TICKS = 720  # one hour at 5 s cadence: bounded memory while the server is down
MAX_BACKOFF_S = 60.0

OK, DROPPED, RETRY = "ok", "dropped", "retry"


def normalize_model(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def fan_curve(temp_c: float) -> float:
    """30 % below 50 °C, linear up to 100 % at 80 °C, as a typical miner OS profile."""
    if temp_c <= 50.0:
        return 30.0
    if temp_c >= 80.0:
        return 100.0
    return float(round(30.0 + (temp_c - 50.0) * 70.0 / 30.0))


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # Knuth's loop gets slow and underflows; the normal approximation is fine here
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class SimulatedGpu:
    def __init__(self, index: int, model: str, rng: random.Random):
        self.index, self.model, self.rng = index, model, rng
        nominal_hs, nominal_w = GPU_MODELS[model]
        # Silicon lottery and airflow differ per card, so identical cards don't look cloned.
        self.nominal_hs = nominal_hs * rng.uniform(0.97, 1.03)
        self.nominal_w = nominal_w * rng.uniform(0.96, 1.04)
        self.idle_w = 0.25 * self.nominal_w
        self.degrees_per_w = (37.0 / nominal_w) * rng.uniform(0.9, 1.15)
        self.fan_failed = False
        self.restart()

    def restart(self) -> None:
        """Miner restart: counters go back to zero and the card starts cold."""
        self.temp_c = AMBIENT_C + self.rng.uniform(2.0, 6.0)
        self.accepted = self.rejected = self.stale = 0
        self.drop_ticks, self.drop_factor = 0, 1.0

    def start_drop(self, ticks: int, factor: float) -> None:
        self.drop_ticks, self.drop_factor = ticks, factor

    def sample(self, ts: str, dt: float) -> dict:
        rng = self.rng
        if self.drop_ticks == 0 and rng.random() < dt * DROPS_PER_GPU_HOUR / 3600.0:
            self.start_drop(rng.randint(1, 4), rng.uniform(0.0, 0.5))
        factor = self.drop_factor if self.drop_ticks > 0 else 1.0
        self.drop_ticks = max(0, self.drop_ticks - 1)

        hashrate = self.nominal_hs * factor * rng.gauss(1.0, 0.007)
        hashrate = min(max(hashrate, 0.0), 2.0 * self.nominal_hs)
        load = hashrate / self.nominal_hs
        power = (self.idle_w + (self.nominal_w - self.idle_w) * load) * rng.gauss(1.0, 0.01)

        target = AMBIENT_C + self.degrees_per_w * power
        if self.fan_failed:
            target += FAN_FAILURE_EXTRA_C
        self.temp_c += (target - self.temp_c) * (1.0 - math.exp(-dt / THERMAL_TAU_S))
        temp = round(self.temp_c + rng.gauss(0.0, 0.2), 1)

        expected_shares = hashrate * dt / SHARE_DIFFICULTY
        self.accepted += _poisson(rng, expected_shares * 0.985)
        self.rejected += _poisson(rng, expected_shares * 0.005)
        self.stale += _poisson(rng, expected_shares * 0.01)
        return {
            "ts": ts,
            "gpu": self.index,
            "hashrate_hs": round(hashrate, 1),
            "temperature_c": temp,
            "fan_pct": 0.0 if self.fan_failed else fan_curve(temp),
            "power_w": float(round(power)),
            "shares_accepted": self.accepted,
            "shares_rejected": self.rejected,
            "shares_stale": self.stale,
        }


class SimulatedRig:
    """`overheat`: the fan of GPU 0 fails while the cycle holds, on seconds since the first
    sample (kept across restarts); None, the default, never."""

    def __init__(
        self,
        rig_id: str,
        gpus: int,
        model: str | None = None,
        seed: int = 1,
        cadence: float = 5.0,
        overheat: FaultCycle | None = None,
    ):
        self.rig_id, self.cadence, self.overheat = str(rig_id), cadence, overheat
        # String seeds hash deterministically, so every rig gets its own reproducible stream.
        rng = random.Random(f"{seed}:{rig_id}")
        self.model = normalize_model(model) if model else rng.choice(sorted(GPU_MODELS))
        if self.model not in GPU_MODELS:
            raise ValueError(f"unknown GPU model {model!r}; known: {', '.join(GPU_MODELS)}")
        self.gpus = [SimulatedGpu(i, self.model, rng) for i in range(gpus)]
        self._last_ts: datetime | None = None
        self._first_ts: datetime | None = None

    def overheating(self, elapsed_s: float) -> bool:
        """Whether GPU 0's fan has failed `elapsed_s` after the rig's first sample."""
        return self.overheat is not None and self.overheat.active(elapsed_s)

    def restart(self) -> None:
        for gpu in self.gpus:
            gpu.restart()
        self._last_ts = None

    def sample(self, ts: datetime) -> list[dict]:
        dt = self.cadence if self._last_ts is None else (ts - self._last_ts).total_seconds()
        dt = min(max(dt, 0.0), 600.0)  # clock jumps must not fake hours of shares
        self._last_ts = ts
        self._first_ts = self._first_ts or ts
        if self.gpus:
            self.gpus[0].fan_failed = self.overheating((ts - self._first_ts).total_seconds())
        ts = ts.astimezone(UTC)
        # Whole seconds like real agents; milliseconds only keep sub-second cadences unique.
        spec = "milliseconds" if ts.microsecond else "seconds"
        stamp = ts.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
        return [gpu.sample(stamp, dt) for gpu in self.gpus]


def push_batch(client: httpx.Client, url: str, token: str, rig_id: str, samples: list[dict]) -> str:
    """POST one batch; returns OK, DROPPED (4xx: resending can't help) or RETRY."""
    endpoint = f"{url.rstrip('/')}/api/v1/rigs/{rig_id}/telemetry/"
    try:
        resp = client.post(
            endpoint, json={"samples": samples}, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as exc:  # timeouts, refused connections, broken transfers
        log.warning("rig %s: %s; keeping %d samples", rig_id, type(exc).__name__, len(samples))
        return RETRY
    if resp.is_success:
        return OK
    if resp.status_code >= 500:
        log.warning("rig %s: HTTP %d; keeping %d samples", rig_id, resp.status_code, len(samples))
        return RETRY
    try:
        body = resp.json()
        why = f"{body.get('code')}: {body.get('detail')}"
    except (ValueError, AttributeError):
        why = resp.text[:200]
    log.error("rig %s: HTTP %d %s; dropped %d samples", rig_id, resp.status_code, why, len(samples))
    return DROPPED


# -- the Hive OS agent ---------------------------------------------------------------------------

HIVE_VENDOR = {"rtx": ("nvidia", "GeForce RTX "), "rx": ("amd", "Radeon RX ")}


class HiveAgentRig:
    """A SimulatedRig as the Hive OS agent reports it. The rig has an iGPU on bus 0 and its cards
    on buses 1, 3, 5, ...; the agent's temp/fan/power arrays (gpu-stats) follow the bus order,
    the iGPU included with zeros, while the miner lists its last card first, as miners order
    cards their own way. Nothing in the stats body says which top-level entry is which card:
    the server knows it from the hello's GPU list, sorted the same way.

    With `cpu_threads`, the rig also mines RandomX on its CPU as MINER2, xmrig-new, whose
    h-stats.sh sends one hs entry per CPU thread (H/s, `hs_units` "hs"), each with a null bus
    number, the CPU's temperature repeated per thread and null fans."""

    CPU_THREAD_HS = 890.0

    def __init__(self, rig: SimulatedRig, password: str, cpu_threads: int = 0):
        self.rig, self.password, self.cpu_threads = rig, password, cpu_threads
        self.buses = [1 + 2 * gpu.index for gpu in rig.gpus]
        self.miner_order = self.buses[-1:] + self.buses[:-1]
        self.started = time.monotonic()

    def _credentials(self) -> dict:
        return {"rig_id": self.rig.rig_id, "passwd": self.password}

    def hello_body(self, server_url: str = "") -> dict:
        """hive/bin/hello's request; `gpu` is gpu-detect listjson (sorted by bus id);
        `server_url` is the agent's HIVE_HOST_URL, which ethdash writes back into the rig.conf
        of its answer."""
        brand, prefix = next(
            (v for k, v in HIVE_VENDOR.items() if self.rig.model.startswith(k)), ("nvidia", "")
        )
        name = prefix + self.rig.model.removeprefix("rtx").removeprefix("rx").upper()
        gpus = [{"busid": "00:02.0", "name": "UHD Graphics 610", "brand": "cpu"}] + [
            {"busid": f"{bus:02x}:00.0", "name": name, "brand": brand, "mem": "8192 MB"}
            for bus in self.buses
        ]
        return {
            "method": "hello",
            "jsonrpc": "2.0",
            "id": 0,
            "params": {
                **self._credentials(),
                "server_url": server_url,
                "boot_time": str(int(time.time() - (time.monotonic() - self.started))),
                "boot_event": "1",
                "gpu": gpus,
                "gpu_count_amd": str(len(self.buses) if brand == "amd" else 0),
                "gpu_count_nvidia": str(len(self.buses) if brand == "nvidia" else 0),
                "mb": {"manufacturer": "ASRock", "product": "H110 Pro BTC+"},
                "cpu": {"model": "Intel(R) Celeron(R) CPU G3930 @ 2.90GHz", "cores": "2"},
                "kernel": "5.15.0-hiveos",
                "version": "0.6-225@230511",
            },
        }

    def stats_body(self, samples: list[dict]) -> dict:
        """hive/bin/agent's stats request for one tick of samples (one per GPU, by index)."""
        by_bus = {self.buses[s["gpu"]]: s for s in samples}
        detected = [None, *self.buses]  # the iGPU first: gpu-stats writes 0s for it
        agent = {
            key: [float(by_bus[bus][field]) if bus else 0.0 for bus in detected]
            for key, field in (("temp", "temperature_c"), ("fan", "fan_pct"), ("power", "power_w"))
        }
        miner = [by_bus[bus] for bus in self.miner_order]
        accepted = sum(s["shares_accepted"] for s in miner)
        rejected = sum(s["shares_rejected"] for s in miner)
        khs = [round(s["hashrate_hs"] / 1e3, 3) for s in miner]  # hs_units absent: kH/s
        return {
            "method": "stats",
            "params": {
                "v": 1,
                **self._credentials(),
                "meta": None,
                **agent,
                "df": "12G",
                "mem": [3842, 2650],
                "cpuavg": [0.52, 0.44, 0.41],
                "miner": "lolminer",
                "miner_stats": {
                    "hs": khs,
                    "temp": [s["temperature_c"] for s in miner],
                    "fan": [s["fan_pct"] for s in miner],
                    "uptime": int(time.monotonic() - self.started),
                    "ar": [accepted, rejected, 0, ";".join("0" for _ in miner)],
                    "bus_numbers": list(self.miner_order),
                    "algo": "etchash",
                    "ver": "1.76",
                },
                "total_khs": round(sum(khs), 3),
                **self._cpu_miner(),
            },
        }

    def _cpu_miner(self) -> dict:
        if not self.cpu_threads:
            return {}
        threads = [self.CPU_THREAD_HS + 0.5 * i for i in range(self.cpu_threads)]
        return {
            "miner2": "xmrig-new",
            "total_khs2": round(sum(threads) / 1e3, 4),
            "miner_stats2": {
                "hs": threads,
                "hs_units": "hs",
                "algo": "rx/0",
                "temp": [62.0] * self.cpu_threads,
                "fan": [None] * self.cpu_threads,
                "uptime": int(time.monotonic() - self.started),
                "ar": [0, 0],
                "bus_numbers": [None] * self.cpu_threads,
                "ver": "6.21.0",
            },
        }


def push_hive(
    client: httpx.Client, url: str, rig_id: str, method: str, body: dict, gzipped: bool
) -> dict | None:
    """POST one agent request as its curl does: to $HIVE_HOST_URL/worker/api?id_rig=&method=,
    compact JSON, no Content-Type, User-Agent or Accept for stats (hello says application/json),
    `gzip -9` with Content-Encoding: gzip when AGENT_GZIP=1. Returns the JSON-RPC answer."""
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"} if method == "hello" else {}
    if gzipped and method == "stats":
        data, headers = gzip.compress(data, compresslevel=9), {"Content-Encoding": "gzip"}
    endpoint = f"{url.rstrip('/')}/worker/api"
    request = client.build_request(
        "POST", endpoint, params={"id_rig": rig_id, "method": method}, content=data
    )
    for name in ("User-Agent", "Accept", "Accept-Encoding"):
        request.headers.pop(name, None)
    request.headers.update(headers)
    try:
        answer = client.send(request).json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("rig %s: %s %s", rig_id, method, type(exc).__name__)
        return None
    if answer.get("error"):
        log.log(
            logging.INFO if method == "hello" else logging.ERROR,
            "rig %s: %s: %s",
            rig_id,
            method,
            answer["error"].get("message"),
        )
    return answer


@dataclass
class RigUplink:
    """A rig plus its unsent ticks and backoff state."""

    rig: SimulatedRig
    max_ticks: int = MAX_BUFFER_TICKS
    failures: int = 0
    retry_at: float = 0.0

    def __post_init__(self) -> None:
        self.buffer: deque[list[dict]] = deque(maxlen=self.max_ticks)  # oldest fall off

    def due(self, now: float) -> bool:
        return now >= self.retry_at

    def flush(self, client: httpx.Client, url: str, token: str, now: float) -> str:
        ticks: list[list[dict]] = []
        count = 0
        for tick in self.buffer:  # oldest first, so the server sees time move forward
            if ticks and count + len(tick) > MAX_BATCH_SAMPLES:
                break
            ticks.append(tick)
            count += len(tick)
        if not ticks:
            return OK
        outcome = push_batch(client, url, token, self.rig.rig_id, [s for t in ticks for s in t])
        if outcome == RETRY:
            self.failures += 1
            delay = self.rig.cadence * 2 ** (self.failures - 1)
            self.retry_at = now + min(MAX_BACKOFF_S, delay)
            return outcome
        for _ in ticks:
            self.buffer.popleft()
        self.failures, self.retry_at = 0, 0.0
        return outcome


def flaky_cycle(every_s: float, off_s: float) -> FaultCycle:
    """A flaky rig is silent for the last `off_s` seconds of every `every_s`."""
    return FaultCycle(every_s, off_s, at=every_s - off_s)


def run(
    url: str,
    token: str,
    rigs: list[SimulatedRig],
    cadence: float = 5.0,
    duration: float = 0.0,
    timeout: float = 10.0,
    flaky: set[str] | frozenset[str] = frozenset(),
    flaky_off: float = 40.0,
    flaky_every: float = 180.0,
    stop: threading.Event | None = None,
    client: httpx.Client | None = None,
    hive: dict[str, str] | None = None,
    hive_gzip: bool = False,
    hive_cpu_threads: int = 0,
) -> None:
    """Pushes every rig's samples each cadence. Rigs named in `hive` (rig id -> Hive password)
    speak the Hive OS agent's protocol instead: one hello, then a stats body each tick, nothing
    buffered (the agent sends its current figures only)."""
    stop = stop or threading.Event()
    hive = hive or {}
    agents = {
        r.rig_id: HiveAgentRig(r, hive[r.rig_id], hive_cpu_threads)
        for r in rigs
        if r.rig_id in hive
    }
    uplinks = [RigUplink(rig) for rig in rigs if rig.rig_id not in agents]
    silence = flaky_cycle(flaky_every, flaky_off) if flaky else None
    offline: set[str] = set()
    own_client = client is None
    client = client or httpx.Client(timeout=timeout)
    start = next_tick = time.monotonic()
    for agent in agents.values():
        hello = agent.hello_body(url.rstrip("/"))
        answer = push_hive(client, url, agent.rig.rig_id, "hello", hello, hive_gzip)
        if answer and isinstance(answer.get("result"), dict):
            # The real hello writes these over /hive-config/; a simulated rig has no files.
            log.info("rig %s: hello answered with %s", agent.rig.rig_id, sorted(answer["result"]))
    try:
        with ThreadPoolExecutor(max_workers=min(16, max(1, len(rigs)))) as pool:
            while not stop.is_set():
                now = time.monotonic()
                elapsed = now - start
                if duration and elapsed >= duration:
                    break
                wall = datetime.now(UTC)
                if cadence >= 1:
                    wall = wall.replace(microsecond=0)
                due = []
                for up in uplinks:
                    rid = up.rig.rig_id
                    if rid in flaky and silence.active(elapsed):
                        if rid not in offline:
                            log.info("rig %s: going offline for %.0f s (flaky)", rid, flaky_off)
                            offline.add(rid)
                        continue
                    if rid in offline:  # the rig "rebooted", so its miner restarts from zero
                        log.info("rig %s: back online", rid)
                        offline.discard(rid)
                        up.rig.restart()
                    up.buffer.append(up.rig.sample(wall))
                    if up.due(now):
                        due.append(up)
                pushes = [pool.submit(up.flush, client, url, token, now) for up in due]
                for agent in agents.values():
                    body = agent.stats_body(agent.rig.sample(wall))
                    rid = agent.rig.rig_id
                    pushes.append(
                        pool.submit(push_hive, client, url, rid, "stats", body, hive_gzip)
                    )
                # Wait for all pushes before the next tick: buffers are never touched concurrently.
                for fut in pushes:
                    fut.result()
                next_tick += cadence
                stop.wait(max(0.0, next_tick - time.monotonic()))
    finally:
        if own_client:
            client.close()


def _rig_spec(text: str) -> tuple[str, int, str | None]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].isdigit() or int(parts[1]) < 1:
        raise argparse.ArgumentTypeError(f"expected ID:GPUS[:MODEL], got {text!r}")
    model = normalize_model(parts[2]) if len(parts) == 3 else None
    if model is not None and model not in GPU_MODELS:
        known = ", ".join(GPU_MODELS)
        raise argparse.ArgumentTypeError(f"unknown model {parts[2]!r}; known: {known}")
    return parts[0], int(parts[1]), model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--token", default=os.environ.get("ETHDASH_AGENT_TOKEN"))
    p.add_argument("--rig", action="append", type=_rig_spec, required=True, help="ID:GPUS[:MODEL]")
    p.add_argument("--cadence", type=float, default=5.0, help="seconds between samples/pushes")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--flaky", action="append", default=[], help="rig ID that drops offline")
    p.add_argument("--flaky-off", type=float, default=40.0)
    p.add_argument("--flaky-every", type=float, default=180.0)
    p.add_argument("--overheat", action="append", default=[], help="rig ID whose GPU 0 overheats")
    p.add_argument(
        "--overheat-cycle", type=FaultCycle.parse, default=FaultCycle(600.0, 240.0, 30.0),
        metavar="EVERY:FOR[:AT]", help="seconds; when the fan of GPU 0 fails",
    )  # fmt: skip
    p.add_argument("--duration", type=float, default=0.0, help="seconds, 0 = forever")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument(
        "--hive", action="append", default=[], metavar="ID:PASSWORD",
        help="this rig speaks the Hive OS agent's protocol with this Hive password",
    )  # fmt: skip
    p.add_argument("--hive-gzip", action="store_true", help="gzip stats bodies (AGENT_GZIP=1)")
    p.add_argument(
        "--hive-cpu-threads", type=int, default=0, metavar="N",
        help="Hive rigs also mine RandomX on N CPU threads as MINER2 (xmrig-new)",
    )  # fmt: skip
    args = p.parse_args(argv)
    hive = dict(spec.split(":", 1) for spec in args.hive if ":" in spec)
    if len(hive) != len(args.hive):
        p.error("--hive takes ID:PASSWORD")
    if not args.token and any(rid not in hive for rid, _, _ in args.rig):
        p.error("--token or ETHDASH_AGENT_TOKEN is required")
    if args.cadence <= 0:
        p.error("--cadence must be > 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO

    if args.flaky and not 0 < args.flaky_off < args.flaky_every:
        p.error("--flaky-off must be above 0 and below --flaky-every")
    overheat = set(args.overheat)
    rigs = [
        SimulatedRig(
            rid, n, model, args.seed, args.cadence,
            overheat=args.overheat_cycle if rid in overheat else None,
        )
        for rid, n, model in args.rig
    ]  # fmt: skip
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    desc = ", ".join(f"{r.rig_id}:{len(r.gpus)}x{r.model}" for r in rigs)
    log.info("pushing to %s every %gs for rigs %s", args.url, args.cadence, desc)
    run(
        args.url,
        args.token,
        rigs,
        cadence=args.cadence,
        duration=args.duration,
        timeout=args.timeout,
        flaky=set(args.flaky),
        flaky_off=args.flaky_off,
        flaky_every=args.flaky_every,
        stop=stop,
        hive=hive,
        hive_gzip=args.hive_gzip,
        hive_cpu_threads=args.hive_cpu_threads,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
