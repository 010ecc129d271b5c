"""Gminer: HTTP `GET /stat` on `--api <port>` (no default; 42010 is Hive OS's).

`speed` is in the algorithm's base unit per second (H/s, Sol/s for Equihash) and Gminer gives no
total hashrate of its own, so the reading has none and the rig's hashrate is the sum over its
devices. The `total_*_shares` counters exist only in newer builds; where they are missing the
store sums the devices' counters. Deliberately ignored: `pool_speed` (the hashrate the pool
credits, estimated from shares; the pools app reads that from the pool itself),
`shares_per_minute`, `electricity`, and per-device clocks and limits (settings, not readings).
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
    return RigReading(
        miner=name or "GMiner",
        version=version,
        algorithm=text(data.get("algorithm")),
        pool_url=text(data.get("server")),
        uptime_s=integer(data.get("uptime")),
        shares_accepted=integer(data.get("total_accepted_shares")),
        shares_rejected=integer(data.get("total_rejected_shares")),
        shares_stale=integer(data.get("total_stale_shares")),
        shares_invalid=integer(data.get("total_invalid_shares")),
        gpus=gpus,
    )


async def fetch(endpoint, http) -> RigReading:
    return parse_stat(await http_get_json(http, endpoint, "/stat"))
