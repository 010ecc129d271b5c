"""The sgminer/cgminer-style API of TeamRedMiner (--api_listen, default port 4028).

One JSON request per connection, `{"command":"summary+devs"}`; the miner answers and closes,
the answer ending in a NUL byte. cgminer and sgminer's api.c wrap each command of a joined
request in a one-element list (`{"summary":[{STATUS,SUMMARY,id}],"devs":[...],"id":1}`), while
sgminer's API.md and the TeamRedMiner readers in Hive OS (`.summary.SUMMARY[0]`) use a bare
object; both are read. Hashrates are "KHS ..." in kH/s (TeamRedMiner's window is 30 s),
`Elapsed` is in seconds. A STATUS of "E" or "F" is the miner refusing the command.

Rig-level totals kept: SUMMARY's hashrate, `Accepted`, `Rejected`, `Stale` and `Hardware Errors`
(stored as invalid). Deliberately ignored: the `Difficulty *` sums, `Utility`, `Work Utility`,
`Discarded`, `Getworks` and the percentages (derived from the counts we keep), and DEVS'
`Enabled`/`Status` (cgminer's device flags), which we do not read as "off" because we could not
confirm what TeamRedMiner reports in them.
"""

import re

from rigs.formats import claymore
from rigs.formats.base import GpuReading, MinerError, RigReading, bad_answer
from rigs.formats.transport import tcp_exchange
from rigs.formats.values import integer, number, own_index

PROTOCOL = "sgminer"
DEFAULT_PORT = 4028

REQUEST = b'{"command":"summary+devs"}\n'
ACCESS_DENIED = 45  # cgminer's MSG_ACCDENY: --api-allow doesn't admit us for this command
ROLLING = re.compile(r"[KMG]HS \d+s")
SCALE = {"K": 1e3, "M": 1e6, "G": 1e9}


def _section(answer: dict, name: str) -> dict:
    if name not in answer:
        raise bad_answer(f"no `{name}` section in the summary+devs answer")
    section = answer[name]
    if isinstance(section, list) and len(section) == 1:
        section = section[0]
    if not isinstance(section, dict):
        raise bad_answer(f"the `{name}` section is not an object")
    return section


def check_status(reply: dict, what: str) -> dict:
    """STATUS[0] of one command's reply; raises MinerError when it reports an error."""
    statuses = reply.get("STATUS")
    status = statuses[0] if isinstance(statuses, list) and statuses else statuses
    if not isinstance(status, dict):
        raise bad_answer(f"no STATUS in the {what} reply")
    if status.get("STATUS") in ("E", "F"):
        message = str(status.get("Msg") or "error")
        code = integer(status.get("Code"))
        if code == ACCESS_DENIED:
            raise MinerError("auth", f"The miner's API refused access ({message}).")
        raise MinerError("miner_error", f"The miner answered with an error: {message}.")
    return status


def _hashrate(record: dict) -> float | None:
    """H/s from the rolling window ("KHS 30s" in TeamRedMiner; cgminer names it after --log,
    e.g. "MHS 5s"), else from the session average. The smallest unit first: TeamRedMiner sends
    both "KHS 30s" and "MHS 30s", the latter rounded to two decimals."""
    keys = sorted((k for k in record if ROLLING.fullmatch(k)), key=lambda k: SCALE[k[0]])
    keys += [k for k in ("KHS av", "MHS av", "GHS av") if k in record]
    for key in keys:
        value = number(record[key])
        if value is not None:
            return value * SCALE[key[0]]
    return None


def parse_version(description) -> tuple[str, str]:
    """ "TeamRedMiner 0.10.8" -> ("TeamRedMiner", "0.10.8")."""
    text = str(description or "").strip()
    match = re.fullmatch(r"(.+?)[\s-]+v?(\d[\w.+-]*)", text)
    return (match.group(1), match.group(2)) if match else (text, "")


def parse_device(position: int, device, vendor: str) -> GpuReading:
    if not isinstance(device, dict):
        raise bad_answer(f"device {position} is {type(device).__name__}, expected an object")
    return GpuReading(
        index=own_index(position, device.get("GPU")),
        vendor=vendor,
        hashrate_hs=_hashrate(device),
        temperature_c=number(device.get("Temperature")),
        memory_temperature_c=number(device.get("TemperatureMem")),
        fan_pct=number(device.get("Fan Percent")),
        power_w=number(device.get("GPU Power")),
        shares_accepted=integer(device.get("Accepted")),
        shares_rejected=integer(device.get("Rejected")),
        shares_invalid=integer(device.get("Hardware Errors")),
    )


def parse_summary_devs(answer) -> RigReading:
    """The decoded answer to `{"command":"summary+devs"}`."""
    if not isinstance(answer, dict):
        raise bad_answer(f"a JSON {type(answer).__name__} instead of an object")
    if "summary" not in answer and "STATUS" in answer:
        check_status(answer, "summary+devs")  # a refused request comes back unjoined
    summary_reply, devs_reply = _section(answer, "summary"), _section(answer, "devs")
    status = check_status(summary_reply, "summary")
    check_status(devs_reply, "devs")
    summaries, devices = summary_reply.get("SUMMARY"), devs_reply.get("DEVS")
    if not isinstance(summaries, list) or not summaries or not isinstance(summaries[0], dict):
        raise bad_answer("no SUMMARY in the summary reply")
    if not isinstance(devices, list):
        raise bad_answer("no DEVS in the devs reply")
    summary = summaries[0]
    miner, version = parse_version(status.get("Description"))
    vendor = "AMD" if miner.lower() == "teamredminer" else ""  # TeamRedMiner drives AMD only
    return RigReading(
        miner=miner,
        version=version,
        uptime_s=integer(summary.get("Elapsed")),
        hashrate_hs=_hashrate(summary),
        shares_accepted=integer(summary.get("Accepted")),
        shares_rejected=integer(summary.get("Rejected")),
        shares_stale=integer(summary.get("Stale")),
        shares_invalid=integer(summary.get("Hardware Errors")),
        gpus=[parse_device(i, device, vendor) for i, device in enumerate(devices)],
    )


async def fetch(endpoint, http=None) -> RigReading:
    return parse_summary_devs(claymore.decode(await tcp_exchange(endpoint, REQUEST)))
