"""The Hive OS agent's requests (minershive/hiveos-linux): its stats body, which the telemetry
endpoint also accepts unchanged, and its hello. A push format, not a polled protocol, so it is not
in the registry.

stats (hive/bin/agent, every ~10 s):

    {"method": "stats", "params": {"v": 1, "rig_id": "12", "passwd": "...", "meta": {...},
     "temp": [...], "fan": [...], "power": [...], "df": "12G", "mem": [7936, 6200],
     "cpuavg": [0.31, 0.28, 0.25], "miner": "phoenixminer", "total_khs": 182724.3,
     "miner_stats": {"hs": [...], "hs_units": "khs", "temp": [...], "fan": [...],
                     "uptime": 3600, "ar": [acc, rej, inv, "0;1;0"],
                     "bus_numbers": [1, 3, 4], "algo": "ethash", "ver": "6.2c"},
     "miner2": ..., "total_khs2": ..., "miner_stats2": {...}}}

Two orders meet in it. The top-level temp, fan and power arrays are the agent's gpu-stats
(hive/sbin/gpu-stats), one entry per GPU the rig has, the iGPU included, sorted by PCI bus id; the
body carries no bus ids for them. The miner's arrays (hs, and its own temp/fan) are in the miner's
order, with `bus_numbers` (decimal) saying which GPU each is. So the top-level arrays are paired
through the GPU list of the agent's hello (gpu-detect listjson, sorted by bus id the same way:
Hive's own hive/bin/motd pairs gpu-detect's entry i with gpu-stats' entry i, checking that their
busids agree), which the rig keeps as `hive_detected_buses`, and never by position against the
miner's list.
`hs` is in `hs_units` (kH/s when absent); `total_khs` is always kH/s.

CPU miners send one `hs` entry per CPU thread, with a null bus number (xmrig-new, SRBMiner) or no
bus_numbers at all (xmrig, cpuminer-opt): those threads are one device of kind "cpu" (named after
the hello's CPU model), its hashrate the miner's total_khs<N> when the miner mines on the CPU
alone, else the sum of its threads. A further miner's devices on another algorithm than the first
miner's are marked `other_algorithm`, so the rig's sums leave them out.
Agents before hive/bin/sanitize send numbers as strings (total_khs, gpu-stats' arrays, `ar`
built with jq --arg): they are read as numbers (rigs.formats.values).

hello (hive/bin/hello, at boot): {"method": "hello", "jsonrpc": "2.0", "id": 0, "params": {
"rig_id", "passwd", "server_url", "uid", "boot_time", "boot_event", "ip", "net_interfaces",
"openvpn", "lan_config", "gpu": [{"busid": "01:00.0", "name", "brand": "nvidia"|"amd"|"cpu",
"subvendor", "mem": "8192 MB", "vbios", "mem_type", ...}], "gpu_count_amd", "gpu_count_nvidia",
"mb": {"manufacturer", "product", "system_uuid"}, "cpu": {"model", "cores", "aes", "cpu_id"},
"disk_model", "kernel", "amd_version", "nvidia_version", "version", "ref_id"}}.
"""

import json
import math
import re
import zlib
from dataclasses import dataclass, field

from ethdash.parsers import MAX_JSON_DEPTH, json_nests_deeper_than
from rigs import limits
from rigs.formats.base import GpuReading, RigReading, bad_answer
from rigs.formats.values import as_dict, as_list, at, integer, number, sensor, text

HS_UNITS = {"hs": 1.0, "khs": 1e3, "mhs": 1e6, "ghs": 1e9, "ths": 1e12}
# A stats body of a 32-GPU rig running several miners is a few tens of kB; a gzip body that
# inflates beyond this is not one the agent built.
MAX_BODY_BYTES = 2 * 1024 * 1024
# gpu-detect's brands of mining cards; newer versions add "intel" (Arc), while an integrated GPU
# is brand "cpu" whatever its vendor (hive/bin/motd numbers only the first three).
VENDORS = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel"}
# Hive's miners that mine on the CPU only and whose h-stats.sh sends no bus_numbers, so that their
# hs (one entry per thread) cannot be told from a GPU miner's by the body alone:
# hive/miners/xmrig/h-stats.sh (`hs: [.hashrate.threads[][0]]`, the CPU's core temperatures) and
# hive/miners/cpuminer-opt/h-stats.sh (one hs entry per thread of cpuminer's `threads` answer).
CPU_MINERS = {"xmrig", "cpuminer-opt"}
# gpu-detect's and gpu-stats' "01:00.0" (lspci, hex); nvidia-smi's domain prefix is trimmed there.
BUS_ID = re.compile(r"^\s*(?:[0-9a-fA-F]{4}:)?([0-9a-fA-F]{2}):[0-9a-fA-F]{2}\.\d\s*$")


class BadRequest(ValueError):
    """A request body that is not one the agent builds; str() says what is wrong."""


def decode_request(raw: bytes, content_encoding: str = "") -> dict:
    """The JSON object of an agent request as it arrives: the agent sends no Content-Type at all
    for stats (`-H "Content-Type:"`), and gzips the body when AGENT_GZIP=1 (`Content-Encoding:
    gzip`). Raises BadRequest for anything else."""
    encoding = (content_encoding or "").strip().lower()
    if encoding == "gzip":
        try:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, MAX_BODY_BYTES + 1)
        except zlib.error as error:
            raise BadRequest(f"The body is not valid gzip: {error}.") from None
        if len(raw) > MAX_BODY_BYTES or inflater.unconsumed_tail:
            raise BadRequest(f"The body inflates beyond {MAX_BODY_BYTES} bytes.")
        if not inflater.eof:
            raise BadRequest("The body is not valid gzip: it ends before the gzip stream does.")
    elif encoding not in ("", "identity"):
        raise BadRequest(f"Content-Encoding {content_encoding!r} is not one the agent uses.")
    elif raw[:2] == b"\x1f\x8b":
        raise BadRequest("The body is gzip but says no Content-Encoding: gzip.")
    if json_nests_deeper_than(raw):
        # Before parsing: the C decoder recurses per level and may crash the thread.
        raise BadRequest(f"The body is not JSON an agent sends: it nests past {MAX_JSON_DEPTH}.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BadRequest(f"The body is not JSON: {error}.") from None
    if not isinstance(body, dict) or not isinstance(body.get("params"), dict):
        raise BadRequest("The body is not a JSON-RPC request with a 'params' object.")
    return body


def bus_of(busid) -> int | None:
    """The bus number of an lspci bus id ("0a:00.0" is bus 10), as miners count it."""
    match = BUS_ID.match(text(busid))
    return int(match.group(1), 16) if match else None


def is_hiveos_body(body):
    return isinstance(body, dict) and (
        body.get("method") == "stats"
        or "miner_stats" in body
        or "miner_stats" in as_dict(body.get("params"))
    )


# -- stats ------------------------------------------------------------------------------------


def parse_stats(body, detected_buses=(), cpu_model=""):
    """One whole-rig reading from a stats body. `detected_buses` is the rig's GPU buses in the
    agent's detection order (from its hello); without it, or when the agent's arrays do not have
    one entry per detected GPU, the agent's own temp/fan/power are not paired at all, and each
    GPU keeps what the miner itself reports. `cpu_model` (the hello's) names a CPU device."""
    params = body.get("params", body)
    if not isinstance(params, dict):
        raise bad_answer("'params' is not an object")
    _refuse_oversized(params)
    stats = params.get("miner_stats")
    # The agent sends "miner_stats": null when its miner answers nothing (stopped, restarting,
    # no MINER set): the rig is up and its miner reports no device, which is a reading too.
    if stats is None:
        stats = {}
    if not isinstance(stats, dict):
        raise bad_answer("'miner_stats' is not an object")
    by_bus = _agent_figures_by_bus(params, list(detected_buses or ()))
    reading = _parse_miner(
        params.get("miner", ""), stats, by_bus, params.get("total_khs"), cpu_model=cpu_model
    )
    server = as_dict(as_dict(params.get("meta")).get(text(params.get("miner"))))
    reading.pool_url = text(server.get("server"))
    # Further miners (MINER2 ... MINER32): a CPU miner beside the GPU one, or a GPU miner on other
    # cards, add their devices; on the same buses it is dual mining, another coin in another
    # unit, which is not added. A device of a miner on another algorithm than the first miner's
    # (xmrig's RandomX beside a GPU miner's Ethash) is kept with its own hashrate but marked, so
    # the rig's sums leave it out: H/s of two algorithms do not add up.
    buses = {g.pci_bus for g in reading.gpus if g.pci_bus is not None}
    for number_ in range(2, 33):
        extra_stats = params.get(f"miner_stats{number_}")
        if not isinstance(extra_stats, dict):
            continue
        extra = _parse_miner(
            params.get(f"miner{number_}", ""),
            extra_stats,
            by_bus,
            params.get(f"total_khs{number_}"),
            first=False,
            cpu_model=cpu_model,
        )
        other = _other_algorithm(extra.algorithm, reading.algorithm)
        for gpu in extra.gpus:
            if gpu.pci_bus is None or gpu.pci_bus not in buses:
                gpu.index = len(reading.gpus)
                gpu.other_algorithm = other
                reading.gpus.append(gpu)
                if gpu.pci_bus is not None:
                    buses.add(gpu.pci_bus)
    return reading


def _refuse_oversized(params):
    """Raises a bad answer for a body no agent builds that would cost a request its time or a
    column its value: per-GPU arrays longer than any rig's (rigs.limits.HS_ENTRIES_MAX), a NUL
    character in any text (PostgreSQL's text and JSON columns refuse it), a number that is not
    finite."""
    for key, value in params.items():
        if isinstance(value, list) and len(value) > limits.HS_ENTRIES_MAX:
            raise bad_answer(f"'{key}' has {len(value)} entries, more than {limits.HS_ENTRIES_MAX}")
        if isinstance(value, dict) and key.startswith("miner_stats"):
            for name, entries in value.items():
                if isinstance(entries, list) and len(entries) > limits.HS_ENTRIES_MAX:
                    raise bad_answer(
                        f"'{key}.{name}' has {len(entries)} entries, more than "
                        f"{limits.HS_ENTRIES_MAX}"
                    )
    where = unusable_in(params)
    if where:
        raise bad_answer(where)


def unusable_in(value, path="params"):
    """What in a JSON value no agent sends and no column can hold, else "": a NUL character in
    a string or key, or a number that is not finite (JSON's 1e400 is parsed as infinity).
    Iterative, so a deep value costs no recursion."""
    pending = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return f"a NUL character in {where}"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{where} is {item!r}, not a finite number"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in str(key):
                    return f"a NUL character in a key of {where}"
                pending.append((f"{where}.{key}", child))
        elif isinstance(item, list):
            pending.extend((f"{where}[{i}]", child) for i, child in enumerate(item))
    return ""


def _agent_figures_by_bus(params, detected_buses):
    """{bus: {field: value}} from the agent's own arrays (gpu-stats order = detection order)."""
    arrays = {
        "temperature_c": (as_list(params.get("temp")), sensor),
        "fan_pct": (as_list(params.get("fan")), number),
        # gpu-stats writes 0 for a card that gives no power reading (and for the iGPU).
        "power_w": (as_list(params.get("power")), sensor),
        # Memory temperatures: newer gpu-stats write `mtemp` beside temp/fan/power, same order
        # (hive/bin/motd reads .busids, .temp, .fan, .power, .mtemp of gpu-stats.json); paired
        # the same way when the agent sends it. `jtemp` (the core's hot spot) has no field here
        # and is not kept.
        "memory_temperature_c": (as_list(params.get("mtemp")), sensor),
    }
    figures = {}
    for field_name, (values, read) in arrays.items():
        # An array that is not one entry per detected GPU cannot be paired safely.
        if not values or len(values) != len(detected_buses):
            continue
        for bus, value in zip(detected_buses, values, strict=True):
            if bus is not None:
                figures.setdefault(bus, {})[field_name] = read(value)
    return figures


def _other_algorithm(algorithm, first_algorithm):
    """`algorithm` when it is known to differ from the first miner's, else "" (the same, or one
    of them unknown: then the devices count as the xmrig API's do, in the rig's sums)."""
    known = algorithm.strip().lower(), first_algorithm.strip().lower()
    return algorithm if all(known) and known[0] != known[1] else ""


def _is_cpu_thread(name, buses, index, first):
    """Whether entry `index` of a miner's hs is one of its CPU threads. Hive's scripts mark them
    so: xmrig-new's and SRBMiner's h-stats.sh write `null` into bus_numbers for each CPU thread,
    beside the GPUs' buses; xmrig's and cpuminer-opt's (CPU only) send no bus_numbers at all.
    A first miner without bus_numbers is a GPU miner whose script predates them, unless it is one
    of those CPU miners; a further miner without any is the CPU miner beside the GPU one."""
    if isinstance(buses, list):
        return index < len(buses) and buses[index] is None
    return not first or text(name).strip().lower() in CPU_MINERS


def _parse_miner(name, stats, agent_by_bus, total_khs, *, first=True, cpu_model=""):
    unit = str(stats.get("hs_units") or "khs").lower()
    if unit not in HS_UNITS:
        raise bad_answer(f"unknown hs_units {stats.get('hs_units')!r}")
    scale = HS_UNITS[unit]
    hashrates = as_list(stats.get("hs"))
    buses = stats.get("bus_numbers")
    # The miner's own sensor arrays are in its order, aligned with hs.
    miner_arrays = {
        "temperature_c": (as_list(stats.get("temp")), number),
        "fan_pct": (as_list(stats.get("fan")), number),
        "power_w": (as_list(stats.get("power")), sensor),
        "memory_temperature_c": (as_list(stats.get("mtemp")), sensor),
    }
    accepted_rejected = as_list(stats.get("ar"))
    invalid_per_gpu = []
    if len(accepted_rejected) > 3 and isinstance(accepted_rejected[3], str):
        invalid_per_gpu = accepted_rejected[3].split(";")
    gpus, cpu_threads = [], []
    for index, hashrate in enumerate(hashrates):
        if _is_cpu_thread(name, buses, index, first):
            cpu_threads.append(index)
            continue
        bus = integer(at(as_list(buses), index))
        agent = agent_by_bus.get(bus, {}) if bus is not None else {}
        values = {}
        for field_name, (values_of_miner, read) in miner_arrays.items():
            # The agent's reading of the card (the driver's) where it is known for this bus,
            # else the miner's.
            value = agent.get(field_name)
            values[field_name] = value if value is not None else read(at(values_of_miner, index))
        gpus.append(
            GpuReading(
                index=len(gpus),
                pci_bus=bus,
                hashrate_hs=_scaled(hashrate, scale),
                shares_invalid=integer(at(invalid_per_gpu, index)),
                **values,
            )
        )
    total_hs = _scaled(total_khs if total_khs is not None else stats.get("total_khs"), 1e3)
    if cpu_threads:
        gpus.append(
            _cpu_device(
                [hashrates[i] for i in cpu_threads],
                scale,
                # The miner's total is the CPU's when the miner mines on nothing else; it is
                # always kH/s, while xmrig's h-stats.sh sends its threads in H/s without saying
                # so (no hs_units, read as kH/s).
                total_hs if len(cpu_threads) == len(hashrates) else None,
                # xmrig's script sends one temperature per core (not per thread), the others
                # the CPU's temperature once per thread: the hottest is the CPU's.
                miner_arrays["temperature_c"][0]
                if len(cpu_threads) == len(hashrates)
                else [at(miner_arrays["temperature_c"][0], i) for i in cpu_threads],
                accepted_rejected if len(cpu_threads) == len(hashrates) else [],
                index=len(gpus),
                name=cpu_model,
            )
        )
    # Kept deliberately out: hs2/total_khs2/ar2/algo2 (Claymore's dual coin, another unit).
    return RigReading(
        miner=text(name),
        version=text(stats.get("ver")),
        algorithm=text(stats.get("algo")),
        uptime_s=integer(stats.get("uptime")),
        hashrate_hs=total_hs,
        shares_accepted=integer(at(accepted_rejected, 0)),
        shares_rejected=integer(at(accepted_rejected, 1)),
        shares_invalid=integer(at(accepted_rejected, 2)),
        gpus=gpus,
    )


def _cpu_device(thread_rates, scale, total_hs, temperatures, accepted_rejected, *, index, name):
    """One device of kind "cpu" for a miner's CPU threads: their summed hashrate (or the miner's
    own total when the miner mines on the CPU alone), the hottest temperature given. Its fans
    are not read: SRBMiner's script writes 0 for each thread as a placeholder, xmrig-new null.
    Share counters only when the whole miner is the CPU (its `ar`)."""
    rates = [r for r in (_scaled(rate, scale) for rate in thread_rates) if r is not None]
    temperatures = [t for t in (sensor(value) for value in temperatures) if t is not None]
    return GpuReading(
        index=index,
        kind="cpu",
        name=text(name),
        hashrate_hs=total_hs if total_hs is not None else (sum(rates) if rates else None),
        temperature_c=max(temperatures) if temperatures else None,
        shares_accepted=integer(at(accepted_rejected, 0)),
        shares_rejected=integer(at(accepted_rejected, 1)),
        shares_invalid=integer(at(accepted_rejected, 2)),
    )


def parse_host(body) -> dict:
    """The rig-level figures of a stats body, in our units.

    Kept: df (free space on /, `df -h`'s "12G"), mem ([total, available] MB; agents before the
    sanitize step sent [total, free]), cpuavg (load average over 1, 5 and 15 minutes), cputemp.
    Not kept: v (the body's version), rig_id and passwd (the credentials), meta (the flight
    sheet's per-miner coin and server; the server becomes the pool URL), octofan_stats and
    coolbox_stats (case fan controllers ethdash has no model for)."""
    params = as_dict(body.get("params", body))
    memory = as_list(params.get("mem"))
    load = [number(value) for value in as_list(params.get("cpuavg"))[:3]]
    # hive/sbin/cpu-temp prints the CPU's temperature in whole °C; newer agents than the ones
    # read send it as `cputemp` (one value, or one per CPU: the hottest is kept).
    cpu_temps = [sensor(v) for v in as_list(params.get("cputemp")) or [params.get("cputemp")]]
    cpu_temps = [t for t in cpu_temps if t is not None]
    host = {
        "disk_free_bytes": _size_bytes(params.get("df")),
        "memory_total_mb": integer(at(memory, 0)),
        "memory_available_mb": integer(at(memory, 1)),
        "load_average": load if len(load) == 3 and None not in load else None,
        "cpu_temperature_c": max(cpu_temps) if cpu_temps else None,
    }
    return {key: value for key, value in host.items() if value is not None}


def _size_bytes(value):
    match = re.match(r"^\s*(\d+(?:[.,]\d+)?)\s*([KMGTP]?)i?B?\s*$", text(value), re.IGNORECASE)
    if not match:
        return None
    power = " KMGTP".index(match.group(2).upper() or " ")
    size = float(match.group(1).replace(",", ".")) * 1024**power
    return int(size) if math.isfinite(size) else None  # 400 digits of "G" are no disk


def _scaled(value, scale):
    value = number(value)
    if value is None or value < 0:
        return None
    # Finite before the unit conversion is not finite after it (1e306 TH/s is infinity in H/s):
    # such a figure is out of every range, and rigs.limits refuses the body that carries it.
    return value * scale


# -- hello ------------------------------------------------------------------------------------


@dataclass
class Hello:
    gpus: list[GpuReading] = field(default_factory=list)  # mining GPUs, detection order
    detected_buses: list = field(default_factory=list)  # every detected GPU, iGPU included
    host: dict = field(default_factory=dict)


def parse_hello(body) -> Hello:
    """What a hello says about the rig. Raises BadRequest when its GPU list is unusable."""
    params = as_dict(body.get("params"))
    detected = params.get("gpu", [])
    if not isinstance(detected, list) or not all(isinstance(g, dict) for g in detected):
        raise BadRequest("'gpu' is not the agent's list of detected GPUs.")
    if len(detected) > limits.DEVICES_MAX:
        raise BadRequest(f"'gpu' lists {len(detected)} GPUs, more than {limits.DEVICES_MAX}.")
    where = unusable_in(params)
    if where:
        raise BadRequest(f"The hello holds {where}.")
    hello = Hello()
    for entry in detected:
        bus = bus_of(entry.get("busid"))
        hello.detected_buses.append(bus)
        brand = text(entry.get("brand")).lower()
        # brand "cpu" is an integrated GPU, or a placeholder for a card missing or disabled at
        # boot (vbios "MISSING"/"DISABLED"): not a mining device.
        if brand not in VENDORS or bus is None:
            continue
        hello.gpus.append(
            GpuReading(
                index=len(hello.gpus),
                pci_bus=bus,
                name=text(entry.get("name")),
                vendor=VENDORS[brand],
                memory_mb=_memory_mb(entry.get("mem")),
            )
        )
    for gpu in hello.gpus:
        if not limits.within(gpu.memory_mb, *limits.DEVICE["memory_mb"]):
            raise BadRequest(
                f"GPU {gpu.pci_bus}'s memory of {gpu.memory_mb} MB is beyond "
                f"{limits.MEMORY_MB_MAX} MB."
            )
    mb, cpu = as_dict(params.get("mb")), as_dict(params.get("cpu"))
    # uid, ip, net_interfaces, lan_config, openvpn, ref_id, server_url and the GPUs' vbios,
    # subvendor and power limits describe the rig to Hive's web console and are not kept.
    host = {
        "hive_version": text(params.get("version")),
        "kernel": text(params.get("kernel")),
        "boot_time_unix_s": integer(params.get("boot_time")),  # older agents: a date, not kept
        "motherboard": _joined(mb, "manufacturer", "product"),
        "cpu_model": text(cpu.get("model")),
        "cpu_cores": integer(cpu.get("cores")),
        "disk_model": text(params.get("disk_model")),
        "nvidia_driver": text(params.get("nvidia_version")),
        "amd_driver": text(params.get("amd_version")),
    }
    hello.host = {key: value for key, value in host.items() if value not in (None, "")}
    return hello


def _joined(mapping, *keys):
    return " ".join(filter(None, (text(mapping.get(key)) for key in keys)))


def _memory_mb(value):
    match = re.match(r"^\s*(\d+)\s*(M|MB|G|GB)?\s*$", text(value), re.IGNORECASE)
    if not match:
        return None
    amount = int(match.group(1))
    return amount * 1024 if (match.group(2) or "").upper().startswith("G") else amount
