"""NBMiner: HTTP `GET /api/v1/status` on `--api host:port` (no default; 22333 is Hive OS's).

Hashrates to trust are the `*_raw` fields (H/s); `hashrate` and `total_hashrate` are display
strings such as "30.2 M" in current builds. There is no uptime, only `start_time` (unix seconds).
The per-device rejected counter is spelt `rejected_shares` or `reject_shares` depending on the
build. Early builds append the memory size to `info` ("GeForce GTX 1080 Ti 11178 MB").

Rig-level totals kept: `miner.total_hashrate_raw` (Hive OS's nbminer h-stats.sh reads it as
total_khs) and `stratum.accepted_shares`, `rejected_shares`, `invalid_shares`; NBMiner counts no
stale shares. Deliberately ignored: the dual coin (`total_hashrate2_raw`, `hashrate2_raw`;
another coin in another unit), `total_power_consume` (the sum of the devices' `power`, which we
sum ourselves), `reboot_times`, the stratum's `difficulty` and `latency`, and per-device clocks
and utilisation.
"""

import re
import time

from rigs.formats.base import GpuReading, RigReading, bad_answer, require_object
from rigs.formats.transport import http_get_json
from rigs.formats.values import as_dict, first, integer, number, own_index, sensor, text

PROTOCOL = "nbminer"
DEFAULT_PORT = 22333

_INFO_MEMORY = re.compile(r"^(?P<name>.*?)\s+(?P<mb>\d+)\s*MB$")


def parse_gpu(device, position):
    require_object(device, "NBMiner device entry")
    name, memory_mb = text(device.get("info")).strip(), None
    match = _INFO_MEMORY.match(name)
    if match:
        name, memory_mb = match["name"], int(match["mb"])
    return GpuReading(
        index=own_index(position, device.get("id")),
        pci_bus=integer(device.get("pci_bus_id")),
        name=name,
        memory_mb=memory_mb,
        hashrate_hs=number(device.get("hashrate_raw")),
        temperature_c=number(device.get("temperature")),
        memory_temperature_c=sensor(device.get("memTemperature")),
        fan_pct=number(device.get("fan")),
        power_w=number(device.get("power")),
        shares_accepted=integer(device.get("accepted_shares")),
        shares_rejected=integer(first(device, "rejected_shares", "reject_shares")),
        shares_invalid=integer(device.get("invalid_shares")),
    )


def parse_status(data, now=None) -> RigReading:
    """The `/api/v1/status` object → RigReading; `now` (unix seconds) turns start_time into an
    uptime and defaults to the current time."""
    require_object(data, "NBMiner status")
    miner = data.get("miner")
    if not isinstance(miner, dict) or not isinstance(miner.get("devices"), list):
        raise bad_answer("NBMiner status has no 'miner.devices' list")
    stratum = as_dict(data.get("stratum"))
    start = number(data.get("start_time"))
    now = time.time() if now is None else now
    return RigReading(
        miner="NBMiner",
        version=text(data.get("version")),
        algorithm=text(stratum.get("algorithm")),
        pool_url=text(stratum.get("url")),
        # A rig clock behind ours must not show a negative uptime.
        uptime_s=None if start is None else max(0, int(now - start)),
        hashrate_hs=number(miner.get("total_hashrate_raw")),
        shares_accepted=integer(stratum.get("accepted_shares")),
        shares_rejected=integer(first(stratum, "rejected_shares", "reject_shares")),
        shares_invalid=integer(stratum.get("invalid_shares")),
        gpus=[parse_gpu(device, position) for position, device in enumerate(miner["devices"])],
    )


async def fetch(endpoint, http) -> RigReading:
    return parse_status(await http_get_json(http, endpoint, "/api/v1/status"))
