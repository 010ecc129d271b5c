"""The physical limits of every figure a rig reports, in our units: the one table the telemetry
API's serializer, the Hive OS agent's stats and the polled miners' readings are checked against
(docs/api.md, "Limits", lists them and what happens outside them).

The limits are wide enough for any real device and narrow enough that no sum or average of
in-range figures can leave the finite floats: a rig's hashrate is at most DEVICES_MAX devices of
HASHRATE_DEVICE_MAX_HS each, about 2.6e17 H/s, far from the 1.8e308 where a float overflows.
Outside them:
- the API and a Hive OS body answer 400 and store nothing: the sender is wrong
  (`problems`, `reading_problems`);
- a polled miner's figure is dropped like "off" (`drop_out_of_range`), because one junk figure
  of one miner must not cost the rest of its reading, or the other rigs of the poll cycle.
Whatever gets past them, the database refuses a non-finite float (ethdash.db.finite_check).
"""

import math

# A device (a GPU, the CPU, an ASIC's hashboard): 1 PH/s is several times the fastest SHA-256
# ASIC sold, so no device can mean more.
HASHRATE_DEVICE_MAX_HS = 10**15
# Devices of one rig: a PCI bus number is 8 bits, so a rig has at most 256 cards on their own
# buses (Hive OS rigs carry up to a few dozen).
DEVICES_MAX = 256
# A rig's own total (the miner's, or the devices' sum): all its devices at their maximum.
HASHRATE_RIG_MAX_HS = DEVICES_MAX * HASHRATE_DEVICE_MAX_HS
TEMPERATURE_MIN_C, TEMPERATURE_MAX_C = -40, 150  # what GPU and CPU sensors can read
FAN_MAX_PCT = 100
# One device's draw: the biggest GPUs draw about 600 W, an ASIC's hashboard about 1.2 kW.
POWER_DEVICE_MAX_W = 3000
POWER_RIG_MAX_W = DEVICES_MAX * POWER_DEVICE_MAX_W
# Cumulative share counters: exact in every JSON client (JavaScript's numbers are doubles), and
# the sum over a rig's devices fits the 64-bit column up to 1,024 devices. Real miners count a
# few million shares.
COUNT_MAX = 2**53 - 1
COLUMN_COUNT_MAX = 2**63 - 1  # a counter column (BigIntegerField)
UPTIME_MAX_S = 20 * 366 * 86400  # twenty years of a miner running without a restart
PCI_BUS_MAX = 255  # 8 bits (lspci's "0a:00.0" is bus 10)
INDEX_MAX = 32767  # a device's position in its miner's list: a small integer column
MEMORY_MB_MAX = 2**31 - 1
# The Hive OS body: entries of one miner's `hs` (one per GPU, or per CPU thread of a CPU
# miner: a two-socket server has a few hundred) and of the agent's per-GPU arrays.
HS_ENTRIES_MAX = 1024

# field -> (low, high), both included, for a device's figures.
DEVICE = {
    "hashrate_hs": (0, HASHRATE_DEVICE_MAX_HS),
    "temperature_c": (TEMPERATURE_MIN_C, TEMPERATURE_MAX_C),
    "memory_temperature_c": (TEMPERATURE_MIN_C, TEMPERATURE_MAX_C),
    "fan_pct": (0, FAN_MAX_PCT),
    "power_w": (0, POWER_DEVICE_MAX_W),
    "shares_accepted": (0, COUNT_MAX),
    "shares_rejected": (0, COUNT_MAX),
    "shares_stale": (0, COUNT_MAX),
    "shares_invalid": (0, COUNT_MAX),
    "pci_bus": (0, PCI_BUS_MAX),
    "memory_mb": (0, MEMORY_MB_MAX),
}
# field -> (low, high) for a rig's own figures (the miner's totals).
RIG = {
    "hashrate_hs": (0, HASHRATE_RIG_MAX_HS),
    "uptime_s": (0, UPTIME_MAX_S),
    "shares_accepted": (0, COUNT_MAX),
    "shares_rejected": (0, COUNT_MAX),
    "shares_stale": (0, COUNT_MAX),
    "shares_invalid": (0, COUNT_MAX),
}


def within(value, low, high) -> bool:
    """Whether `value` is a finite number in [low, high] (None is no value, and not checked)."""
    if value is None:
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return low <= value <= high


def finite_or_none(value):
    """`value` when it is a finite number, else None: for a figure computed from others (a sum,
    an average), which bounded inputs keep finite; this is the check after the arithmetic."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def count_or_none(value):
    """A counter computed from others (a sum over devices) when its column can hold it."""
    return value if value is None or 0 <= value <= COLUMN_COUNT_MAX else None


def _outside(name, value, low, high):
    return f"{name} {value!r} is outside {low:g}..{high:g}"


def reading_problems(reading) -> list[str]:
    """What is out of range in a RigReading, one sentence each, [] when nothing is: for a body
    the sender built wrong, which is refused whole."""
    problems = []
    if len(reading.gpus) > DEVICES_MAX:
        problems.append(f"{len(reading.gpus)} devices, more than {DEVICES_MAX}")
        return problems
    for name, (low, high) in RIG.items():
        value = getattr(reading, name)
        if not within(value, low, high):
            problems.append("the rig's " + _outside(name, value, low, high))
    for gpu in reading.gpus:
        label = f"device {gpu.index}" + (f" (bus {gpu.pci_bus})" if gpu.pci_bus is not None else "")
        for name, (low, high) in DEVICE.items():
            value = getattr(gpu, name)
            if not within(value, low, high):
                problems.append(f"{label}: " + _outside(name, value, low, high))
    return problems


def drop_out_of_range(reading):
    """`reading` (changed in place) with every figure outside its limits set to None: no reading
    at all, as "off" or junk text is (rigs.formats.values). A device index out of range becomes
    the device's position in the miner's list, its identity where it has no bus. The rest of the
    reading is kept."""
    for name, (low, high) in RIG.items():
        if not within(getattr(reading, name), low, high):
            setattr(reading, name, None)
    for position, gpu in enumerate(reading.gpus):
        if gpu.index is None or not within(gpu.index, 0, INDEX_MAX):
            gpu.index = position
        for name, (low, high) in DEVICE.items():
            if not within(getattr(gpu, name), low, high):
                setattr(gpu, name, None)
    return reading
