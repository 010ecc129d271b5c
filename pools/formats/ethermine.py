"""bitfly's Ethermine / Flypool API v1 (`https://api-etc.ethermine.org`, Flypool hosts alike).

Every answer is an envelope `{"status": "OK", "data": ...}`. An unknown miner comes back as
`"status": "OK"` with `"data": "NO DATA"`, other failures as `{"status": "ERROR", "error": ...}`.
The miner address goes into the path without its "0x". Hashrates are H/s, money is an integer in
the coin's base unit (wei for ETC), times are unix seconds.

Sources: stylesuxx/python-ethermine tests (field names and types), the ethermine_api gem docs
(limits, caching), rodneymo/rig-monitor pool-monitor.sh (the "NO DATA" answer).
"""

import re
from datetime import datetime

from pools.formats.base import (
    AccountSnapshot,
    PayoutRecord,
    PoolEndpoint,
    PoolError,
    PoolStats,
    WorkerSnapshot,
    bad_answer,
    get_json_or,
    newest_first,
    online_counts,
    path_segment,
    unique_payouts,
    unwrap_list,
)
from pools.formats.values import (
    lenient_number,
    text,
    to_base_units,
    tx_hash,
    unix_time,
    worker_online,
)

FORMAT = "ethermine-v1"
# The API allows 100 requests per 15 minutes per IP and caches everything for 2 minutes. A poll
# costs 3 requests (currentStats, workers, payouts); every 180 s that is 15 requests per account
# per 15 minutes, so one IP can follow 6 accounts (90 of 100) with room for a retry or two.
# Polling at the 120 s cache period would already cut that to 4 accounts for little gain.
DEFAULT_INTERVAL_S = 180
RATE_LIMIT = (100, 900.0)

_HEX_ADDRESS = re.compile(r"^(0x)?([0-9a-fA-F]{40})$")
# "NO DATA" (and a not-found error) is what the pool says of an address it has no shares of:
# a wallet waiting for its first shares. An address it calls invalid will never have any.
_NO_DATA = re.compile(r"no data|not found|unknown", re.I)
_INVALID_MINER = re.compile(r"invalid (miner|address|wallet)", re.I)


# -- values -----------------------------------------------------------------------------------


def _integer(value) -> int | None:
    # Exact, so that wei amounts sent as strings (above 2**53) stay exact.
    return to_base_units(value, 0)


def miner_id(login: str) -> str:
    """The address as the path wants it: no "0x"; other coins' addresses are left as they are."""
    login = login.strip()
    match = _HEX_ADDRESS.match(login)
    # Hex addresses are case-insensitive, base58 ones (Flypool ZEC/RVN) are not.
    return match.group(2).lower() if match else path_segment(login)


# -- envelope ---------------------------------------------------------------------------------


def unwrap(answer, what: str):
    """The `data` of an OK envelope; PoolError otherwise."""
    if not isinstance(answer, dict):
        raise bad_answer(f"{what} is {type(answer).__name__}, not an object")
    status = answer.get("status")
    data = answer.get("data")
    if status == "OK":
        if isinstance(data, str) and data.strip().upper() == "NO DATA":
            raise PoolError("no_data", "The pool has no data for this miner address yet")
        if data is None:
            raise bad_answer(f"{what} has no data")
        return data
    error = text(answer.get("error")) or text(data) or f"status {status!r}"
    if _INVALID_MINER.search(error):
        raise PoolError("not_found", f"The pool refuses this miner address: {error}")
    if _NO_DATA.search(error):
        raise PoolError("no_data", f"The pool has no data for this miner yet: {error}")
    raise bad_answer(f"{what}: {error}")


# -- parsers ----------------------------------------------------------------------------------


def parse_current_stats(answer) -> AccountSnapshot:
    """`/miner/{addr}/currentStats` → account totals (no workers or payouts yet)."""
    data = unwrap(answer, "currentStats")
    if not isinstance(data, dict):
        raise bad_answer(f"currentStats data is {type(data).__name__}, not an object")
    return AccountSnapshot(
        current_hashrate_hs=lenient_number(data.get("currentHashrate")),
        # Ethermine's averageHashrate is its 24-hour average.
        average_hashrate_hs=lenient_number(data.get("averageHashrate")),
        reported_hashrate_hs=lenient_number(data.get("reportedHashrate")),
        shares_valid=_integer(data.get("validShares")),
        shares_stale=_integer(data.get("staleShares")),
        shares_invalid=_integer(data.get("invalidShares")),
        workers_online=_integer(data.get("activeWorkers")),
        unpaid=_integer(data.get("unpaid")),
        # Credited from blocks that are not yet confirmed: the pool's immature balance.
        immature=_integer(data.get("unconfirmed")),
        last_share_at=unix_time(data.get("lastSeen")),
    )


def parse_worker(item, snapshot_time: datetime | None) -> WorkerSnapshot:
    if not isinstance(item, dict):
        raise bad_answer(f"worker entry is {type(item).__name__}, not an object")
    # Judge against the pool's own clock (the record's time), so a slow poll or a skewed local
    # clock does not flip workers offline.
    reference = unix_time(item.get("time")) or snapshot_time
    return WorkerSnapshot(
        name=text(item.get("worker")),
        current_hashrate_hs=lenient_number(item.get("currentHashrate")),
        average_hashrate_hs=lenient_number(item.get("averageHashrate")),
        reported_hashrate_hs=lenient_number(item.get("reportedHashrate")),
        last_share_at=unix_time(item.get("lastSeen")),
        online=worker_online(item.get("lastSeen"), reference),
        shares_valid=_integer(item.get("validShares")),
        shares_stale=_integer(item.get("staleShares")),
        shares_invalid=_integer(item.get("invalidShares")),
    )


def parse_workers(answer, snapshot_time: datetime | None = None) -> list[WorkerSnapshot]:
    """`/miner/{addr}/workers` → workers sorted by name."""
    # Asked only once currentStats has shown that the miner exists, so "NO DATA" here just means
    # no workers yet.
    items = unwrap_list(unwrap, answer, "workers")
    workers = [parse_worker(item, snapshot_time) for item in items]
    return sorted(workers, key=lambda worker: worker.name)


def parse_payouts(answer, coin: str = "ETC") -> list[PayoutRecord]:
    """`/miner/{addr}/payouts` → payouts, newest first, each transaction once."""
    payouts = []
    for item in unwrap_list(unwrap, answer, "payouts"):
        if not isinstance(item, dict):
            raise bad_answer(f"payout entry is {type(item).__name__}, not an object")
        paid_at = unix_time(item.get("paidOn"))
        amount = _integer(item.get("amount"))
        # A payout without a time or an amount cannot be shown or summed; skip just that one.
        if paid_at is None or amount is None:
            continue
        payouts.append(
            PayoutRecord(tx_hash=tx_hash(item.get("txHash"), coin), amount=amount, paid_at=paid_at)
        )
    return newest_first(unique_payouts(payouts))


def parse_account(current, workers, payouts, coin: str = "ETC") -> AccountSnapshot:
    """The three answers of one poll → one AccountSnapshot."""
    snapshot = parse_current_stats(current)
    data = current["data"]
    snapshot.workers = parse_workers(workers, unix_time(data.get("time")))
    snapshot.payouts = parse_payouts(payouts, coin)
    online, offline = online_counts(snapshot.workers)
    if online is not None:  # else currentStats' own activeWorkers stays
        snapshot.workers_online, snapshot.workers_offline = online, offline
    # paid_total stays unknown: the payouts list is capped, so its sum is not the lifetime total.
    return snapshot


async def fetch_account(get_json, endpoint: PoolEndpoint) -> AccountSnapshot:
    miner = miner_id(endpoint.login)
    current = await get_json(f"/miner/{miner}/currentStats")
    # Fail before spending two more requests of a tight budget on a miner the pool does not know.
    parse_current_stats(current)
    empty = {"status": "OK", "data": []}
    workers = await get_json_or(get_json, f"/miner/{miner}/workers", empty)
    payouts = await get_json_or(get_json, f"/miner/{miner}/payouts", empty)
    return parse_account(current, workers, payouts, endpoint.coin)


# -- pool-wide statistics ----------------------------------------------------------------------


async def fetch_pool_stats(get_json, endpoint: PoolEndpoint) -> PoolStats:
    return parse_pool_stats(await get_json("/poolStats"))


def parse_pool_stats(answer) -> PoolStats:
    """`/poolStats`: `poolStats{hashRate (H/s), miners, workers}` and `minedBlocks[{number,
    miner, time}]`, the pool's latest blocks. Deliberately not kept: `price` (not a pool figure)
    and `topMiners` (other people's wallets). Network figures are on `/networkStats`, a second
    request of a 100-per-15-minutes budget that the accounts need more."""
    data = unwrap(answer, "poolStats")
    if not isinstance(data, dict) or not isinstance(data.get("poolStats"), dict):
        raise bad_answer("not an Ethermine /poolStats answer (no poolStats object)")
    stats = data["poolStats"]
    blocks = data.get("minedBlocks") or []
    if not isinstance(blocks, list):
        raise bad_answer("minedBlocks is not a list")
    # Of each block only `time` is kept, as the pool's last block time. `number` is not: the
    # list is only the latest few blocks (a height can appear twice, a block and an uncle, as in
    # the gem docs' sample), so it is neither a count of the pool's blocks nor a block list this
    # format could keep complete. `miner` is another wallet's address, not ours to store.
    times = [unix_time(b.get("time")) for b in blocks if isinstance(b, dict)]
    return PoolStats(
        pool_hashrate_hs=lenient_number(stats.get("hashRate")),
        miners=_integer(stats.get("miners")),
        workers=_integer(stats.get("workers")),
        last_block_at=max((t for t in times if t), default=None),
    )
