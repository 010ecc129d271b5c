"""The one small interface every miner protocol implements.

A protocol module (rigs/formats/<name>.py) defines:
    PROTOCOL: str             the registry key, e.g. "claymore"
    DEFAULT_PORT: int
    async def fetch(endpoint: MinerEndpoint, http: httpx.AsyncClient) -> RigReading
and pure `parse_*` functions that turn the miner's exact answer into a RigReading, tested field
by field against recorded answers in rigs/tests/fixtures/miners/. Units are converted here, at the
edge: hashrate in H/s, temperatures in °C, power in W, uptime in seconds.
"""

from dataclasses import dataclass, field

from ethdash.outbound import KINDS as OUTBOUND_KINDS
from ethdash.outbound import OutboundError


@dataclass(frozen=True)
class MinerEndpoint:
    protocol: str
    host: str
    port: int
    password: str = ""  # Claymore "psw", ethminer api_authorize, xmrig Bearer token
    timeout_s: float = 3.0


@dataclass
class GpuReading:
    """One device of the rig as the miner lists it: a GPU, or the CPU where the miner mines on it
    too (xmrig's cpu backend)."""

    index: int  # position in the miner's own list
    pci_bus: int | None = None  # PCI bus number (decimal), the identity kept across reorders
    name: str = ""
    vendor: str = ""
    memory_mb: int | None = None
    hashrate_hs: float | None = None
    temperature_c: float | None = None
    memory_temperature_c: float | None = None
    fan_pct: float | None = None
    power_w: float | None = None
    shares_accepted: int | None = None
    shares_rejected: int | None = None
    shares_stale: int | None = None
    shares_invalid: int | None = None
    kind: str = "gpu"  # "gpu" or "cpu" (rigs.models.Gpu.Kind)
    # The miner says the device is switched off (Claymore's "off", ethminer's paused): it is
    # stored at 0 H/s and makes the rig degraded, naming the device and `off_reason`.
    off: bool = False
    off_reason: str = ""
    # The algorithm this device mines when it is another than the rig's miner's (a Hive OS rig's
    # MINER2 xmrig on the CPU beside a GPU miner): shown with its own hashrate, left out of the
    # rig's sums, since H/s of two algorithms do not add up. "" for the rig's own algorithm.
    other_algorithm: str = ""


@dataclass
class RigReading:
    """A whole rig at one instant. The rig-level figures are the miner's own totals, None where
    the miner gives none; the store keeps them beside the per-device sums and falls back to
    those sums figure by figure."""

    miner: str = ""  # program, e.g. "PhoenixMiner"
    version: str = ""
    algorithm: str = ""
    pool_url: str = ""
    uptime_s: int | None = None
    hashrate_hs: float | None = None  # the miner's own total hashrate, H/s
    shares_accepted: int | None = None
    shares_rejected: int | None = None
    shares_stale: int | None = None
    shares_invalid: int | None = None
    gpus: list[GpuReading] = field(default_factory=list)


class MinerError(OutboundError):
    """A poll that failed; `kind` is a transport kind (ethdash.outbound.KINDS) or one of the
    miner's own (a wrong API password, an error the miner reports); str() is what the rig page
    shows."""

    KINDS = (*OUTBOUND_KINDS, "auth", "miner_error")


def bad_answer(what):
    return MinerError("bad_answer", f"Unexpected answer from the miner: {what}")


def require_object(value, what) -> dict:
    """`value` when it is a JSON object; otherwise the answer is unusable as a whole."""
    if not isinstance(value, dict):
        raise bad_answer(f"{what} is {type(value).__name__}, not an object")
    return value
