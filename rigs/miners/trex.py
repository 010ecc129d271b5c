"""T-Rex (NVIDIA): HTTP `GET /summary` on `--api-bind-http` (default 127.0.0.1:4067).

Hashrates are integer H/s, uptime is seconds. API 1.0 builds list GPUs with only device_id, gpu_id,
hashrate and intensity; newer ones add sensors, per-GPU shares and the PCI location (`pci_bus`).
"""

import math

from rigs.miners.base import GpuReading, RigReading, bad_answer
from rigs.miners.transport import http_get_json

PROTOCOL = "trex"
DEFAULT_PORT = 4067


def _num(value):
    """A JSON number, or one sent as a string; None for null, absent, booleans and text."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _int(value):
    number = _num(value)
    return None if number is None else int(number)


def _dict(value):
    return value if isinstance(value, dict) else {}


def _text(value):
    return "" if value is None else str(value)


def parse_gpu(gpu, position):
    if not isinstance(gpu, dict):
        raise bad_answer(f"T-Rex GPU entry is {type(gpu).__name__}, not an object")
    index = _int(gpu.get("gpu_id"))
    if index is None:
        index = _int(gpu.get("device_id"))
    shares = _dict(gpu.get("shares"))
    memory_c = _num(gpu.get("memory_temperature"))
    return GpuReading(
        index=position if index is None else index,
        pci_bus=_int(gpu.get("pci_bus")),
        name=_text(gpu.get("name")),
        vendor=_text(gpu.get("vendor")),
        hashrate_hs=_num(gpu.get("hashrate")),
        temperature_c=_num(gpu.get("temperature")),
        # Cards without a memory sensor (GDDR6 without X) report 0, which is no reading at all.
        memory_temperature_c=memory_c if memory_c else None,
        fan_pct=_num(gpu.get("fan_speed")),
        power_w=_num(gpu.get("power")),
        shares_accepted=_int(shares.get("accepted_count")),
        shares_rejected=_int(shares.get("rejected_count")),
        shares_invalid=_int(shares.get("invalid_count")),
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
        version=_text(data.get("version")),
        algorithm=_text(data.get("algorithm")),
        pool_url=_text(_dict(data.get("active_pool")).get("url")),
        uptime_s=_int(data.get("uptime")),
        hashrate_hs=_num(data.get("hashrate")),
        shares_accepted=_int(data.get("accepted_count")),
        shares_rejected=_int(data.get("rejected_count")),
        shares_invalid=_int(data.get("invalid_count")),
        gpus=[parse_gpu(gpu, position) for position, gpu in enumerate(gpus)],
    )


async def fetch(endpoint, http) -> RigReading:
    return parse_summary(await http_get_json(http, endpoint, "/summary"))
