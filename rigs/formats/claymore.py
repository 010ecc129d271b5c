"""Claymore-compatible JSON-RPC over raw TCP: Claymore, PhoenixMiner, TeamRedMiner
(--cm_api_listen), ethminer's getstat1 and other clones.

One request line per connection; the answer is one JSON object whose `result` is a positional
array of strings. Field layout (reference/mining.md §3.1, confirmed in ethminer's ApiServer.cpp
and Hive OS h-stats.sh for claymore/phoenixminer):
[0] version, [1] uptime in minutes, [2] "total kH/s;accepted;rejected", [3] per-GPU kH/s,
[4]-[5] dual coin, [6] "temp;fan;temp;fan...", [7] pool(s), [8] "invalid;switches;...";
miner_getstat2 adds [9] accepted, [10] rejected, [11] invalid per GPU, [12]-[14] the same for the
dual coin and [15] the PCI bus (decimal) per GPU.

Rig-level totals kept: [2] total hashrate, accepted and rejected, [8][0] invalid; the miner gives
no stale count. A GPU switched off in Claymore (with the 0-9 keys or `control_gpu`) is listed in
[3] as "off" instead of a hashrate: Hive OS's claymore h-stats.sh reads it as 0, and so do we,
with the GPU marked off. PhoenixMiner's getstat is Claymore's and is read alike (its own API
text shows "off" only for the idle dual coin). Deliberately ignored: the dual coin ([4], [5],
[8][2]-[3], [12]-[14]; another coin in another unit, which we do not store), the pool switch
count [8][1], and anything after [15] (PhoenixMiner may append fields there, undocumented).
"""

import json
import re

from rigs.formats.base import GpuReading, MinerError, RigReading, bad_answer
from rigs.formats.transport import decode_json, tcp_exchange
from rigs.formats.values import at, integer, number

PROTOCOL = "claymore"
DEFAULT_PORT = 3333

GETSTAT1_FIELDS = 9
OFF = "off"  # a GPU's hashrate in [3] when the GPU is switched off
# ethminer's codes; "Method not found" is what a miner without getstat2 answers.
METHOD_NOT_FOUND = -32601
AUTH_CODES = (-401, -403)
# The " - ETH" suffix of [0] names the coin, not the algorithm.
COIN_ALGORITHMS = {"ETH": "ethash", "ETC": "etchash", "UBQ": "ubqhash", "ETHW": "ethash"}


def request(method: str, password: str = "", **extra) -> bytes:
    body = {"id": 0, "jsonrpc": "2.0", "method": method, **extra}
    if password:
        body["psw"] = password
    # ethminer only processes a request once it sees the line feed; Claymore doesn't mind it.
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def decode(raw: bytes):
    """JSON from a miner, with clearer messages for the two commonest wrong-port answers."""
    stripped = raw.strip(b"\x00\r\n\t ")
    if not stripped:
        raise bad_answer("nothing; the miner closed the connection without answering")
    if stripped[:5].lower() == b"http/" or stripped[:1] == b"<":
        raise bad_answer("an HTML page instead of JSON; is this the miner's web port?")
    return decode_json(raw)


def rpc_error(answer: dict) -> tuple[int | None, str] | None:
    """(code, message) of a JSON-RPC error member, or None when there is none."""
    error = answer.get("error")
    if error in (None, False, "", {}, []):
        return None
    if isinstance(error, dict):
        # ethminer writes "errorcode" (a string) instead of "code" for parse errors.
        raw_code = error.get("code", error.get("errorcode"))
        try:
            code = int(raw_code) if raw_code is not None else None
        except (TypeError, ValueError):
            code = None
        message = str(error.get("message") or error.get("msg") or raw_code or "error")
        return code, message
    return None, str(error)


def is_auth_error(code: int | None, message: str) -> bool:
    return code in AUTH_CODES or bool(re.search(r"passw|authori[sz]", message, re.IGNORECASE))


def raise_rpc_error(code: int | None, message: str):
    if is_auth_error(code, message):
        raise MinerError("auth", f"The miner refused the API password ({message}).")
    suffix = f" (code {code})" if code is not None else ""
    raise MinerError("miner_error", f"The miner answered with an error: {message}{suffix}.")


def parse_version(text: str) -> tuple[str, str, str]:
    """(miner, version, algorithm) from [0]: "15.0 - ETH" is Claymore, "PM 6.2c - ETH" is
    PhoenixMiner, "ethminer-0.18.0+commit.70c7cdbe" is ethminer; other clones say their name."""
    text = text.strip()
    algorithm = ""
    coin = re.fullmatch(r"(.*?)\s+-\s+([A-Za-z0-9]+)", text)
    if coin:
        text = coin.group(1).strip()
        algorithm = COIN_ALGORITHMS.get(coin.group(2).upper(), "")
    if m := re.fullmatch(r"PM\s+v?(\S+)", text):
        return "PhoenixMiner", m.group(1), algorithm
    if re.fullmatch(r"v?\d[\w.]*", text):
        return "Claymore", text.lstrip("v"), algorithm
    if m := re.fullmatch(r"([A-Za-z][A-Za-z0-9_ ]*?)[\s-]+v?(\d\S*)", text):
        return m.group(1), m.group(2), algorithm
    return text, "", algorithm


def _split(field: str) -> list[str]:
    return field.split(";") if field.strip() else []


def _khs(value) -> float | None:
    khs = number(value)
    return None if khs is None else khs * 1000.0


def _is_off(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == OFF


def parse_getstat(result) -> RigReading:
    """The `result` array of miner_getstat1 (9 fields) or miner_getstat2 (16 or more)."""
    if not isinstance(result, list):
        raise bad_answer(f"`result` is {type(result).__name__}, expected an array of strings")
    if len(result) < GETSTAT1_FIELDS:
        raise bad_answer(f"`result` has {len(result)} fields, expected at least 9")
    fields = []
    for value in result:
        if isinstance(value, str):
            fields.append(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            fields.append(str(value))  # some clones send bare numbers
        else:
            raise bad_answer(f"a `result` field is {type(value).__name__}, expected a string")

    miner, version, algorithm = parse_version(fields[0])
    minutes = integer(fields[1])
    totals = _split(fields[2])
    per_gpu_khs = _split(fields[3])
    temps_fans = _split(fields[6])
    temps, fans = temps_fans[0::2], temps_fans[1::2]
    invalid_and_switches = _split(fields[8])
    extra = [_split(f) for f in fields[9:16]]
    accepted, rejected, invalid = [*extra, [], [], []][:3]
    buses = extra[6] if len(extra) > 6 else []

    count = max(len(per_gpu_khs), len(temps), len(fans), len(accepted), len(rejected), len(buses))
    gpus = [
        GpuReading(
            index=i,
            pci_bus=integer(at(buses, i)),  # decimal, as Hive OS reads it into bus_numbers
            hashrate_hs=0.0 if _is_off(at(per_gpu_khs, i)) else _khs(at(per_gpu_khs, i)),
            off=_is_off(at(per_gpu_khs, i)),
            temperature_c=number(at(temps, i)),
            fan_pct=number(at(fans, i)),
            shares_accepted=integer(at(accepted, i)),
            shares_rejected=integer(at(rejected, i)),
            shares_invalid=integer(at(invalid, i)),
        )
        for i in range(count)
    ]
    return RigReading(
        miner=miner,
        version=version,
        algorithm=algorithm,
        pool_url=fields[7].split(";")[0].strip(),  # dual mining lists the second pool after ";"
        uptime_s=None if minutes is None else minutes * 60,
        hashrate_hs=_khs(at(totals, 0)),
        shares_accepted=integer(at(totals, 1)),
        shares_rejected=integer(at(totals, 2)),
        shares_invalid=integer(at(invalid_and_switches, 0)),
        gpus=gpus,
    )


def stat_result(answer, *, tolerate_unknown: bool):
    """The `result` of a getstat answer. Raises MinerError for auth or miner errors; returns None
    when `tolerate_unknown` and the miner signals that it doesn't know the method (an error
    object or a null result), so the caller can fall back to miner_getstat1."""
    if not isinstance(answer, dict):
        raise bad_answer(f"a JSON {type(answer).__name__} instead of a JSON-RPC object")
    error = rpc_error(answer)
    if error is not None:
        code, message = error
        if tolerate_unknown and not is_auth_error(code, message):
            return None
        raise_rpc_error(code, message)
    if "result" not in answer:
        raise bad_answer("a JSON-RPC object without `result`")
    result = answer["result"]
    if result is None:
        if tolerate_unknown:
            return None
        raise bad_answer("`result` is null")
    return result


async def call(endpoint, method: str):
    raw = await tcp_exchange(endpoint, request(method, endpoint.password))
    if endpoint.password and not raw.strip(b"\x00\r\n\t "):
        # Claymore drops a connection whose "psw" doesn't match instead of answering.
        raise MinerError(
            "auth", "The miner closed the connection without answering: wrong API password?"
        )
    return decode(raw)


async def fetch(endpoint, http=None) -> RigReading:
    result = stat_result(await call(endpoint, "miner_getstat2"), tolerate_unknown=True)
    if result is None:
        result = stat_result(await call(endpoint, "miner_getstat1"), tolerate_unknown=False)
    # A 9-field answer to getstat2 is getstat1 data already; parse_getstat reads either.
    return parse_getstat(result)
