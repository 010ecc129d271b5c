"""Trying an account, or a pool's address, once before it is saved, so the user sees what the
pool answers (or why it does not) instead of a silent first poll failure later."""

import asyncio

from ethdash import outbound
from pools.formats import FORMATS, PoolError
from pools.formats.base import SAVEABLE_KINDS
from pools.services.http import RateLimiter, json_getter
from pools.services.polling import endpoint_for


def _once(pool, fetch, *, transport=None):
    """(result, None) or (None, PoolError) for one `fetch(module, get_json)` against `pool` (a
    Pool, saved or not), with the pool's own limits and the outbound policy, as a poll would."""
    module = FORMATS[pool.api_format]
    requests, window = (
        (pool.rate_limit_requests, pool.rate_limit_window_s)
        if pool.rate_limit_requests and pool.rate_limit_window_s
        else module.RATE_LIMIT
    )

    async def run():
        async with outbound.async_client(transport=transport) as client:
            get_json = json_getter(client, pool.base_url, RateLimiter(requests, window), attempts=1)
            return await fetch(module, get_json)

    try:
        return asyncio.run(run()), None
    except PoolError as error:
        return None, error


def try_account(pool, login, *, transport=None):
    """(AccountSnapshot, None) or (None, PoolError) for one fetch of `login` on `pool`."""
    endpoint = endpoint_for(pool, login)
    return _once(pool, lambda module, get_json: module.fetch_account(get_json, endpoint),
                 transport=transport)  # fmt: skip


def try_pool(pool, *, transport=None):
    """(PoolStats, None) or (None, PoolError): the test of a pool's address and format before it
    is saved. The pool-wide statistics are asked, which every format serves at a path of its own
    and in a shape of its own, so an answer that parses says the address runs that format."""
    endpoint = endpoint_for(pool)
    return _once(pool, lambda module, get_json: module.fetch_pool_stats(get_json, endpoint),
                 transport=transport)  # fmt: skip


def trial_context(snapshot, error):
    """What the add page shows of a trial: the snapshot, or the error with whether the account
    may still be saved. A wallet the pool has no data for is waiting for its first shares; a pool
    briefly down (5xx, 429, a timeout) says nothing about the account. Both may be saved with
    the warning shown; an answer that can never work (a refused address, an unknown pool id, an
    answer not in the format) may not."""
    return {
        "tried": True,
        "snapshot": snapshot,
        "error": error,
        "waiting": error is not None and error.kind == "no_data",
        "can_save": error is None or error.kind in SAVEABLE_KINDS,
    }
