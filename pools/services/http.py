"""Talking to one pool host politely: its rate limit, timeouts, bounded retries with backoff,
Retry-After honoured, and every failure turned into a PoolError the account page can show."""

import asyncio
import json
import time
from decimal import Decimal
from urllib.parse import urlsplit

from ethdash import outbound
from pools.formats import PoolError

ATTEMPTS = outbound.ATTEMPTS
BACKOFF_S = 1.0


class RateLimiter:
    """At most `requests` per `window_s` for one host: requests are spaced evenly (a 10-per-
    second pool gets one every 100 ms) rather than in bursts, which is what pools' per-IP limits
    are measured against. A 429's Retry-After pushes every later request back."""

    # Exactly at the limit, scheduling jitter lets a sliding window see one request too many
    # (bench/pools.py counted 153 429s, then 12 at 3 % slower).
    MARGIN = 1.06

    def __init__(self, requests, window_s, *, clock=time.monotonic, sleep=asyncio.sleep):
        self.interval = window_s / max(requests, 1) * self.MARGIN
        self.clock = clock
        self.sleep = sleep
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def acquire(self):
        # The next slot counts from when this request was actually released, not from the
        # schedule: on a busy loop a late wake-up followed at once by the next request would be
        # a burst the pool's sliding window counts (bench/pools.py saw 153 such 429s).
        async with self.lock:
            wait = self.next_at - self.clock()
            if wait > 0:
                await self.sleep(wait)
            self.next_at = self.clock() + self.interval

    def pause(self, seconds):
        self.next_at = max(self.next_at, self.clock() + seconds)


def json_getter(client, base_url, limiter, *, attempts=ATTEMPTS, backoff_s=BACKOFF_S, sleep=None):
    """The `get_json(path, params=None)` a pool format uses: every call waits its turn at the
    limiter and goes through the outbound retry policy (timeouts, refused connections, 429, 5xx;
    at most `attempts` tries)."""
    sleep = sleep or asyncio.sleep
    host = urlsplit(base_url).hostname or base_url

    async def get_json(path, params=None):
        url = base_url.rstrip("/") + path
        policy = outbound.retrying(attempts=attempts, backoff_s=backoff_s, sleep=sleep)
        async for attempt in policy:
            with attempt:
                await limiter.acquire()
                return _decoded(await _get(client, url, params, host, limiter))
        raise AssertionError("unreachable")  # pragma: no cover: retrying() re-raises

    return get_json


async def _get(client, url, params, host, limiter):
    try:
        response = await outbound.send(client, "GET", url, params=params)
    except outbound.OutboundError as exc:
        raise PoolError.from_outbound(exc, _POOL_SAYS.get(exc.kind)) from None
    status = response.status_code
    if status == 204:
        # Miningcore answers a miner it holds no stats for with an empty 204.
        raise PoolError("no_data", "The pool has no data for this wallet yet.", status=204)
    if status == 404:
        # Which 404 means "no data for this wallet" is the format's to say (open-ethereum-pool's
        # is; Miningcore's is an unknown pool id), so the body goes along for it to read.
        error = PoolError("not_found", "The pool answered 404 (not found).", status=404)
        error.body = response.content[:500]
        raise error
    if status != 200:
        error = outbound.status_error(response, host)
        if error.kind == "rate_limited":
            # Every later request of this pool waits it out too, not only this one.
            limiter.pause(error.retry_after_s)
            raise PoolError.from_outbound(
                error,
                f"The pool asked to slow down (429, retry after {error.retry_after_s:g} s).",
            )
        raise PoolError.from_outbound(error, f"The pool answered HTTP {status}.")
    return response


def _decoded(response):
    try:
        # Decimal, not float: pools send amounts like 0.123456789012345678 coin, which a float
        # would round before they become wei.
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        kind = "an HTML page" if b"<html" in response.content[:500].lower() else "no JSON"
        raise PoolError("bad_answer", f"The pool answered {kind} instead of JSON.") from None


_POOL_SAYS = {
    "timeout": f"The pool did not answer within {outbound.DEFAULT_TIMEOUT.read:g} s.",
    "refused": "Cannot reach the pool (connection refused or dropped).",
}
