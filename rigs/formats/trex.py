"""T-Rex (NVIDIA): HTTP `GET /summary` on `--api-bind-http` (default 127.0.0.1:4067).

Hashrates are integer H/s, uptime is seconds. API 1.0 builds list GPUs with only device_id, gpu_id,
hashrate and intensity; newer ones add sensors, per-GPU shares and the PCI location (`pci_bus`).

Rig-level totals kept: `hashrate` (the current total; Hive OS's t-rex h-stats.sh sends it as
total_khs), `accepted_count`, `rejected_count` and `invalid_count`; T-Rex counts no stale
shares. Deliberately ignored: the longer windows `hashrate_minute`/`_hour`/`_day` (averages of
the same figure), `solved_count` (blocks found solo), `sharerate`, `difficulty`, and the
top-level `paused`, whose meaning per GPU we could not confirm in T-Rex's documentation.
"""

from rigs.formats.base import GpuReading, RigReading, bad_answer, require_object
from rigs.formats.transport import http_get_json
from rigs.formats.values import as_dict, integer, number, own_index, sensor, text

PROTOCOL = "trex"
DEFAULT_PORT = 4067


def parse_gpu(gpu, position):
    require_object(gpu, "T-Rex GPU entry")
    shares = as_dict(gpu.get("shares"))
    return GpuReading(
        index=own_index(position, gpu.get("gpu_id"), gpu.get("device_id")),
        pci_bus=integer(gpu.get("pci_bus")),
        name=text(gpu.get("name")),
        vendor=text(gpu.get("vendor")),
        hashrate_hs=number(gpu.get("hashrate")),
        temperature_c=number(gpu.get("temperature")),
        # Cards without a memory sensor (GDDR6 without X) report 0.
        memory_temperature_c=sensor(gpu.get("memory_temperature")),
        fan_pct=number(gpu.get("fan_speed")),
        power_w=number(gpu.get("power")),
        shares_accepted=integer(shares.get("accepted_count")),
        shares_rejected=integer(shares.get("rejected_count")),
        shares_invalid=integer(shares.get("invalid_count")),
    )


def parse_summary(data) -> RigReading:
    """The `/summary` object → RigReading."""
    require_object(data, "T-Rex summary")
    gpus = data.get("gpus")
    if not isinstance(gpus, list):
        raise bad_answer("T-Rex summary has no 'gpus' list")
    return RigReading(
        miner="T-Rex",
        version=text(data.get("version")),
        algorithm=text(data.get("algorithm")),
        pool_url=text(as_dict(data.get("active_pool")).get("url")),
        uptime_s=integer(data.get("uptime")),
        hashrate_hs=number(data.get("hashrate")),
        shares_accepted=integer(data.get("accepted_count")),
        shares_rejected=integer(data.get("rejected_count")),
        shares_invalid=integer(data.get("invalid_count")),
        gpus=[parse_gpu(gpu, position) for position, gpu in enumerate(gpus)],
    )


async def fetch(endpoint, http) -> RigReading:
    return parse_summary(await http_get_json(http, endpoint, "/summary"))
