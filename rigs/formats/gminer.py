"""Gminer: HTTP `GET /stat` on `--api <port>` (no default; 42010 is Hive OS's).

`speed` is in the algorithm's base unit per second (H/s, Sol/s for Equihash) and Gminer gives no
total of its own, so the rig's hashrate is the sum over devices. The `total_*_shares` counters
exist only in newer builds; older ones are summed from the devices.
"""

from rigs.formats.base import GpuReading, RigReading, bad_answer, require_object
from rigs.formats.transport import http_get_json
from rigs.formats.values import integer, number, own_index, sensor, text

PROTOCOL = "gminer"
DEFAULT_PORT = 42010


def pci_bus(bus_id):
    """ "0000:01:00.0" → 1 (the bus field is hexadecimal)."""
    parts = text(bus_id).split(":")
    try:
        return int(parts[-2], 16) if len(parts) >= 2 else None
    except ValueError:
        return None


def _total(data, key, gpus, attribute):
    total = integer(data.get(key))
    if total is not None:
        return total
    values = [getattr(gpu, attribute) for gpu in gpus]
    return sum(values) if values and None not in values else None


def parse_gpu(device, position):
    require_object(device, "Gminer device entry")
    return GpuReading(
        index=own_index(position, device.get("gpu_id")),
        pci_bus=pci_bus(device.get("bus_id")),
        name=text(device.get("name")),
        hashrate_hs=number(device.get("speed")),
        temperature_c=number(device.get("temperature")),
        memory_temperature_c=sensor(device.get("memory_temperature")),
        fan_pct=number(device.get("fan")),
        power_w=number(device.get("power_usage")),
        shares_accepted=integer(device.get("accepted_shares")),
        shares_rejected=integer(device.get("rejected_shares")),
        shares_stale=integer(device.get("stale_shares")),
        shares_invalid=integer(device.get("invalid_shares")),
    )


def parse_stat(data) -> RigReading:
    """The `/stat` object → RigReading."""
    require_object(data, "Gminer stat")
    devices = data.get("devices")
    if not isinstance(devices, list):
        raise bad_answer("Gminer stat has no 'devices' list")
    gpus = [parse_gpu(device, position) for position, device in enumerate(devices)]
    # "GMiner 3.44" → ("GMiner", "3.44"); builds before 2.x send no "miner" at all.
    name, _, version = text(data.get("miner")).strip().partition(" ")
    speeds = [gpu.hashrate_hs for gpu in gpus if gpu.hashrate_hs is not None]
    return RigReading(
        miner=name or "GMiner",
        version=version,
        algorithm=text(data.get("algorithm")),
        pool_url=text(data.get("server")),
        uptime_s=integer(data.get("uptime")),
        hashrate_hs=sum(speeds) if speeds else None,
        shares_accepted=_total(data, "total_accepted_shares", gpus, "shares_accepted"),
        shares_rejected=_total(data, "total_rejected_shares", gpus, "shares_rejected"),
        shares_stale=_total(data, "total_stale_shares", gpus, "shares_stale"),
        shares_invalid=_total(data, "total_invalid_shares", gpus, "shares_invalid"),
        gpus=gpus,
    )


async def fetch(endpoint, http) -> RigReading:
    return parse_stat(await http_get_json(http, endpoint, "/stat"))
