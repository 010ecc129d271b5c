"""T-Rex (NVIDIA): HTTP `GET /summary` on `--api-bind-http` (default 127.0.0.1:4067).

Hashrates are integer H/s, uptime is seconds. API 1.0 builds list GPUs with only device_id, gpu_id,
hashrate and intensity; newer ones add sensors, per-GPU shares and the PCI location (`pci_bus`).
"""

from rigs.formats.base import GpuReading, RigReading, bad_answer
from rigs.formats.transport import http_get_json
from rigs.formats.values import as_dict, integer, number, text

PROTOCOL = "trex"
DEFAULT_PORT = 4067


def parse_gpu(gpu, position):
    if not isinstance(gpu, dict):
        raise bad_answer(f"T-Rex GPU entry is {type(gpu).__name__}, not an object")
    index = integer(gpu.get("gpu_id"))
    if index is None:
        index = integer(gpu.get("device_id"))
    shares = as_dict(gpu.get("shares"))
    memory_c = number(gpu.get("memory_temperature"))
    return GpuReading(
        index=position if index is None else index,
        pci_bus=integer(gpu.get("pci_bus")),
        name=text(gpu.get("name")),
        vendor=text(gpu.get("vendor")),
        hashrate_hs=number(gpu.get("hashrate")),
        temperature_c=number(gpu.get("temperature")),
        # Cards without a memory sensor (GDDR6 without X) report 0, which is no reading at all.
        memory_temperature_c=memory_c if memory_c else None,
        fan_pct=number(gpu.get("fan_speed")),
        power_w=number(gpu.get("power")),
        shares_accepted=integer(shares.get("accepted_count")),
        shares_rejected=integer(shares.get("rejected_count")),
        shares_invalid=integer(shares.get("invalid_count")),
    )


def parse_summary(data) -> RigReading:
    """The `/summary` object → RigReading."""
    if not isinstance(data, dict):
        raise bad_answer(f"T-Rex summary is {type(data).__name__}, not an object")
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
