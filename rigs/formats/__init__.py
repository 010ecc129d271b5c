"""Registry of miner protocols: PROTOCOLS maps a protocol key to its module."""

import importlib

from rigs.formats.base import GpuReading, MinerEndpoint, MinerError, RigReading

MODULES = ("claymore", "ethminer", "sgminer", "trex", "lolminer", "xmrig", "gminer", "nbminer")
PROTOCOLS = {
    module.PROTOCOL: module
    for module in (importlib.import_module(f"rigs.formats.{name}") for name in MODULES)
}


async def fetch(endpoint, http):
    module = PROTOCOLS.get(endpoint.protocol)
    if module is None:
        raise MinerError("bad_answer", f"Unknown miner protocol {endpoint.protocol!r}.")
    return await module.fetch(endpoint, http)


__all__ = ["PROTOCOLS", "GpuReading", "MinerEndpoint", "MinerError", "RigReading", "fetch"]
