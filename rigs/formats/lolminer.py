"""lolMiner: HTTP JSON on `--apiport`, `GET /summary` (no default port; 44444 is Hive OS's).

lolMiner answers the same document on `/` and `/summary`; `/summary` is the path that both the
1.x format and the legacy ≤1.0x one answer on. In 1.x every hashrate is in the algorithm's
`Performance_Unit`, whose letter case varies between releases and algorithms ("Mh/s", "MH/s",
"kh/s", "g/s" for Cuckoo graphs); per-GPU arrays are index-aligned with `Workers`. A dual-mining
session lists two algorithms; the first one is the main coin.

Rig-level totals kept: `Total_Performance`, `Total_Accepted`, `Total_Rejected`, `Total_Stales`
and `Total_Errors` (stored as invalid); legacy builds give `Performance_Summary`, `Accepted` and
`Submitted` (rejected = submitted − accepted). Deliberately ignored: the second algorithm of a
dual-mining session (another coin in another unit), `Juc_Temp` (the junction temperature; we keep
the core and memory ones), clocks and `LHR_Unlock_Value` (settings, not readings).
"""

import re

from rigs.formats.base import GpuReading, RigReading, bad_answer, require_object
from rigs.formats.transport import http_get_json
from rigs.formats.values import as_dict, at, integer, number, own_index, sensor, text

PROTOCOL = "lolminer"
DEFAULT_PORT = 44444

_PREFIXES = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}
# "g/s" alone is graphs per second (Cuckoo), so the backtracking lets "g" be the unit, not giga.
_UNIT = re.compile(r"^(?P<prefix>[kmgtp]?)(?:h|sol|g)/s$")


def unit_factor(unit, factor=None):
    """Multiplier from a `Performance_Unit` such as "Mh/s" or "KH/S" to base units per second;
    falls back to `Performance_Factor`; None when neither is understood."""
    match = _UNIT.match(str(unit or "").strip().lower())
    if match:
        return _PREFIXES[match["prefix"]]
    factor = number(factor)
    return factor if factor and factor > 0 else None


def _scaled(value, factor):
    value = number(value)
    return None if value is None or factor is None else value * factor


def pci_bus(address):
    """lolMiner prints the PCI location as "bus:device" in decimal ("1:0"); a full
    "0000:01:00.0" form is hexadecimal."""
    parts = str(address or "").split(":")
    try:
        if len(parts) == 2 and "." not in parts[1]:
            return int(parts[0])
        if len(parts) in (2, 3):
            return int(parts[-2], 16)
    except ValueError:
        pass
    return None


def _split_software(software):
    # "lolMiner 1.88" → ("lolMiner", "1.88")
    name, _, version = text(software).strip().partition(" ")
    return name or "lolMiner", version


def _parse_current(data):
    workers = data.get("Workers")
    if not isinstance(workers, list):
        raise bad_answer("lolMiner summary has no 'Workers' list")
    algorithms = data.get("Algorithms")
    algo = as_dict(algorithms[0]) if isinstance(algorithms, list) and algorithms else {}
    factor = unit_factor(algo.get("Performance_Unit"), algo.get("Performance_Factor"))
    gpus = []
    for position, worker in enumerate(workers):
        require_object(worker, "lolMiner worker entry")
        gpus.append(
            GpuReading(
                index=own_index(position, worker.get("Index")),
                pci_bus=pci_bus(worker.get("PCIE_Address")),
                name=text(worker.get("Name")),
                hashrate_hs=_scaled(at(algo.get("Worker_Performance"), position), factor),
                temperature_c=number(worker.get("Core_Temp")),
                memory_temperature_c=sensor(worker.get("Mem_Temp")),
                fan_pct=number(worker.get("Fan_Speed")),
                power_w=number(worker.get("Power")),
                shares_accepted=integer(at(algo.get("Worker_Accepted"), position)),
                shares_rejected=integer(at(algo.get("Worker_Rejected"), position)),
                shares_stale=integer(at(algo.get("Worker_Stales"), position)),
                shares_invalid=integer(at(algo.get("Worker_Errors"), position)),
            )
        )
    miner, version = _split_software(data.get("Software"))
    return RigReading(
        miner=miner,
        version=version,
        algorithm=text(algo.get("Algorithm")),
        pool_url=text(algo.get("Pool")),
        uptime_s=integer(as_dict(data.get("Session")).get("Uptime")),
        hashrate_hs=_scaled(algo.get("Total_Performance"), factor),
        shares_accepted=integer(algo.get("Total_Accepted")),
        shares_rejected=integer(algo.get("Total_Rejected")),
        shares_stale=integer(algo.get("Total_Stales")),
        shares_invalid=integer(algo.get("Total_Errors")),
        gpus=gpus,
    )


def _parse_legacy(data):
    session = as_dict(data.get("Session"))
    # Legacy builds give a unit only sometimes; without one the figure is in H/s (or Sol/s).
    unit = session.get("Performance_Unit")
    factor = unit_factor(unit) if unit else 1.0
    gpus = []
    for position, gpu in enumerate(data["GPUs"]):
        require_object(gpu, "lolMiner GPU entry")
        accepted = integer(gpu.get("Session_Accepted"))
        submitted = integer(gpu.get("Session_Submitted"))
        gpus.append(
            GpuReading(
                index=own_index(position, gpu.get("Index")),
                pci_bus=pci_bus(gpu.get("PCIE_Address")),
                name=text(gpu.get("Name")),
                hashrate_hs=_scaled(gpu.get("Performance"), factor),
                temperature_c=number(gpu.get("Temp (deg C)")),
                memory_temperature_c=sensor(gpu.get("Mem Temp (deg C)")),
                fan_pct=number(gpu.get("Fan Speed (%)")),
                power_w=number(gpu.get("Consumption (W)")),
                shares_accepted=accepted,
                shares_rejected=_rejected(submitted, accepted),
                shares_invalid=integer(gpu.get("Session_HWErr")),
            )
        )
    miner, version = _split_software(data.get("Software"))
    accepted = integer(session.get("Accepted"))
    return RigReading(
        miner=miner,
        version=version,
        algorithm=text(as_dict(data.get("Mining")).get("Algorithm")),
        pool_url=text(as_dict(data.get("Stratum")).get("Current_Pool")),
        uptime_s=integer(session.get("Uptime")),
        hashrate_hs=_scaled(session.get("Performance_Summary"), factor),
        shares_accepted=accepted,
        shares_rejected=_rejected(integer(session.get("Submitted")), accepted),
        gpus=gpus,
    )


def _rejected(submitted, accepted):
    # Legacy lolMiner only counts submissions; a share counted before its answer arrives must
    # not show as a negative rejection.
    if submitted is None or accepted is None:
        return None
    return max(0, submitted - accepted)


def parse_summary(data) -> RigReading:
    """Either lolMiner summary format → RigReading."""
    require_object(data, "lolMiner summary")
    if "Workers" in data or "Algorithms" in data:
        return _parse_current(data)
    if isinstance(data.get("GPUs"), list):
        return _parse_legacy(data)
    raise bad_answer("lolMiner summary has neither 'Workers' nor 'GPUs'")


async def fetch(endpoint, http) -> RigReading:
    return parse_summary(await http_get_json(http, endpoint, "/summary"))
