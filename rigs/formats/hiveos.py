"""The Hive OS agent's stats body, accepted unchanged on the telemetry endpoint (a push format,
not a polled protocol, so it is not in the registry).

    {"method": "stats", "params": {"v": 1, "rig_id": ..., "temp": [...], "fan": [...],
     "power": [...], "miner": "phoenixminer", "total_khs": 182724.3,
     "miner_stats": {"hs": [...], "hs_units": "khs", "temp": [...], "fan": [...],
                     "power": [...], "uptime": 3600, "ar": [acc, rej, inv, "0;1;0"],
                     "bus_numbers": [1, 3, 4], "algo": "ethash", "ver": "6.2c"},
     "miner2": ..., "total_khs2": ..., "miner_stats2": {...}}}

Per-GPU arrays are matched to GPUs by bus_numbers, because miners order GPUs differently.
`hs` is in `hs_units` (kH/s when absent); `total_khs` is always kH/s.
"""

from rigs.formats.base import GpuReading, RigReading, bad_answer
from rigs.formats.values import at, integer, number

HS_UNITS = {"hs": 1.0, "khs": 1e3, "mhs": 1e6, "ghs": 1e9, "ths": 1e12}


def is_hiveos_body(body):
    return isinstance(body, dict) and (
        body.get("method") == "stats"
        or "miner_stats" in body
        or "miner_stats" in body.get("params", {})
    )


def parse_stats(body):
    params = body.get("params", body)
    if not isinstance(params, dict):
        raise bad_answer("'params' is not an object")
    stats = params.get("miner_stats")
    if not isinstance(stats, dict):
        raise bad_answer("no 'miner_stats' object")
    reading = _parse_miner(params.get("miner", ""), stats, params)
    # A second miner on other devices (a CPU miner beside the GPU one) adds those devices; on
    # the same buses it is dual mining, another coin in another unit, which is not summed in.
    second = params.get("miner_stats2")
    if isinstance(second, dict):
        extra = _parse_miner(params.get("miner2", ""), second, {})
        buses = {g.pci_bus for g in reading.gpus if g.pci_bus is not None}
        next_index = len(reading.gpus)
        for gpu in extra.gpus:
            if gpu.pci_bus is None or gpu.pci_bus not in buses:
                gpu.index = next_index
                next_index += 1
                reading.gpus.append(gpu)
    return reading


def _parse_miner(name, stats, params):
    unit = str(stats.get("hs_units") or "khs").lower()
    if unit not in HS_UNITS:
        raise bad_answer(f"unknown hs_units {stats.get('hs_units')!r}")
    scale = HS_UNITS[unit]
    hashrates = _list(stats, "hs")
    buses = _list(stats, "bus_numbers")
    temps = _list(stats, "temp") or _list(params, "temp")
    fans = _list(stats, "fan") or _list(params, "fan")
    powers = _list(stats, "power") or _list(params, "power")
    accepted_rejected = _list(stats, "ar")
    invalid_per_gpu = []
    if len(accepted_rejected) > 3 and isinstance(accepted_rejected[3], str):
        invalid_per_gpu = accepted_rejected[3].split(";")
    gpus = []
    for index, hashrate in enumerate(hashrates):
        gpus.append(
            GpuReading(
                index=index,
                pci_bus=integer(at(buses, index)),
                hashrate_hs=_scaled(hashrate, scale),
                temperature_c=number(at(temps, index)),
                fan_pct=number(at(fans, index)),
                power_w=number(at(powers, index)),
                shares_invalid=integer(at(invalid_per_gpu, index)),
            )
        )
    total_khs = params.get("total_khs") if params else None
    uptime = integer(stats.get("uptime"))
    return RigReading(
        miner=str(name or ""),
        version=str(stats.get("ver") or ""),
        algorithm=str(stats.get("algo") or ""),
        uptime_s=uptime,
        hashrate_hs=_scaled(total_khs, 1e3),
        shares_accepted=integer(at(accepted_rejected, 0)),
        shares_rejected=integer(at(accepted_rejected, 1)),
        shares_invalid=integer(at(accepted_rejected, 2)),
        gpus=gpus,
    )


def _list(source, key):
    value = source.get(key) if isinstance(source, dict) else None
    return value if isinstance(value, list) else []


def _scaled(value, scale):
    value = number(value)
    return None if value is None or value < 0 else value * scale
