"""Registry of pool API formats: FORMATS maps a Pool.ApiFormat value to its module."""

import importlib

from pools.formats.base import (
    AccountSnapshot,
    BlockRecord,
    PayoutRecord,
    PoolEndpoint,
    PoolError,
    PoolStats,
    WorkerSnapshot,
)

MODULES = ("open_ethereum_pool", "miningcore", "ethermine", "nanopool")


FORMATS = {
    module.FORMAT: module
    for module in (importlib.import_module(f"pools.formats.{name}") for name in MODULES)
}

__all__ = [
    "FORMATS",
    "AccountSnapshot",
    "BlockRecord",
    "PayoutRecord",
    "PoolEndpoint",
    "PoolError",
    "PoolStats",
    "WorkerSnapshot",
]
