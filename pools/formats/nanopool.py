"""Nanopool API v1: `https://api.nanopool.org/v1/{coin}/{method}/{address}`.

Answers are `{"status": true, "data": ...}` or `{"status": false, "error": "Account not found"}`.
Balances are decimal coins (sometimes strings), hashrates are in a per-coin unit (Mh/s for the
ETH family), times are unix seconds. One poll asks `user` (balances, hashrates, workers) and
`payments`.

Sources: Nanopool's API doc (scan: envelope, "Account not found", Mh/s, 30 calls a minute),
rodneymo/rig-monitor pool-monitor.sh (user and payments fields), roboyeti/wth and other clients
(worker `lastshare` spelt in lower case by some, `lastShare` by others).
"""

from datetime import UTC, datetime

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

FORMAT = "nanopool-v1"
# At most 30 calls a minute per client. A poll costs 2 calls (user, payments); every 120 s that
# is one call a minute per account, so one IP can follow up to 30 accounts.
DEFAULT_INTERVAL_S = 120
RATE_LIMIT = (30, 60.0)

# Multiplier from the unit Nanopool reports hashrates in to H/s, by lower-case coin. Only units
# with a source are listed; a coin missing here is refused rather than shown off by 10**6.
HASHRATE_UNIT = {
    "eth": 1e6,  # Mh/s (API doc)
    "etc": 1e6,  # Mh/s, same backend as eth
    "ethw": 1e6,  # Mh/s, same backend as eth
    "xmr": 1.0,  # H/s (CPU coin)
}

# -- values -----------------------------------------------------------------------------------


def hashrate_unit(coin: str) -> float:
    try:
        return HASHRATE_UNIT[coin.lower()]
    except KeyError:
        raise bad_answer(f"unknown hashrate unit for coin {coin}") from None


# -- envelope ---------------------------------------------------------------------------------


def unwrap(answer, what: str):
    """The `data` of a `status: true` envelope; PoolError otherwise."""
    if not isinstance(answer, dict):
        raise bad_answer(f"{what} is {type(answer).__name__}, not an object")
    status = answer.get("status")
    if status is True:
        data = answer.get("data")
        if data is None:
            raise bad_answer(f"{what} has no data")
        return data
    error = text(answer.get("error")) or f"status {status!r}"
    # "Account not found" is Nanopool's answer for a wallet it has no shares of yet.
    if status is False and "not found" in error.lower():
        raise PoolError("no_data", f"The pool has no data for this wallet yet: {error}")
    raise bad_answer(f"{what}: {error}")


# -- parsers ----------------------------------------------------------------------------------


def parse_worker(item, unit: float, now: datetime) -> WorkerSnapshot:
    if not isinstance(item, dict):
        raise bad_answer(f"worker entry is {type(item).__name__}, not an object")
    raw_last = item.get("lastShare", item.get("lastshare"))
    current = lenient_number(item.get("hashrate"))
    average = lenient_number(item.get("h3"))
    # `rating` is not mapped: its meaning is undocumented (one client reads it as a share count).
    return WorkerSnapshot(
        name=text(item.get("id")),
        current_hashrate_hs=None if current is None else current * unit,
        average_hashrate_hs=None if average is None else average * unit,
        last_share_at=unix_time(raw_last),
        # Nanopool's answer carries no server time, so the poll's own clock is the reference.
        online=worker_online(raw_last, now),
    )


def parse_user(
    answer, coin: str = "ETC", decimals: int = 18, now: datetime | None = None
) -> AccountSnapshot:
    """`/v1/{coin}/user/{address}` → account totals and workers (no payouts)."""
    unit = hashrate_unit(coin)
    data = unwrap(answer, "user")
    if not isinstance(data, dict):
        raise bad_answer(f"user data is {type(data).__name__}, not an object")
    now = now or datetime.now(UTC)
    current = lenient_number(data.get("hashrate"))
    average_windows = data.get("avgHashrate")
    # h3 matches the long window of OEP (3 h), the most common format, so averages compare.
    average = (
        lenient_number(average_windows.get("h3")) if isinstance(average_windows, dict) else None
    )
    items = data.get("workers")
    if items is not None and not isinstance(items, list):
        raise bad_answer(f"user workers is {type(items).__name__}, not a list")
    workers = sorted(
        (parse_worker(item, unit, now) for item in items or []), key=lambda worker: worker.name
    )
    online, offline = online_counts(workers)
    last_shares = [worker.last_share_at for worker in workers if worker.last_share_at]
    return AccountSnapshot(
        current_hashrate_hs=None if current is None else current * unit,
        average_hashrate_hs=None if average is None else average * unit,
        workers_online=online,
        workers_offline=offline,
        unpaid=to_base_units(data.get("balance"), decimals),
        immature=to_base_units(data.get("unconfirmed_balance"), decimals),
        last_share_at=max(last_shares) if last_shares else None,
        workers=workers,
    )


def parse_payments(answer, coin: str = "ETC", decimals: int = 18) -> list[PayoutRecord]:
    """`/v1/{coin}/payments/{address}` → payouts, newest first, each transaction once.

    Payments not yet confirmed on chain are kept: the pool has sent them.
    """
    # Asked only after `user` found the account; "not found" here means nothing paid yet.
    payouts = []
    for item in unwrap_list(unwrap, answer, "payments"):
        if not isinstance(item, dict):
            raise bad_answer(f"payment entry is {type(item).__name__}, not an object")
        paid_at = unix_time(item.get("date"))
        amount = to_base_units(item.get("amount"), decimals)
        # A payment without a time or an amount cannot be shown or summed; skip just that one.
        if paid_at is None or amount is None:
            continue
        payouts.append(
            PayoutRecord(tx_hash=tx_hash(item.get("txHash"), coin), amount=amount, paid_at=paid_at)
        )
    return newest_first(unique_payouts(payouts))


def parse_account(
    user, payments, coin: str = "ETC", decimals: int = 18, now: datetime | None = None
) -> AccountSnapshot:
    snapshot = parse_user(user, coin, decimals, now)
    snapshot.payouts = parse_payments(payments, coin, decimals)
    return snapshot


def _prefix(base_url: str) -> str:
    # The base URL is normally the host; tolerate one that already ends in /v1.
    return "" if base_url.rstrip("/").endswith("/v1") else "/v1"


async def fetch_account(get_json, endpoint: PoolEndpoint) -> AccountSnapshot:
    coin = endpoint.coin.strip().lower()
    # Refuse before spending requests on an account whose hashrate could not be read anyway.
    hashrate_unit(coin)
    address = path_segment(endpoint.login.strip())
    prefix = _prefix(endpoint.base_url)
    user = await get_json(f"{prefix}/{coin}/user/{address}")
    parse_user(user, coin, endpoint.coin_decimals)
    payments = await get_json_or(
        get_json, f"{prefix}/{coin}/payments/{address}", {"status": True, "data": []}
    )
    return parse_account(user, payments, endpoint.coin, endpoint.coin_decimals)


# -- pool-wide statistics ----------------------------------------------------------------------

# Nanopool has no single pool-statistics answer: one figure per request, `data` a bare number.
POOL_STATS_METHODS = ("pool/hashrate", "pool/activeminers", "pool/activeworkers")


async def fetch_pool_stats(get_json, endpoint: PoolEndpoint) -> PoolStats:
    coin = endpoint.coin.strip().lower()
    hashrate_unit(coin)
    prefix = _prefix(endpoint.base_url)
    answers = [await get_json(f"{prefix}/{coin}/{method}") for method in POOL_STATS_METHODS]
    return parse_pool_stats(*answers, coin=coin)


def parse_pool_stats(hashrate, miners, workers, coin: str = "ETC") -> PoolStats:
    """`/pool/hashrate` (in the coin's hashrate unit, Mh/s for the ETH family),
    `/pool/activeminers` and `/pool/activeworkers`, each `{"status": true, "data": <number>}`."""
    figures = []
    for answer, what in ((hashrate, "pool hashrate"), (miners, "active miners"),
                         (workers, "active workers")):  # fmt: skip
        value = unwrap(answer, what)
        if isinstance(value, bool) or lenient_number(value) is None:
            raise bad_answer(f"{what} is not a number: {str(value)[:40]!r}")
        figures.append(lenient_number(value))
    rate, miner_count, worker_count = figures
    return PoolStats(
        pool_hashrate_hs=rate * hashrate_unit(coin),
        miners=int(miner_count),
        workers=int(worker_count),
    )
