"""Stand-ins for the HTTP APIs of T-Rex, lolMiner, xmrig, Gminer and NBMiner, driven by a
SimulatedRig, answering in each miner's own shape, odd parts included.

    server = await start_server("lolminer", SimulatedRig("r1", 4), fault=None)
    port = server.sockets[0].getsockname()[1]
    ...
    await stop_server(server)

The odd parts reproduced: NBMiner's display strings next to its raw numbers and its two spellings
of the per-device rejected counter (alternating between answers); lolMiner's Performance_Unit in
changing letter case and prefix; xmrig's hashrate windows that stay null until the miner has run
for 10 s, 60 s and 15 min, and its 401/403 on a missing or wrong token; a PCI bus order that
differs from the miner's GPU order (GPUs 0 and 1 sit on buses 2 and 1); counters and uptime that
restart with `rig.restart()`. `cpu_hashrate_hs` makes xmrig mine on the CPU too, as a mixed rig
does: its cpu backend is enabled with its own hashrate and one thread per CPU thread, the
summary's total includes it, and the algorithm is one both backends mine (RandomX).
`fault` makes every request fail one way: "garbage", "html",
"empty", "truncated" (JSON cut in half), "http500", "hang" (never answers), "close" (drops the
connection without an answer).

Each server is one simulators.http_server, with no task or thread of its own, so a benchmark can
run a thousand of them in one process. Deliberately
independent of Django and of the ethdash code, so it tests the wire format and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

from simulators.http_server import (
    REASONS,
    HttpApp,
    HttpConnection,
    Request,
    Response,
    close_server,
    serve,
)

PROTOCOLS = ("trex", "lolminer", "xmrig", "gminer", "nbminer")
FAULTS = (None, "garbage", "html", "empty", "truncated", "http500", "hang", "close")

WALLET = "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c"

# model -> (display name, memory MiB, has a memory temperature sensor)
GPU_INFO = {
    "rtx3060ti": ("NVIDIA GeForce RTX 3060 Ti", 8192, False),
    "rtx3070": ("NVIDIA GeForce RTX 3070", 8192, False),
    "rtx3080": ("NVIDIA GeForce RTX 3080", 10240, True),
    "rtx3090": ("NVIDIA GeForce RTX 3090", 24576, True),
    "rx580": ("Radeon RX 580 Series", 8192, False),
    "rx5700xt": ("AMD Radeon RX 5700 XT", 8176, True),
    "rx6700xt": ("AMD Radeon RX 6700 XT", 12272, True),
    "rx6800": ("AMD Radeon RX 6800", 16368, True),
}
BOARD_VENDORS = ("EVGA", "MSI", "Gigabyte", "ASUS", "Zotac", "Palit")
LOLMINER_UNITS = (("Mh/s", 1e6), ("MH/s", 1e6), ("mh/s", 1e6), ("kh/s", 1e3))
XMRIG_WINDOWS_S = (10, 60, 900)

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Miner</title></head>\n"
    b"<body><h1>Login required</h1><form method=post><input name=pass type=password>"
    b"</form></body></html>\n"
)
GARBAGE = b'\x1f\x8b\x08\x00\xff\xfe{"hashrate\x00\x93\x12\xc8garbage'


def pci_bus(index: int) -> int:
    """PCI bus of GPU `index`: miners put the fastest card first, so GPUs 0 and 1 sit on buses 2
    and 1; the rest follow in order. Stable when GPUs are added or removed at the end."""
    return {0: 2, 1: 1}.get(index, index + 1)


def _si(value: float) -> str:
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if value >= factor:
            return f"{value / factor:.4g} {prefix}"
    return f"{value:.4g} "


class MinerState:
    """One simulated miner process: its rig, uptime clock and request counter."""

    def __init__(
        self, protocol, rig, password=None, fault=None, uptime_s=0.0, cpu_hashrate_hs=None
    ):
        self.protocol, self.rig, self.password, self.fault = protocol, rig, password, fault
        self.cpu_hashrate_hs = cpu_hashrate_hs  # xmrig: the CPU mines too, at this rate
        self.started = time.monotonic() - uptime_s  # tests may move it back to age the miner
        self.requests = 0
        self.sampled = False

    @property
    def uptime_s(self) -> int:
        return int(time.monotonic() - self.started)

    def samples(self) -> list[dict]:
        # SimulatedRig has no restart hook; its _last_ts is None exactly after restart(), and a
        # restarted miner starts its uptime again.
        if self.sampled and self.rig._last_ts is None:
            self.started = time.monotonic()
        self.sampled = True
        return self.rig.sample(datetime.now(UTC))

    def gpu_info(self) -> tuple[str, int, bool]:
        return GPU_INFO.get(self.rig.model, (self.rig.model, 8192, False))

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        self.requests += 1
        route = ROUTES[self.protocol].get(path)
        if self.protocol == "xmrig":
            status = self.xmrig_auth(headers.get("authorization"))
            if status != 200:
                return _json_answer(status, {"status": status, "error": REASONS[status]})
        if route is None:
            if self.protocol == "xmrig":
                return _json_answer(404, {"status": 404, "error": "Not Found"})
            return 404, "text/plain", b"Not Found"
        return _json_answer(200, route(self, self.samples()))

    def xmrig_auth(self, header: str | None) -> int:
        # As xmrig's Httpd::auth: no header is fine only without a token; a header sent to a
        # miner without a token is a 401; a wrong one is a 403.
        if header is None:
            return 401 if self.password else 200
        if not self.password:
            return 401
        return 200 if header == f"Bearer {self.password}" else 403


def _gpu_readings(miner: MinerState, samples: list[dict]):
    """Each sample with what every miner's per-GPU entry is built from: the GPU index, the card's
    name, whether it has a memory temperature sensor, and its core temperature in whole degrees."""
    name, _, has_memory_sensor = miner.gpu_info()
    for s in samples:
        yield s, s["gpu"], name, has_memory_sensor, round(s["temperature_c"])


def _json_answer(status: int, document) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(document).encode()


# ------------------------------------------------------------------------------------ T-Rex


def trex_summary(miner: MinerState, samples: list[dict]) -> dict:
    now, uptime = int(time.time()), miner.uptime_s
    gpus = []
    for s, i, name, has_memory_sensor, temp in _gpu_readings(miner, samples):
        hashrate = int(s["hashrate_hs"])
        power = int(s["power_w"])
        gpus.append(
            {
                "cclock": 1440,
                "dag_build_mode": 0,
                "device_id": i,
                "efficiency": f"{hashrate / max(power, 1) / 1e3:.0f}kH/W",
                "fan_speed": int(s["fan_pct"]),
                "gpu_id": i,
                "gpu_user_id": i,
                "hashrate": hashrate,
                "hashrate_day": hashrate,
                "hashrate_hour": hashrate,
                "hashrate_instant": hashrate,
                "hashrate_minute": hashrate,
                "intensity": 22,
                "lhr_tune": -1,
                "low_load": False,
                "mclock": 7000,
                "memory_temperature": temp + 14 if has_memory_sensor else 0,
                "mtweak": 0,
                "name": name.removeprefix("NVIDIA "),
                "pci_bus": pci_bus(i),
                "pci_domain": 0,
                "pci_id": 0,
                "potentially_unstable": False,
                "power": power,
                "power_avr": power,
                "shares": {
                    "accepted_count": s["shares_accepted"],
                    "invalid_count": 0,
                    "last_share_diff": 4.29,
                    "last_share_submit_ts": now - 17,
                    "max_share_diff": 312.4,
                    "max_share_submit_ts": now - uptime // 2,
                    "rejected_count": s["shares_rejected"],
                    "solved_count": 0,
                },
                "temperature": temp,
                "uuid": f"ab{i:02x}3c9e41f2d0a7e5b8c1d2e3f4a5b6{i:02x}",
                "vendor": BOARD_VENDORS[i % len(BOARD_VENDORS)],
            }
        )
    total = sum(g["hashrate"] for g in gpus)
    accepted = sum(s["shares_accepted"] for s in samples)
    return {
        "accepted_count": accepted,
        "active_pool": {
            "difficulty": "4.29 G",
            "last_submit_ts": now - 17,
            "ping": 38,
            "proxy": "",
            "retries": 0,
            "url": "stratum+tcp://etc.2miners.com:1010",
            "user": WALLET,
            "worker": miner.rig.rig_id,
        },
        "algorithm": "etchash",
        "api": "4.2",
        "build_date": "Jul 27 2022 15:04:54",
        "coin": "etc",
        "cuda": "11.1",
        "description": "T-Rex NVIDIA GPU miner",
        "driver": "525.125.06",
        "gpu_total": len(gpus),
        "gpus": gpus,
        "hashrate": total,
        "hashrate_day": total,
        "hashrate_hour": total,
        "hashrate_minute": total,
        "invalid_count": 0,
        "name": "t-rex",
        "os": "linux",
        "paused": False,
        "rejected_count": sum(s["shares_rejected"] for s in samples),
        "revision": "d7e8ef1ec1da",
        "sharerate": round(accepted / max(uptime, 1) * 60, 2),
        "sharerate_average": round(accepted / max(uptime, 1) * 60, 2),
        "solved_count": 0,
        "success": 1,
        "time": uptime,
        "ts": now,
        "uptime": uptime,
        "validate_shares": False,
        "version": "0.26.8",
    }


# ----------------------------------------------------------------------------------- lolMiner


def lolminer_summary(miner: MinerState, samples: list[dict]) -> dict:
    now, uptime = int(time.time()), miner.uptime_s
    unit, factor = LOLMINER_UNITS[(miner.requests - 1) % len(LOLMINER_UNITS)]
    workers = []
    for s, i, name, has_memory_sensor, temp in _gpu_readings(miner, samples):
        workers.append(
            {
                "Index": i,
                "Name": name,
                "Power": round(s["power_w"], 1),
                "CCLK": 1500,
                "MCLK": 1750,
                "Core_Temp": temp,
                "Juc_Temp": temp + 11,
                "Mem_Temp": temp + 14 if has_memory_sensor else 0,
                "Fan_Speed": int(s["fan_pct"]),
                "LHR_Unlock_Value": 0,
                "PCIE_Address": f"{pci_bus(i)}:0",
            }
        )
    return {
        "Software": "lolMiner 1.88",
        "Session": {
            "Startup": now - uptime,
            "Startup_String": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - uptime)),
            "Uptime": uptime,
            "Last_Update": now,
        },
        "Num_Workers": len(workers),
        "Workers": workers,
        "Num_Algorithms": 1,
        "Algorithms": [
            {
                "Algorithm": "Etchash",
                "Algorithm_Appendix": "",
                "Pool": "etc.2miners.com:1010",
                "User": WALLET,
                "Worker": miner.rig.rig_id,
                "Performance_Unit": unit,
                "Performance_Factor": int(factor),
                "Total_Performance": round(sum(s["hashrate_hs"] for s in samples) / factor, 2),
                "Total_Accepted": sum(s["shares_accepted"] for s in samples),
                "Total_Rejected": sum(s["shares_rejected"] for s in samples),
                "Total_Stales": sum(s["shares_stale"] for s in samples),
                "Total_Errors": 0,
                "Worker_Performance": [round(s["hashrate_hs"] / factor, 2) for s in samples],
                "Worker_Accepted": [s["shares_accepted"] for s in samples],
                "Worker_Rejected": [s["shares_rejected"] for s in samples],
                "Worker_Stales": [s["shares_stale"] for s in samples],
                "Worker_Errors": [0 for _ in samples],
            }
        ],
    }


# -------------------------------------------------------------------------------------- xmrig


def _windows(miner: MinerState, value: float) -> list[float | None]:
    # xmrig floors to two decimals and leaves a window null until it has run that long.
    value = int(value * 100) / 100
    return [value if miner.uptime_s >= w else None for w in XMRIG_WINDOWS_S]


XMRIG_CPU_THREADS = 2  # the simulated Celeron G3930's, as in the summary's "cpu"


def _xmrig_algo(miner: MinerState) -> str:
    # xmrig mines one job's algorithm on every backend; its CPU backend cannot mine KawPow, so a
    # rig mining on CPU and GPUs at once is on RandomX.
    return "rx/0" if miner.cpu_hashrate_hs else "kawpow"


def xmrig_summary(miner: MinerState, samples: list[dict]) -> dict:
    uptime = miner.uptime_s
    # Miner.cpp's getHashrate: the total is summed over every backend, the CPU's included.
    total = sum(s["hashrate_hs"] for s in samples) + (miner.cpu_hashrate_hs or 0.0)
    good = sum(s["shares_accepted"] for s in samples)
    bad = sum(s["shares_rejected"] for s in samples)
    connection = {
        "pool": "rvn.2miners.com:6060",
        "ip": "51.89.96.41",
        "uptime": uptime,
        "uptime_ms": uptime * 1000,
        "ping": 41,
        "failures": 0,
        "tls": None,
        "tls-fingerprint": None,
        "algo": _xmrig_algo(miner),
        "diff": 120000,
        "accepted": good,
        "rejected": bad,
        "avg_time": 31,
        "avg_time_ms": 31245,
        "hashes_total": int(total * uptime),
    }
    return {
        "id": "6a3f9c27e0b14d58",
        "worker_id": miner.rig.rig_id,
        "uptime": uptime,
        "restricted": True,
        "resources": {
            "memory": {"free": 5961564160, "total": 8236326912, "resident_set_memory": 41250816},
            "load_average": [0.41, 0.38, 0.35],
            "hardware_concurrency": 4,
        },
        "features": ["api", "asm", "http", "hwloc", "tls", "opencl", "cuda"],
        "results": {
            "diff_current": 120000,
            "shares_good": good,
            "shares_total": good + bad,
            "avg_time": 31,
            "avg_time_ms": 31245,
            "hashes_total": int(total * uptime),
            "best": [
                2870143,
                1290412,
                733019,
                402511,
                388120,
                310204,
                250017,
                211983,
                190442,
                170331,
            ],
        },
        "algo": _xmrig_algo(miner),
        "connection": connection,
        "version": "6.21.0",
        "kind": "miner",
        "ua": "XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/11.4.0",
        "cpu": {
            "brand": "Intel(R) Celeron(R) CPU G3930 @ 2.90GHz",
            "family": 6,
            "model": 158,
            "stepping": 9,
            "proc_info": 591593,
            "aes": False,
            "avx2": False,
            "x64": True,
            "64_bit": True,
            "l2": 524288,
            "l3": 2097152,
            "cores": 2,
            "threads": 2,
            "packages": 1,
            "nodes": 1,
            "backend": "hwloc/2.9.0",
            "msr": "intel",
            "assembly": "intel",
            "arch": "x86_64",
            "flags": ["sse2", "ssse3", "sse4.1", "popcnt", "cat_l3"],
        },
        "donate_level": 1,
        "paused": False,
        "algorithms": ["rx/0", "rx/wow", "cn/r", "kawpow"],
        "hashrate": {"total": _windows(miner, total), "highest": int(total * 101) / 100},
        "hugepages": [0, 0],
    }


def xmrig_backends(miner: MinerState, samples: list[dict]) -> list[dict]:
    nvidia = miner.rig.model.startswith("rtx")
    cpu = {
        "type": "cpu",
        "enabled": False,
        "algo": None,
        "profile": None,
        "hw-aes": False,
        "priority": -1,
        "msr": False,
        "asm": "intel",
        "argon2-impl": "SSE2",
        "hugepages": [0, 0],
        "memory": 0,
    }
    threads = []
    for s in samples:
        i = s["gpu"]
        name, memory_mib, _ = miner.gpu_info()
        device = {
            "name": name,
            "bus_id": f"{pci_bus(i):02x}:00.0",
            "global_mem": memory_mib * 2**20,
        }
        temp, power = round(s["temperature_c"]), int(s["power_w"])
        if nvidia:
            health = {"temperature": temp, "power": power, "clock": 1725, "mem_clock": 7000}
            health["fan_speed"] = [int(s["fan_pct"]), int(s["fan_pct"])]
            threads.append(
                {
                    "index": i,
                    "threads": 256,
                    "blocks": 4096,
                    "bfactor": 0,
                    "bsleep": 0,
                    "affinity": -1,
                    "hashrate": _windows(miner, s["hashrate_hs"]),
                    **device,
                    "smx": 46,
                    "arch": 86,
                    "clock": 1725,
                    "memory_clock": 7001,
                    "health": health,
                }
            )
        else:
            # AMD cards get two work queues each, as xmrig's OpenCL autoconfig often makes.
            health = {"temperature": temp, "power": power, "clock": 1500, "mem_clock": 1750}
            health["rpm"] = 1100 + int(s["fan_pct"]) * 20
            for half in (0.5, 0.5):
                threads.append(
                    {
                        "index": i,
                        "intensity": 1048576,
                        "worksize": 256,
                        "threads": [-1, -1],
                        "affinity": -1,
                        "hashrate": _windows(miner, s["hashrate_hs"] * half),
                        "board": name,
                        **device,
                        "name": "gfx1030",
                        "cu": 60,
                        "health": health,
                    }
                )
    total = sum(s["hashrate_hs"] for s in samples)
    gpu = {
        "type": "cuda" if nvidia else "opencl",
        "enabled": True,
        "algo": "kawpow",
        "profile": "kawpow",
        "hashrate": _windows(miner, total),
        "threads": threads,
    }
    algo = _xmrig_algo(miner)
    gpu["algo"] = algo
    gpu["profile"] = algo
    if miner.cpu_hashrate_hs:
        # CpuBackend::toJSON while mining: the backend's hashrate and one entry per thread.
        per_thread = miner.cpu_hashrate_hs / XMRIG_CPU_THREADS
        cpu.update(
            {
                "enabled": True,
                "algo": algo,
                "profile": "rx",
                "hw-aes": True,
                "msr": True,
                "hugepages": [XMRIG_CPU_THREADS, XMRIG_CPU_THREADS],
                "memory": 2097152 * XMRIG_CPU_THREADS,
                "hashrate": _windows(miner, miner.cpu_hashrate_hs),
                "threads": [
                    {
                        "intensity": 1,
                        "affinity": i,
                        "av": 1,
                        "hashrate": _windows(miner, per_thread),
                    }
                    for i in range(XMRIG_CPU_THREADS)
                ],
            }
        )
    if nvidia:
        gpu["versions"] = {
            "cuda-runtime": "11.4",
            "cuda-driver": "12.0",
            "plugin": "6.17.0",
            "nvml": "12.525.125.06",
            "driver": "525.125.06",
        }
    else:
        gpu["platform"] = {
            "index": 0,
            "profile": "FULL_PROFILE",
            "version": "OpenCL 2.1 AMD-APP (3590.0)",
            "name": "AMD Accelerated Parallel Processing",
            "vendor": "Advanced Micro Devices, Inc.",
            "extensions": "cl_khr_icd cl_amd_event_callback",
        }
    return [cpu, gpu]


# ------------------------------------------------------------------------------------- Gminer


def gminer_stat(miner: MinerState, samples: list[dict]) -> dict:
    uptime = miner.uptime_s
    devices = []
    for s, i, name, has_memory_sensor, temp in _gpu_readings(miner, samples):
        devices.append(
            {
                "gpu_id": i,
                "bus_id": f"0000:{pci_bus(i):02x}:00.0",
                "name": name.removeprefix("NVIDIA GeForce RTX ").removeprefix("AMD "),
                "speed": int(s["hashrate_hs"]),
                "accepted_shares": s["shares_accepted"],
                "rejected_shares": s["shares_rejected"],
                "stale_shares": s["shares_stale"],
                "invalid_shares": 0,
                "fan": int(s["fan_pct"]),
                "temperature": temp,
                "temperature_limit": 90,
                "memory_temperature": temp + 14 if has_memory_sensor else 0,
                "memory_temperature_limit": 120,
                "core_clock": 1440,
                "memory_clock": 7000,
                "power_usage": int(s["power_w"]),
            }
        )
    accepted = sum(d["accepted_shares"] for d in devices)
    return {
        "miner": "GMiner 3.44",
        "uptime": uptime,
        "server": "stratum+tcp://etc.2miners.com:1010",
        "user": f"{WALLET}.{miner.rig.rig_id}",
        "extended_share_info": True,
        "shares_per_minute": round(accepted / max(uptime, 1) * 60, 2),
        "pool_speed": int(sum(d["speed"] for d in devices) * 0.98),
        "algorithm": "Etchash",
        "electricity": round(sum(d["power_usage"] for d in devices) * uptime / 3.6e6, 3),
        "total_accepted_shares": accepted,
        "total_rejected_shares": sum(d["rejected_shares"] for d in devices),
        "total_stale_shares": sum(d["stale_shares"] for d in devices),
        "total_invalid_shares": 0,
        "devices": devices,
        "speed_rate_precision": 0,
        "speed_unit": "H/s",
        "power_unit": "H/W",
    }


# ------------------------------------------------------------------------------------ NBMiner


def nbminer_status(miner: MinerState, samples: list[dict]) -> dict:
    # Builds disagree on the per-device rejected key; alternate so clients meet both.
    rejected_key = "reject_shares" if miner.requests % 2 == 0 else "rejected_shares"
    devices = []
    for s, i, name, has_memory_sensor, temp in _gpu_readings(miner, samples):
        devices.append(
            {
                "accepted_shares": s["shares_accepted"],
                "core_clock": 1440,
                "core_utilization": 100,
                "fan": int(s["fan_pct"]),
                "hashrate": _si(s["hashrate_hs"]),
                "hashrate_raw": s["hashrate_hs"],
                "id": i,
                "info": name,
                "invalid_shares": 0,
                "lhr": 0,
                "memTemperature": temp + 14 if has_memory_sensor else 0,
                "mem_clock": 7000,
                "mem_utilization": 92,
                "pci_bus_id": pci_bus(i),
                "power": int(s["power_w"]),
                rejected_key: s["shares_rejected"],
                "temperature": temp,
            }
        )
    total = sum(s["hashrate_hs"] for s in samples)
    return {
        "miner": {
            "devices": devices,
            "total_hashrate": _si(total),
            "total_hashrate_raw": total,
            "total_power_consume": sum(d["power"] for d in devices),
        },
        "reboot_times": 0,
        "start_time": int(time.time()) - miner.uptime_s,
        "stratum": {
            "accepted_shares": sum(s["shares_accepted"] for s in samples),
            "algorithm": "etchash",
            "difficulty": "4.29 G",
            "dual_mine": False,
            "invalid_shares": 0,
            "latency": 41,
            "pool_hashrate_10m": _si(total * 0.97),
            "pool_hashrate_24h": _si(total * 0.99),
            "pool_hashrate_4h": _si(total * 1.01),
            "rejected_shares": sum(s["shares_rejected"] for s in samples),
            "url": "etc.2miners.com:1010",
            "use_ssl": False,
            "user": f"{WALLET}.{miner.rig.rig_id}",
        },
        "version": "42.3",
    }


ROUTES = {
    "trex": {"/summary": trex_summary},
    "lolminer": {"/": lolminer_summary, "/summary": lolminer_summary},
    "xmrig": {
        "/2/summary": xmrig_summary,
        "/2/backends": xmrig_backends,
    },
    "gminer": {"/stat": gminer_stat},
    "nbminer": {"/api/v1/status": nbminer_status},
}


# --------------------------------------------------------------------------------- HTTP server


class _MinerApp(HttpApp):
    """GET only: enough for miner APIs, nothing more; `fault` applies to every request."""

    def __init__(self, miner: MinerState):
        self.miner = miner

    def handle(self, request: Request, connection: HttpConnection) -> Response | None:
        fault = self.miner.fault
        if fault == "hang":
            connection.ignore_input()  # read and ignore everything until the client gives up
            return None
        if fault == "close":
            connection.close()
            return None
        if request.method != "GET":
            return Response(405, "text/plain", b"Method Not Allowed")
        status, content_type, body = self.miner.answer(request.path, request.headers)
        if fault == "garbage":
            status, content_type, body = 200, "application/json", GARBAGE
        elif fault == "html":
            status, content_type, body = 200, "text/html", HTML_PAGE
        elif fault == "empty":
            status, body = 200, b""
        elif fault == "truncated":
            body = body[: len(body) // 2]
        elif fault == "http500":
            status, content_type, body = 500, "text/plain", b"Internal Server Error"
        return Response(status, content_type, body)


async def start_server(
    protocol: str,
    rig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    password: str | None = None,
    fault: str | None = None,
    uptime_s: float = 0.0,
    cpu_hashrate_hs: float | None = None,
) -> asyncio.Server:
    """Serves `rig` as the miner `protocol` would; `uptime_s` is how long the miner has been
    running already; `cpu_hashrate_hs` (xmrig only) has it mine on the CPU too.
    `server.miner` is its MinerState."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}")
    if cpu_hashrate_hs and protocol != "xmrig":
        raise ValueError("only xmrig mines on the CPU")
    miner = MinerState(protocol, rig, password, fault, uptime_s, cpu_hashrate_hs)
    server = await serve(_MinerApp(miner), host, port)
    server.miner = miner
    return server


async def stop_server(server: asyncio.Server) -> None:
    """Stops listening and drops open connections, including ones left hanging on purpose."""
    await close_server(server)
