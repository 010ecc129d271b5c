"""Registry of pool API formats: FORMATS maps a Pool.ApiFormat value to its module."""

import importlib

from pools.adapters.base import (
    AccountSnapshot,
    BlockRecord,
    PayoutRecord,
    PoolEndpoint,
    PoolError,
    WorkerSnapshot,
)

MODULES = ("open_ethereum_pool", "miningcore", "ethermine", "nanopool")


def _load():
    formats = {}
    for name in MODULES:
        try:
            module = importlib.import_module(f"pools.adapters.{name}")
        except ModuleNotFoundError as exc:
            # Formats land one by one; a missing module is simply not offered yet.
            if exc.name != f"pools.adapters.{name}":
                raise
            continue
        formats[module.FORMAT] = module
    return formats


FORMATS = _load()

__all__ = [
    "FORMATS",
    "AccountSnapshot",
    "BlockRecord",
    "PayoutRecord",
    "PoolEndpoint",
    "PoolError",
    "WorkerSnapshot",
]
