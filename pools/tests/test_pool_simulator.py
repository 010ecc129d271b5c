"""The pool simulator against the real adapters and the real json_getter: every format's account
comes through in the dashboard's units, unknown logins and faults map to the right PoolError, and
the rate limit is enforced by the server and honoured by a client using a matching RateLimiter."""

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio

from pools.formats import (
    PoolEndpoint,
    PoolError,
    ethermine,
    miningcore,
    nanopool,
    open_ethereum_pool,
)
from pools.services.http import RateLimiter, json_getter
from simulators.pools import FORMATS, make_logins, start_pool_server, stop_pool_server

ADAPTERS = {
    "open-ethereum-pool": open_ethereum_pool,
    "miningcore": miningcore,
    "ethermine-v1": ethermine,
    "nanopool-v1": nanopool,
}
LOGIN, OTHER = make_logins(2, seed=42)
UNKNOWN = "0x" + "ab" * 20
PAYOUTS = [
    ("0x" + "1f" * 32, 1_234_567_890 * 10**9, 1_763_000_000),
    ("0x" + "2e" * 32, 1_000_000_000 * 10**9, 1_762_000_000),
    ("0x" + "3d" * 32, 512_345_678 * 10**9, 1_761_000_000),
]
ACCOUNTS = {
    LOGIN: {"workers": 3, "offline": 1, "hashrate_hs": 300e6, "payouts": PAYOUTS},
    OTHER: {"workers": 2},
}


async def fast_sleep(_seconds):
    await asyncio.sleep(0)


class Pool:
    """One running simulator and a client on it, as the poller would build them."""

    def __init__(self, server, client, fmt):
        self.server, self.client, self.format = server, client, fmt
        self.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    def getter(self, limiter=None, **options):
        limiter = limiter or RateLimiter(100, 1.0)
        return json_getter(self.client, self.base_url, limiter, sleep=fast_sleep, **options)

    async def fetch(self, login=LOGIN, get_json=None):
        endpoint = PoolEndpoint(self.format, self.base_url, login, "ETC", 18, "etc1")
        return await ADAPTERS[self.format].fetch_account(get_json or self.getter(), endpoint)


@pytest_asyncio.fixture
async def pool_of():
    servers = []
    async with httpx.AsyncClient() as client:

        async def start(fmt, **options):
            options.setdefault("accounts", ACCOUNTS)
            server = await start_pool_server(fmt, **options)
            servers.append(server)
            return Pool(server, client, fmt)

        yield start
        for server in servers:
            await stop_pool_server(server)


@pytest.mark.asyncio
@pytest.mark.parametrize("fmt", FORMATS)
async def test_account_through_the_real_adapter(pool_of, fmt):
    pool = await pool_of(fmt)
    before = datetime.now(UTC)
    snap = await pool.fetch()

    # ~300 MH/s over two online rigs, in H/s whatever the pool's unit.
    assert 250e6 < snap.current_hashrate_hs < 350e6
    # The long window still holds some of the stopped rig's work.
    assert snap.average_hashrate_hs is None or 250e6 < snap.average_hashrate_hs < 600e6
    names = [w.name for w in snap.workers]
    assert names == ["rig01", "rig02", "rig03"]
    online = {w.name: w.online for w in snap.workers}
    assert online == {"rig01": True, "rig02": True, "rig03": False}
    assert (snap.workers_online, snap.workers_offline) == (2, 1)
    for w in snap.workers[:2]:
        assert 50e6 < w.current_hashrate_hs < 300e6
    assert snap.workers[2].current_hashrate_hs == 0

    # Payouts exactly as given, in wei, at UTC times, newest first.
    got = sorted(((p.tx_hash, p.amount, p.paid_at) for p in snap.payouts), key=lambda p: p[2])
    want = [(tx, amount, datetime.fromtimestamp(ts, UTC)) for tx, amount, ts in PAYOUTS]
    assert got == sorted(want, key=lambda p: p[2])
    assert all(p.paid_at.tzinfo is not None and p.paid_at < before for p in snap.payouts)
    assert isinstance(snap.unpaid, int) and 0 <= snap.unpaid < 2 * 10**18
    if fmt != "miningcore":  # Miningcore's miner stats have no last-share time
        assert snap.last_share_at.tzinfo == UTC
        assert (before - snap.last_share_at).total_seconds() < 300
    if fmt in ("open-ethereum-pool", "miningcore"):
        assert snap.paid_total == sum(amount for _, amount, _ in PAYOUTS)
    assert pool.server.stats.served >= 1 and pool.server.stats.rate_limited == 0


@pytest.mark.asyncio
async def test_generated_accounts_are_plausible_and_deterministic(pool_of):
    first = await pool_of("open-ethereum-pool", accounts={OTHER: {}})
    second = await pool_of("open-ethereum-pool", accounts={OTHER: {}})
    a, b = await first.fetch(OTHER), await second.fetch(OTHER)
    assert [p.tx_hash for p in a.payouts] == [p.tx_hash for p in b.payouts]
    assert a.payouts and all(len(p.tx_hash) == 66 for p in a.payouts)
    assert all(100e6 * 0.8 < w.current_hashrate_hs < 800e6 * 1.2 for w in a.workers)


@pytest.mark.asyncio
@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_wallet_without_shares_is_no_data(pool_of, fmt):
    pool = await pool_of(fmt)
    with pytest.raises(PoolError) as caught:
        await pool.fetch(UNKNOWN)
    assert caught.value.kind == "no_data"


@pytest.mark.asyncio
async def test_miningcore_no_content_is_no_data(pool_of):
    pool = await pool_of("miningcore")
    pool.server.pool.unknown_miningcore = "no-content"
    with pytest.raises(PoolError) as caught:
        await pool.fetch(UNKNOWN)
    assert caught.value.kind == "no_data"


@pytest.mark.asyncio
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("fault", "kind"),
    [("down", "refused"), ("html", "http_status"), ("http500", "http_status"),
     ("garbage", "bad_answer")],
)  # fmt: skip
async def test_fault_maps_to_pool_error(pool_of, fmt, fault, kind):
    pool = await pool_of(fmt, fault=fault)
    with pytest.raises(PoolError) as caught:
        await pool.fetch()
    assert caught.value.kind == kind
    if fault in ("html", "http500"):
        assert caught.value.status == (502 if fault == "html" else 500)
        assert pool.server.stats.served == 3  # retried, then given up
    assert pool.server.stats.faults >= 1


@pytest.mark.asyncio
async def test_slow_pool_times_out(pool_of):
    slow = await pool_of("nanopool-v1", fault="slow", slow_s=15.0)
    started = time.monotonic()
    # The poller's client carries the timeout (outbound.DEFAULT_TIMEOUT); a short one here.
    async with httpx.AsyncClient(timeout=0.2) as client:
        pool = Pool(slow.server, client, slow.format)
        with pytest.raises(PoolError) as caught:
            await pool.fetch(get_json=pool.getter(attempts=1))
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 2


@pytest.mark.asyncio
async def test_burst_beyond_the_limit_gets_429(pool_of):
    pool = await pool_of("miningcore", rate_limit=(5, 1.0))
    path = f"/api/pools/etc1/miners/{LOGIN}"
    answers = await asyncio.gather(*(pool.client.get(pool.base_url + path) for _ in range(12)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 5 + [429] * 7
    limited = next(r for r in answers if r.status_code == 429)
    assert limited.headers["Retry-After"] == "1"
    stats = pool.server.stats
    assert (stats.requests, stats.served, stats.rate_limited) == (12, 5, 7)

    # Through json_getter a 429 is a rate_limited PoolError carrying Retry-After.
    with pytest.raises(PoolError) as caught:
        await pool.fetch(get_json=pool.getter(attempts=1))
    assert caught.value.kind == "rate_limited" and caught.value.retry_after_s == 1.0


@pytest.mark.asyncio
async def test_client_at_the_limit_gets_no_429(pool_of):
    pool = await pool_of("ethermine-v1", rate_limit=(10, 0.5))
    limiter = RateLimiter(10, 0.5)
    get_json = json_getter(pool.client, pool.base_url, limiter)  # real sleeps: real spacing
    started = time.monotonic()
    for _ in range(6):  # 3 requests each: 18 requests, 1.8 windows
        snap = await pool.fetch(get_json=get_json)
        assert snap.workers_online == 2
    assert time.monotonic() - started > 0.8
    stats = pool.server.stats
    assert (stats.served, stats.rate_limited) == (18, 0)
    assert stats.max_in_window <= 10
