"""bitfly's Ethermine / Flypool API v1 (`https://api-etc.ethermine.org`, Flypool hosts alike).

Every answer is an envelope `{"status": "OK", "data": ...}`. An unknown miner comes back as
`"status": "OK"` with `"data": "NO DATA"`, other failures as `{"status": "ERROR", "error": ...}`.
The miner address goes into the path without its "0x". Hashrates are H/s, money is an integer in
the coin's base unit (wei for ETC), times are unix seconds.

Sources: stylesuxx/python-ethermine tests (field names and types), the ethermine_api gem docs
(limits, caching), rodneymo/rig-monitor pool-monitor.sh (the "NO DATA" answer).
"""

import re
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from pools.formats.base import (
    AccountSnapshot,
    PayoutRecord,
    PoolEndpoint,
    PoolError,
    WorkerSnapshot,
    bad_answer,
)
from pools.formats.values import lenient_number, text, tx_hash, unix_time

FORMAT = "ethermine-v1"
# The API allows 100 requests per 15 minutes per IP and caches everything for 2 minutes. A poll
# costs 3 requests (currentStats, workers, payouts); every 180 s that is 15 requests per account
# per 15 minutes, so one IP can follow 6 accounts (90 of 100) with room for a retry or two.
# Polling at the 120 s cache period would already cut that to 4 accounts for little gain.
DEFAULT_INTERVAL_S = 180
RATE_LIMIT = (100, 900.0)

# Ethermine's own dashboard greys a worker out after roughly this long without a share; 15 min is
# also half of OEP's 30-minute window, so "online" means the same thing across pool formats.
ONLINE_WINDOW = timedelta(minutes=15)

# Coins whose transaction hashes are EVM-style 32-byte hex, normalised to "0x" + lower case.

_HEX_ADDRESS = re.compile(r"^(0x)?([0-9a-fA-F]{40})$")
_UNKNOWN_MINER = re.compile(r"no data|not found|unknown|invalid (miner|address|wallet)", re.I)


# -- values -----------------------------------------------------------------------------------


def _integer(value) -> int | None:
    # Through Decimal so that wei amounts sent as strings (above 2**53) stay exact.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float | str | Decimal):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        if not result.is_finite():
            return None
        return int(result.to_integral_value(rounding=ROUND_HALF_EVEN))
    return None


def miner_id(login: str) -> str:
    """The address as the path wants it: no "0x"; other coins' addresses are left as they are."""
    login = login.strip()
    match = _HEX_ADDRESS.match(login)
    # Hex addresses are case-insensitive, base58 ones (Flypool ZEC/RVN) are not.
    return match.group(2).lower() if match else login


# -- envelope ---------------------------------------------------------------------------------


def unwrap(answer, what: str):
    """The `data` of an OK envelope; PoolError otherwise."""
    if not isinstance(answer, dict):
        raise bad_answer(f"{what} is {type(answer).__name__}, not an object")
    status = answer.get("status")
    data = answer.get("data")
    if status == "OK":
        if isinstance(data, str) and data.strip().upper() == "NO DATA":
            raise PoolError("not_found", "The pool has no data for this miner address")
        if data is None:
            raise bad_answer(f"{what} has no data")
        return data
    error = text(answer.get("error")) or text(data) or f"status {status!r}"
    if _UNKNOWN_MINER.search(error):
        raise PoolError("not_found", f"The pool does not know this miner: {error}")
    raise bad_answer(f"{what}: {error}")


def _unwrap_list(answer, what: str) -> list:
    # Asked only once currentStats has shown that the miner exists, so "NO DATA" here just means
    # no workers or payouts yet.
    try:
        data = unwrap(answer, what)
    except PoolError as exc:
        if exc.kind == "not_found":
            return []
        raise
    if not isinstance(data, list):
        raise bad_answer(f"{what} data is {type(data).__name__}, not a list")
    return data


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
    last_seen = unix_time(item.get("lastSeen"))
    # Judge against the pool's own clock (the record's time), so a slow poll or a skewed local
    # clock does not flip workers offline.
    reference = unix_time(item.get("time")) or snapshot_time
    online = None
    if last_seen is not None and reference is not None:
        online = reference - last_seen <= ONLINE_WINDOW
    elif last_seen is None and item.get("lastSeen") is not None:
        online = False
    return WorkerSnapshot(
        name=text(item.get("worker")),
        current_hashrate_hs=lenient_number(item.get("currentHashrate")),
        average_hashrate_hs=lenient_number(item.get("averageHashrate")),
        reported_hashrate_hs=lenient_number(item.get("reportedHashrate")),
        last_share_at=last_seen,
        online=online,
        shares_valid=_integer(item.get("validShares")),
        shares_stale=_integer(item.get("staleShares")),
        shares_invalid=_integer(item.get("invalidShares")),
    )


def parse_workers(answer, snapshot_time: datetime | None = None) -> list[WorkerSnapshot]:
    """`/miner/{addr}/workers` → workers sorted by name."""
    items = _unwrap_list(answer, "workers")
    workers = [parse_worker(item, snapshot_time) for item in items]
    return sorted(workers, key=lambda worker: worker.name)


def parse_payouts(answer, coin: str = "ETC") -> list[PayoutRecord]:
    """`/miner/{addr}/payouts` → payouts, newest first, each transaction once."""
    payouts, seen = [], set()
    for item in _unwrap_list(answer, "payouts"):
        if not isinstance(item, dict):
            raise bad_answer(f"payout entry is {type(item).__name__}, not an object")
        paid_at = unix_time(item.get("paidOn"))
        amount = _integer(item.get("amount"))
        # A payout without a time or an amount cannot be shown or summed; skip just that one.
        if paid_at is None or amount is None:
            continue
        record = PayoutRecord(
            tx_hash=tx_hash(item.get("txHash"), coin), amount=amount, paid_at=paid_at
        )
        key = record.tx_hash or (record.paid_at, record.amount)
        if key in seen:
            continue
        seen.add(key)
        payouts.append(record)
    return sorted(payouts, key=lambda payout: payout.paid_at, reverse=True)


def parse_account(current, workers, payouts, coin: str = "ETC") -> AccountSnapshot:
    """The three answers of one poll → one AccountSnapshot."""
    snapshot = parse_current_stats(current)
    data = current["data"]
    snapshot.workers = parse_workers(workers, unix_time(data.get("time")))
    snapshot.payouts = parse_payouts(payouts, coin)
    judged = [worker.online for worker in snapshot.workers if worker.online is not None]
    if judged:
        # Count from the list with the same rule as each worker row, so the totals match the rows.
        snapshot.workers_online = sum(judged)
        snapshot.workers_offline = len(judged) - snapshot.workers_online
    # paid_total stays unknown: the payouts list is capped, so its sum is not the lifetime total.
    return snapshot


async def _get_list(get_json, path):
    try:
        return await get_json(path)
    except PoolError as exc:
        # currentStats found the miner, so a 404 here can only mean an empty list.
        if exc.kind != "not_found":
            raise
        return {"status": "OK", "data": []}


async def fetch_account(get_json, endpoint: PoolEndpoint) -> AccountSnapshot:
    miner = miner_id(endpoint.login)
    current = await get_json(f"/miner/{miner}/currentStats")
    # Fail before spending two more requests of a tight budget on a miner the pool does not know.
    parse_current_stats(current)
    workers = await _get_list(get_json, f"/miner/{miner}/workers")
    payouts = await _get_list(get_json, f"/miner/{miner}/payouts")
    return parse_account(current, workers, payouts, endpoint.coin)
