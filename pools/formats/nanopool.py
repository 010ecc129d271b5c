"""Nanopool API v1: `https://api.nanopool.org/v1/{coin}/{method}/{address}`.

Answers are `{"status": true, "data": ...}` or `{"status": false, "error": "Account not found"}`.
Balances are decimal coins (sometimes strings), hashrates are in a per-coin unit (Mh/s for the
ETH family), times are unix seconds. One poll asks `user` (balances, hashrates, workers) and
`payments`.

Sources: Nanopool's API doc (scan: envelope, "Account not found", Mh/s, 30 calls a minute),
rodneymo/rig-monitor pool-monitor.sh (user and payments fields), roboyeti/wth and other clients
(worker `lastshare` spelt in lower case by some, `lastShare` by others).
"""

from datetime import UTC, datetime, timedelta
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

# Same rule as the Ethermine and OEP formats, so "online" reads alike across pools. Nanopool's
# answer carries no server time, so the poll's own clock is the reference.
ONLINE_WINDOW = timedelta(minutes=15)


# -- values -----------------------------------------------------------------------------------


def to_base_units(value, decimals: int) -> int | None:
    """Decimal coins (number or string) → int smallest unit, exactly."""
    if isinstance(value, bool) or value is None:
        return None
    if not isinstance(value, int | float | str | Decimal):
        return None
    # str() of a float is its shortest repr, so 0.1 becomes 10**17 wei and not 10**17 - 5.
    try:
        coins = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not coins.is_finite():
        return None
    return int((coins.scaleb(decimals)).to_integral_value(rounding=ROUND_HALF_EVEN))


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
    if status is False and "not found" in error.lower():
        raise PoolError("not_found", f"The pool does not know this account: {error}")
    raise bad_answer(f"{what}: {error}")


# -- parsers ----------------------------------------------------------------------------------


def parse_worker(item, unit: float, now: datetime) -> WorkerSnapshot:
    if not isinstance(item, dict):
        raise bad_answer(f"worker entry is {type(item).__name__}, not an object")
    raw_last = item.get("lastShare", item.get("lastshare"))
    last_share = unix_time(raw_last)
    online = None
    if last_share is not None:
        online = now - last_share <= ONLINE_WINDOW
    elif raw_last is not None:
        online = False  # 0: never sent a share
    current = lenient_number(item.get("hashrate"))
    average = lenient_number(item.get("h3"))
    # `rating` is not mapped: its meaning is undocumented (one client reads it as a share count).
    return WorkerSnapshot(
        name=text(item.get("id")),
        current_hashrate_hs=None if current is None else current * unit,
        average_hashrate_hs=None if average is None else average * unit,
        last_share_at=last_share,
        online=online,
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
    judged = [worker.online for worker in workers if worker.online is not None]
    last_shares = [worker.last_share_at for worker in workers if worker.last_share_at]
    return AccountSnapshot(
        current_hashrate_hs=None if current is None else current * unit,
        average_hashrate_hs=None if average is None else average * unit,
        workers_online=sum(judged) if judged else None,
        workers_offline=len(judged) - sum(judged) if judged else None,
        unpaid=to_base_units(data.get("balance"), decimals),
        immature=to_base_units(data.get("unconfirmed_balance"), decimals),
        last_share_at=max(last_shares) if last_shares else None,
        workers=workers,
    )


def parse_payments(answer, coin: str = "ETC", decimals: int = 18) -> list[PayoutRecord]:
    """`/v1/{coin}/payments/{address}` → payouts, newest first, each transaction once.

    Payments not yet confirmed on chain are kept: the pool has sent them.
    """
    try:
        items = unwrap(answer, "payments")
    except PoolError as exc:
        # Asked only after `user` found the account; "not found" here means nothing paid yet.
        if exc.kind == "not_found":
            return []
        raise
    if not isinstance(items, list):
        raise bad_answer(f"payments data is {type(items).__name__}, not a list")
    payouts, seen = [], set()
    for item in items:
        if not isinstance(item, dict):
            raise bad_answer(f"payment entry is {type(item).__name__}, not an object")
        paid_at = unix_time(item.get("date"))
        amount = to_base_units(item.get("amount"), decimals)
        # A payment without a time or an amount cannot be shown or summed; skip just that one.
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
    address = endpoint.login.strip()
    prefix = _prefix(endpoint.base_url)
    user = await get_json(f"{prefix}/{coin}/user/{address}")
    parse_user(user, coin, endpoint.coin_decimals)
    try:
        payments = await get_json(f"{prefix}/{coin}/payments/{address}")
    except PoolError as exc:
        # `user` found the account, so a 404 here can only mean nothing has been paid yet.
        if exc.kind != "not_found":
            raise
        payments = {"status": True, "data": []}
    return parse_account(user, payments, endpoint.coin, endpoint.coin_decimals)
