"""xmrig: HTTP API, `GET /2/summary` and `GET /2/backends` (xmrig ≥ 5).

The API is off unless `http.enabled`; it has no default port (60050 is Hive OS's). With an
`access-token` set, requests need `Authorization: Bearer <token>` (401 without one, 403 with a
wrong one). Sending the header to a miner that has no token also earns a 401, so it is sent only
when a password is configured.

Hashrates come as three windows [10 s, 60 s, 15 min], each null until the miner has run that
long. GPU backends (cuda, opencl) list one thread per work queue, several of which may share a
device; they are summed per device. The cpu backend is one device of kind "cpu", named after
the CPU (`cpu.brand` in the summary), with the backend's own hashrate (CpuBackend::toJSON gives
`hashrate` and `threads` only while it mines), listed after the GPUs; a miner whose backends
list no device at all shows as that one CPU device with the summary's total.

The summary's `hashrate.total` is the miner's total over every backend (Miner.cpp getHashrate
sums them), kept as the rig's reported total; `results.shares_good` and `shares_total` give
accepted and rejected (total − good). xmrig counts no stale or invalid shares. `paused` (the
whole miner paused by the user or on battery power) marks every device off.
Deliberately ignored: `hashrate.highest` (a peak, not a reading), `connection.accepted` and
`rejected` (the current pool connection only, already in `results`), the CPU backend's tuning
fields (`profile`, `hw-aes`, `priority`, `asm`, `argon2-impl`, `hugepages`, `memory`, per-thread
`intensity`, `affinity`, `av`: settings, not figures), and `resources` (the host's memory and
load average, not mining).
"""

import re

from rigs.formats.base import GpuReading, RigReading, bad_answer, require_object
from rigs.formats.transport import http_get_json
from rigs.formats.values import as_dict, as_list, integer, number, own_index, text

PROTOCOL = "xmrig"
DEFAULT_PORT = 60050

_GPU_BACKENDS = ("cuda", "opencl")
_BUS_ID = re.compile(r"^(?:[0-9a-fA-F]{4}:)?([0-9a-fA-F]{2}):[0-9a-fA-F]{2}\.[0-7]$")


def hashrate(windows):
    """The shortest window that has a value: [10 s, 60 s, 15 min], any of them null."""
    for value in as_list(windows):
        value = number(value)
        if value is not None:
            return value
    return None


def pci_bus(bus_id):
    # xmrig prints "01:00.0" (hex), or "n/a" when the driver gives no topology.
    match = _BUS_ID.match(text(bus_id))
    return int(match[1], 16) if match else None


def _vendor(backend):
    if backend.get("type") == "cuda":
        return "NVIDIA"
    platform = text(as_dict(backend.get("platform")).get("vendor"))
    return "AMD" if "Advanced Micro Devices" in platform or "AMD" in platform else platform


def _gpu_devices(backends):
    """One GpuReading per device of each enabled GPU backend, in the miner's order."""
    gpus, offset = [], 0
    for backend in backends:
        if backend.get("type") not in _GPU_BACKENDS or backend.get("enabled") is not True:
            continue
        devices = {}
        for position, thread in enumerate(as_list(backend.get("threads"))):
            require_object(thread, "xmrig thread entry")
            key = offset + own_index(position, thread.get("index"))
            health = as_dict(thread.get("health"))
            fans = as_list(health.get("fan_speed"))  # percent, CUDA only; OpenCL gives "rpm"
            memory = number(thread.get("global_mem"))
            rate = hashrate(thread.get("hashrate"))
            gpu = devices.get(key)
            if gpu is None:
                devices[key] = GpuReading(
                    index=key,
                    pci_bus=pci_bus(thread.get("bus_id")),
                    # OpenCL "name" is the chip ("gfx1030"); "board" is the card.
                    name=text(thread.get("board") or thread.get("name")),
                    vendor=_vendor(backend),
                    memory_mb=None if memory is None else int(memory) // 2**20,
                    hashrate_hs=rate,
                    temperature_c=number(health.get("temperature")),
                    fan_pct=number(fans[0]) if fans else None,
                    power_w=number(health.get("power")),
                )
            elif rate is not None:
                gpu.hashrate_hs = (gpu.hashrate_hs or 0.0) + rate
        gpus.extend(devices.values())
        if devices:
            offset = max(devices) + 1
    return gpus


def _cpu_device(backends, summary, index):
    """The cpu backend as one device, or None when it is not mining."""
    for backend in backends:
        if backend.get("type") != "cpu" or backend.get("enabled") is not True:
            continue
        if "hashrate" not in backend:
            return None  # enabled but without threads: xmrig found no configuration to mine with
        return GpuReading(
            index=index,
            kind="cpu",
            name=text(as_dict(summary.get("cpu")).get("brand")),
            hashrate_hs=hashrate(backend.get("hashrate")),
        )
    return None


def parse_summary(summary, backends=None) -> RigReading:
    """`/2/summary` (and, when given, `/2/backends`) → RigReading."""
    require_object(summary, "xmrig summary")
    if not isinstance(summary.get("hashrate"), dict):
        raise bad_answer("xmrig summary has no 'hashrate' object")
    if backends is not None and not isinstance(backends, list):
        raise bad_answer(f"xmrig backends is {type(backends).__name__}, not a list")
    for backend in backends or []:
        require_object(backend, "xmrig backend entry")
    results = as_dict(summary.get("results"))
    connection = as_dict(summary.get("connection"))
    total = hashrate(summary["hashrate"].get("total"))
    good, shares = integer(results.get("shares_good")), integer(results.get("shares_total"))
    gpus = _gpu_devices(backends or [])
    cpu = _cpu_device(backends or [], summary, max((g.index for g in gpus), default=-1) + 1)
    if cpu is not None:
        gpus.append(cpu)
    if not gpus:
        # No backends answer (an old build) or none lists a device yet: the CPU with the total.
        cpu_name = text(as_dict(summary.get("cpu")).get("brand"))
        gpus = [GpuReading(index=0, kind="cpu", name=cpu_name, hashrate_hs=total)]
    if summary.get("paused") is True:
        for device in gpus:
            device.hashrate_hs, device.off, device.off_reason = 0.0, True, "xmrig is paused"
    return RigReading(
        miner="XMRig",
        version=text(summary.get("version")),
        algorithm=text(summary.get("algo") or connection.get("algo")),
        pool_url=text(connection.get("pool")),
        uptime_s=integer(summary.get("uptime")),
        hashrate_hs=total,
        shares_accepted=good,
        shares_rejected=None if good is None or shares is None else max(0, shares - good),
        gpus=gpus,
    )


async def fetch(endpoint, http) -> RigReading:
    headers = {"Authorization": f"Bearer {endpoint.password}"} if endpoint.password else None
    summary = await http_get_json(http, endpoint, "/2/summary", headers=headers)
    backends = await http_get_json(http, endpoint, "/2/backends", headers=headers)
    return parse_summary(summary, backends)
