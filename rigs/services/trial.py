"""Trying a miner's API once before a rig is saved, so the owner sees what the miner answers (or
why it does not) instead of a silent first poll failure later."""

import asyncio
from dataclasses import dataclass, field

from rigs import formats, limits
from rigs.formats import MinerError, RigReading
from rigs.models import Rig
from rigs.services import polling
from rigs.services.polling import endpoint_for, fetch_all


@dataclass(frozen=True)
class DeviceFound:
    index: int
    kind: str  # "gpu" or "cpu" (rigs.models.Gpu.Kind): xmrig's cpu backend is a device too
    name: str
    pci_bus: int | None
    hashrate_hs: float | None
    temperature_c: float | None


@dataclass(frozen=True)
class Trial:
    """What one poll of the address found: the miner and its devices, or the error's kind (a
    MinerError kind: dns, refused, timeout, auth, bad_answer, forbidden_address, ...) and the
    message the rig page would show."""

    protocol: str
    host: str
    port: int
    miner: str = ""
    version: str = ""
    algorithm: str = ""
    pool_url: str = ""
    uptime_s: int | None = None
    # The miner's own total where it gives one, else the sum of its devices.
    hashrate_hs: float | None = None
    devices: list[DeviceFound] = field(default_factory=list)
    error_kind: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error_kind

    def summary(self) -> str:
        """One line for a message: what answered, or why nothing did."""
        if not self.ok:
            return f"{self.error} ({self.error_kind})"
        miner = " ".join(filter(None, [self.miner, self.version])) or "The miner"
        count = len(self.devices)
        return f"{miner} answered with {count} device{'s' if count != 1 else ''}"


def try_rig(protocol, host, port=None, password="") -> Trial:
    """Polls the miner at `host`:`port` (blank port: the protocol's default) once, the way the
    poller does (the outbound policy, the same deadline and error kinds), and stores nothing.
    The address must already have passed the rig's field validators."""
    if protocol not in formats.PROTOCOLS:
        error = MinerError("bad_answer", f"Unknown miner protocol {protocol!r}.")
        return Trial(protocol, host, port or 0, error_kind=error.kind, error=str(error))
    endpoint = endpoint_for(Rig(protocol=protocol, host=host, port=port, api_password=password))
    [result] = asyncio.run(fetch_all([endpoint], concurrency=1))
    where = {"protocol": protocol, "host": endpoint.host, "port": endpoint.port}
    if isinstance(result, MinerError):
        return Trial(**where, error_kind=result.kind, error=str(result))
    if len(result.gpus) > limits.DEVICES_MAX:
        error = MinerError("bad_answer", polling.too_many_devices(result))
        return Trial(**where, error_kind=error.kind, error=str(error))
    # What the poller would store: figures outside their limits are no reading (rigs.limits).
    return _found(where, limits.drop_out_of_range(result))


def _found(where, reading: RigReading) -> Trial:
    devices = [
        DeviceFound(
            index=g.index,
            kind=g.kind,
            name=g.name,
            pci_bus=g.pci_bus,
            hashrate_hs=g.hashrate_hs,
            temperature_c=g.temperature_c,
        )
        for g in reading.gpus
    ]
    rates = [d.hashrate_hs for d in devices if d.hashrate_hs is not None]
    total = (
        reading.hashrate_hs
        if reading.hashrate_hs is not None
        else (limits.finite_or_none(sum(rates)) if rates else None)
    )
    return Trial(
        **where,
        miner=reading.miner,
        version=reading.version,
        algorithm=reading.algorithm,
        pool_url=reading.pool_url,
        uptime_s=reading.uptime_s,
        hashrate_hs=total,
        devices=devices,
    )
