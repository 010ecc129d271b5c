"""ethminer's JSON-RPC API over raw TCP: miner_getstatdetail, with miner_getstat1 as fallback.

Shapes confirmed in ethereum-mining/ethminer docs/API_DOCUMENTATION.md and
libapicore/ApiServer.cpp: hashrates are hex strings in H/s, `host.runtime` is in seconds,
`hardware.pci` is "bus:device.function" in hex, `sensors` is [°C, fan %, W] and `shares` is
[accepted, rejected, failed, seconds since the last share]. A password-protected API needs
`api_authorize` first on the same connection (-401 wrong password, -403 not authorised); the
connection stays open and every request line gets one reply line.

Rig-level totals kept: `mining.hashrate` and `mining.shares` [accepted, rejected, failed] (failed
is stored as invalid); ethminer counts no stale shares. A device with `mining.paused` true is
off (ApiServer.cpp sets `pause_reason`, e.g. overheating or an API request): stored at 0 H/s
with that reason. Deliberately ignored: the seconds since the last share (shares[3]), the nonce
`segment`, `epoch`, `epoch_changes`, `difficulty`, `connection.switches` and `monitors` (the
miner's own pause/resume temperatures): none is a figure of the rig's work.
"""

import json
import re

from rigs.formats import claymore
from rigs.formats.base import GpuReading, RigReading, bad_answer
from rigs.formats.transport import tcp_connection, tcp_exchange
from rigs.formats.values import at, integer, number

PROTOCOL = "ethminer"
DEFAULT_PORT = 3333  # ethminer has no default (--api-bind is required); 3333 is the usual choice

REQUIRED = ("host", "mining", "devices")
PCI_ID = re.compile(r"(?:[0-9a-fA-F]{4}:)?([0-9a-fA-F]{1,2}):[0-9a-fA-F]{1,2}\.[0-7]")
MEMORY_SUFFIX = re.compile(r"\s+(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)$")
MEMORY_MB = {"B": 1 / 1024**2, "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0}


def hex_hashrate(value) -> float | None:
    """ "0x0000000001d194d9" -> 30512345.0 H/s; plain numbers are taken as H/s too."""
    if isinstance(value, str) and value.strip().lower().startswith("0x"):
        try:
            return float(int(value.strip(), 16))
        except ValueError:
            return None
    return number(value)


def pci_bus(pci) -> int | None:
    """ "0a:00.0" (or "0000:0a:00.0") -> 10; ids like "Intel GPU 0.0" or "CPU:00" have none."""
    if not isinstance(pci, str):
        return None
    match = PCI_ID.fullmatch(pci.strip())
    return int(match.group(1), 16) if match else None


def split_name(name) -> tuple[str, int | None]:
    """ethminer appends the formatted memory size: "GeForce GTX 1070 7.93 GB"."""
    if not isinstance(name, str):
        return "", None
    match = MEMORY_SUFFIX.search(name)
    if not match:
        return name.strip(), None
    size_mb = float(match.group(1)) * MEMORY_MB[match.group(2)]
    return name[: match.start()].strip(), round(size_mb) or None


def vendor_of(mode, name: str) -> str:
    if mode == "CUDA" or re.search(r"geforce|nvidia|\brtx\b|\bgtx\b|tesla", name, re.I):
        return "NVIDIA"
    if re.search(r"radeon|\brx\s?\d|ellesmere|baffin|vega|navi|gfx\d", name, re.I):
        return "AMD"
    return ""


def _shares(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def parse_device(position: int, device) -> GpuReading:
    if not isinstance(device, dict):
        raise bad_answer(f"device {position} is {type(device).__name__}, expected an object")
    hardware, mining = _dict(device.get("hardware")), _dict(device.get("mining"))
    name, memory_mb = split_name(hardware.get("name"))
    sensors = hardware.get("sensors") if isinstance(hardware.get("sensors"), list) else []
    temp, fan, power = [*sensors, None, None, None][:3]
    temp, fan, power = number(temp), number(fan), number(power)
    # ethminer reports 0 for sensors it doesn't read (hardware monitoring is off unless
    # --HWMON is given, and power needs --HWMON 2); a mining GPU is never at 0 °C or 0 W.
    if temp == 0 and fan == 0:
        fan = None
    temp = temp or None
    power = power or None
    shares = _shares(mining.get("shares"))
    index = device.get("_index")
    paused = mining.get("paused") is True
    hashrate = hex_hashrate(mining.get("hashrate"))
    return GpuReading(
        index=index if isinstance(index, int) and not isinstance(index, bool) else position,
        pci_bus=pci_bus(hardware.get("pci")),
        name=name,
        vendor=vendor_of(device.get("_mode"), name),
        memory_mb=memory_mb,
        hashrate_hs=0.0 if paused else hashrate,
        off=paused,
        off_reason=f"paused ({mining['pause_reason']})"
        if paused and mining.get("pause_reason")
        else ("paused" if paused else ""),
        temperature_c=temp,
        fan_pct=fan,
        power_w=power,
        shares_accepted=integer(at(shares, 0)),
        shares_rejected=integer(at(shares, 1)),
        shares_invalid=integer(at(shares, 2)),
    )


def pool_url(uri) -> str:
    """The active connection without its user part, which holds the wallet and pool password:
    "stratum1+tls12://0xabc.rig@eu1.ethermine.org:5555" -> "stratum1+tls12://eu1.ethermine.org:5555".
    """
    if not isinstance(uri, str):
        return ""
    return re.sub(r"^([a-z0-9+.-]+://)[^/]*@", r"\1", uri.strip(), flags=re.IGNORECASE)


def parse_getstatdetail(result) -> RigReading:
    """The `result` object of miner_getstatdetail."""
    if not isinstance(result, dict):
        raise bad_answer(f"`result` is {type(result).__name__}, expected an object")
    missing = [key for key in REQUIRED if key not in result]
    if missing:
        raise bad_answer(f"miner_getstatdetail without {', '.join(missing)}")
    host, mining = _dict(result["host"]), _dict(result["mining"])
    devices = result["devices"]
    if not isinstance(devices, list):
        raise bad_answer("`devices` is not an array")
    miner, version, _ = claymore.parse_version(str(host.get("version") or "ethminer"))
    shares = _shares(mining.get("shares"))
    runtime = integer(host.get("runtime"))
    return RigReading(
        miner=miner,
        version=version,
        algorithm="ethash",  # the only algorithm ethminer mines
        pool_url=pool_url(_dict(result.get("connection")).get("uri")),
        uptime_s=runtime,
        hashrate_hs=hex_hashrate(mining.get("hashrate")),
        shares_accepted=integer(at(shares, 0)),
        shares_rejected=integer(at(shares, 1)),
        shares_invalid=integer(at(shares, 2)),
        gpus=[parse_device(i, device) for i, device in enumerate(devices)],
    )


def authorize_request(password: str) -> bytes:
    return claymore.request("api_authorize", id=1, params={"psw": password})


def method_request(method: str) -> bytes:
    # ethminer takes the password only through api_authorize, never as a "psw" member.
    return claymore.request(method)


def _is_error(line: bytes) -> bool:
    try:
        answer = json.loads(line.rstrip(b"\x00\r\n "))
    except ValueError:
        return True  # not JSON: no point in sending the next request
    return not isinstance(answer, dict) or claymore.rpc_error(answer) is not None


async def session(endpoint, payloads: list[bytes]) -> list[bytes]:
    """Several request lines on one connection, one reply line each, under one deadline: the
    authorisation of an ethminer API holds only for the connection it was given on. Stops early
    when a reply is an error, so a refused password is not followed by the real request."""
    async with tcp_connection(endpoint) as (reader, writer):
        replies = []
        for payload in payloads:
            writer.write(payload)
            await writer.drain()
            line = await reader.readline()
            replies.append(line)
            if not line.strip() or _is_error(line):
                break
        return replies


async def call(endpoint, method: str):
    """One method call; the decoded answer, after api_authorize when a password is set."""
    if not endpoint.password:
        return claymore.decode(await tcp_exchange(endpoint, method_request(method)))
    replies = await session(
        endpoint, [authorize_request(endpoint.password), method_request(method)]
    )
    auth = claymore.decode(replies[0])
    if not isinstance(auth, dict):
        raise bad_answer("the answer to api_authorize is not a JSON-RPC object")
    error = claymore.rpc_error(auth)
    if error is not None:
        claymore.raise_rpc_error(*error)
    if len(replies) < 2:
        raise bad_answer("nothing after api_authorize; the miner closed the connection")
    return claymore.decode(replies[1])


async def fetch(endpoint, http=None) -> RigReading:
    answer = await call(endpoint, "miner_getstatdetail")
    if not isinstance(answer, dict):
        raise bad_answer(f"a JSON {type(answer).__name__} instead of a JSON-RPC object")
    error = claymore.rpc_error(answer)
    if error is not None and error[0] == claymore.METHOD_NOT_FOUND:
        # Older builds and Claymore-compatible clones answer "Method not found".
        result = claymore.stat_result(
            await call(endpoint, "miner_getstat1"), tolerate_unknown=False
        )
        reading = claymore.parse_getstat(result)
        reading.algorithm = reading.algorithm or "ethash"
        return reading
    if error is not None:
        claymore.raise_rpc_error(*error)
    if answer.get("result") is None:
        raise bad_answer("miner_getstatdetail without `result`")
    return parse_getstatdetail(answer["result"])
