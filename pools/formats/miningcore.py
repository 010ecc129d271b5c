"""Miningcore REST API: a miner's stats and payments, plus its `/notifications` websocket messages.

Shapes confirmed in oliverw/miningcore (Api/Controllers/PoolApiController.cs, Api/Responses/*.cs,
Notifications/Messages/*.cs). Traps this module exists to absorb:
- amounts are decimal coin units (C# `decimal`), not the coin's smallest unit;
- times are .NET DateTimes in ISO 8601, without a zone when the database handed back an
  unspecified kind (they are UTC);
- payment pages are 0-based and v1 returns a bare array; older docs and forks wrap the miner in
  `{result, success}`;
- a miner the pool has never seen is not a 404: the controller answers with aggregates that are
  all null (serialised as zeros), or with no content at all (204); both are `no_data`, the
  state of a wallet waiting for its first shares. A 404 is an unknown pool id.
"""

import json
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation

from pools.formats.base import (
    AccountSnapshot,
    PayoutRecord,
    PoolError,
    PoolStats,
    WorkerSnapshot,
    bad_answer,
    path_segment,
    unique_payouts,
)
from pools.formats.values import normalized_tx_hash, strict_float, strict_int

FORMAT = "miningcore"

# Miner stats are written every few minutes and hashrate samples hourly (perfMode=Day).
DEFAULT_INTERVAL_S = 120

# Miningcore's default API rule: 5 requests per second per client IP.
RATE_LIMIT = (5, 1.0)

# Page size as Miningcore's own default. At most MAX_PAYMENT_PAGES pages are read per poll so one
# poll costs at most 1 + 3 requests, within one second of the pool's budget; older payouts were
# already stored by earlier polls, and a new account gets its recent history (45 payouts).
PAYMENTS_PAGE_SIZE = 15
MAX_PAYMENT_PAGES = 3


def _address(address):
    # The pool lower-cases ETH-family addresses itself; doing it here keeps paths stable.
    return address.lower() if address.startswith(("0x", "0X")) else address


def miner_path(pool_id, address):
    return f"/api/pools/{path_segment(pool_id)}/miners/{path_segment(_address(address))}"


async def fetch_account(get_json, endpoint):
    if not endpoint.pool_id:
        raise PoolError("not_found", "This Miningcore pool needs its pool id (e.g. etc1)")
    path = miner_path(endpoint.pool_id, endpoint.login)
    answer = await _get_of_pool(get_json, endpoint, path, params={"perfMode": "Day"})
    snap = parse_miner(answer, endpoint.coin_decimals)

    pages = []
    for page in range(MAX_PAYMENT_PAGES):
        answer = await get_json(
            f"{path}/payments", params={"page": page, "pageSize": PAYMENTS_PAGE_SIZE}
        )
        rows = _unwrap_list(answer)
        pages.append(rows)
        if len(rows) < PAYMENTS_PAGE_SIZE:
            break
    snap.payouts = parse_payments(pages, endpoint.coin_decimals)
    return snap


NO_DATA = "The pool has no data for this miner yet: no shares received (or a mistyped address)."


def parse_miner(data, coin_decimals=18):
    data = _unwrap_object(data)
    if _all_empty(data):
        raise PoolError("no_data", NO_DATA)
    snap = AccountSnapshot()
    snap.unpaid = decimal_to_base(data.get("pendingBalance"), coin_decimals)
    snap.paid_total = decimal_to_base(data.get("totalPaid"), coin_decimals)

    latest = _workers_of(data.get("performance"), "performance")
    samples = data.get("performanceSamples") or []
    if not isinstance(samples, list):
        raise bad_answer("performanceSamples is not a list")
    sample_workers = [_workers_of(s, "performance sample") for s in samples]

    # The pool drops `performance` once the miner's latest stats are stale, so no performance
    # with a known miner means nothing is hashing now.
    snap.current_hashrate_hs = sum(rate for rate, _ in latest.values()) if latest else 0.0
    if sample_workers:
        totals = [sum(rate for rate, _ in s.values()) for s in sample_workers]
        snap.average_hashrate_hs = sum(totals) / len(totals)

    names = set(latest)
    for s in sample_workers:
        names.update(s)
    for name in sorted(names):
        current = latest.get(name)
        average = None
        if sample_workers:
            # A worker absent from an hourly sample had no shares that hour.
            average = sum(s.get(name, (0.0, 0.0))[0] for s in sample_workers) / len(sample_workers)
        snap.workers.append(
            WorkerSnapshot(
                name=name,
                current_hashrate_hs=current[0] if current else 0.0,
                average_hashrate_hs=average,
                online=bool(current and current[0] > 0),
            )
        )
    snap.workers_online = sum(1 for w in snap.workers if w.online)
    snap.workers_offline = len(snap.workers) - snap.workers_online
    return snap


def parse_payments(pages, coin_decimals=18):
    """Payouts from one or more pages; a payout seen twice (pages shift as new ones land) once."""
    payouts = []
    for rows in pages:
        for p in _unwrap_list(rows):
            if not isinstance(p, dict):
                raise bad_answer("a payment is not an object")
            tx = normalized_tx_hash(p.get("transactionConfirmationData"))
            amount = decimal_to_base(p.get("amount"), coin_decimals)
            paid_at = parse_time(p.get("created"), "payment created")
            if amount is None or paid_at is None:
                raise bad_answer("a payment lacks amount or created")
            payouts.append(PayoutRecord(tx_hash=tx, amount=amount, paid_at=paid_at))
    return unique_payouts(payouts)


def parse_notification(message, coin_decimals=18):
    """One `/notifications` websocket message → a small dict, or None for types not used here.

    The payment notice carries the pool's whole payout run (all recipients), not one miner's.
    """
    if isinstance(message, str | bytes):
        try:
            message = json.loads(message)
        except ValueError:
            raise bad_answer("notification is not JSON") from None
    if not isinstance(message, dict):
        raise bad_answer("notification is not an object")
    kind = message.get("type")
    if kind == "blockfound":
        return {
            "type": "block_found",
            "pool_id": message.get("poolId"),
            "height": strict_int(message.get("blockHeight"), "blockHeight"),
            "symbol": message.get("symbol"),
            "miner": message.get("miner"),
            "source": message.get("source"),
        }
    if kind == "payment":
        tx_ids = message.get("txIds") or []
        if not isinstance(tx_ids, list):
            raise bad_answer("txIds is not a list")
        return {
            "type": "payment",
            "pool_id": message.get("poolId"),
            "symbol": message.get("symbol"),
            "amount": decimal_to_base(message.get("amount"), coin_decimals),
            "fee": decimal_to_base(message.get("txFee"), coin_decimals),
            "tx_hashes": [normalized_tx_hash(t) for t in tx_ids if t],
            "recipients": strict_int(message.get("recipientsCount"), "recipientsCount"),
            "error": message.get("error") or None,
        }
    if kind == "hashrateupdated":
        return {
            "type": "hashrate",
            "pool_id": message.get("poolId"),
            "miner": message.get("miner"),
            "worker": message.get("worker") or "",
            "hashrate_hs": strict_float(message.get("hashrate"), "hashrate"),
        }
    return None


def decimal_to_base(value, coin_decimals):
    """Decimal coin units → int smallest unit, exactly; finer than the coin allows is an error."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise bad_answer(f"amount has type {type(value).__name__}")
    try:
        # str() first: a float's shortest repr is what the pool wrote, its binary value is not.
        scaled = Decimal(str(value).strip()).scaleb(coin_decimals, context=_EXACT)
    except InvalidOperation:
        raise bad_answer(f"amount is not a number: {str(value)[:40]!r}") from None
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise bad_answer(f"amount {value} has more precision than the coin ({coin_decimals})")
    return int(scaled)


# Wide enough that scaling a C# decimal (28-29 digits) by 10**coin_decimals never rounds.
_EXACT = Context(prec=80)


def parse_time(value, what="time"):
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad_answer(f"{what} is not a string")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad_answer(f"{what} is not ISO 8601: {value[:40]!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _all_empty(data):
    """Whether this is GetMinerInfoAsync's answer for a miner with no rows: the SUMs over no
    shares, balances or payments come back NULL and are written as zeros, with no performance,
    no samples and no last payment. A wallet that ever mined has at least one of them."""
    amounts = ("pendingShares", "pendingBalance", "totalPaid", "todayPaid")
    return (
        all(not data.get(key) for key in amounts)
        and not data.get("performance")
        and not data.get("performanceSamples")
        and not data.get("lastPayment")
    )


def _unwrap_object(data):
    if isinstance(data, dict) and "result" in data and "success" in data:
        if not data.get("success") or data.get("result") is None:
            raise PoolError("no_data", NO_DATA)
        data = data["result"]
    if data is None or data == {}:
        raise PoolError("no_data", NO_DATA)
    if not isinstance(data, dict):
        raise bad_answer(f"expected an object, got {type(data).__name__}")
    return data


def _unwrap_list(data):
    if isinstance(data, dict) and "result" in data:  # the v2 `{result, success, pageCount}`
        data = data["result"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise bad_answer(f"expected a list, got {type(data).__name__}")
    return data


def _workers_of(container, what):
    """{name: (hashrate H/s, shares/s)} of one performance container; "" is the default worker."""
    if container is None:
        return {}
    if not isinstance(container, dict):
        raise bad_answer(f"{what} is not an object")
    workers = container.get("workers") or {}
    if not isinstance(workers, dict):
        raise bad_answer(f"{what}.workers is not an object")
    result = {}
    for name, w in workers.items():
        if not isinstance(w, dict):
            raise bad_answer(f"worker {name!r} is not an object")
        rate = strict_float(w.get("hashrate"), "hashrate") or 0.0
        result[str(name)] = (rate, strict_float(w.get("sharesPerSecond"), "sharesPerSecond") or 0.0)
    return result


# -- pool-wide statistics ----------------------------------------------------------------------


def pool_path(pool_id):
    return f"/api/pools/{path_segment(pool_id)}"


async def fetch_pool_stats(get_json, endpoint):
    if not endpoint.pool_id:
        raise PoolError("not_found", "This Miningcore pool needs its pool id (e.g. etc1)")
    answer = await _get_of_pool(get_json, endpoint, pool_path(endpoint.pool_id))
    return parse_pool_stats(answer)


async def _get_of_pool(get_json, endpoint, path, params=None):
    try:
        return await get_json(path, params=params)
    except PoolError as exc:
        # GetPool answers 404 ("Unknown pool") for a pool id it does not run; a miner it has no
        # stats of is a 204 or all zeros instead (no_data), never a 404.
        if exc.kind == "not_found":
            raise PoolError(
                "not_found",
                f"The pool runs no pool with the id {endpoint.pool_id!r} (404).",
                status=exc.status,
            ) from None
        raise


def parse_pool_stats(data):
    """`/api/pools/{id}` (PoolApiController.GetPoolInfoAsync) is `{"pool": PoolInfo}`:
    `poolStats{connectedMiners, poolHashrate (H/s), sharesPerSecond}`, `networkStats
    {networkHashrate (H/s), networkDifficulty, blockHeight, ...}`, `totalBlocks`,
    `lastPoolBlockTime` and `poolEffort` (a fraction; 0 until the first block). Deliberately not
    kept: the pool's configuration (ports, payment processing, fee), `topMiners` (other people's
    wallets), `totalPaid` and `sharesPerSecond`."""
    if not isinstance(data, dict) or not isinstance(data.get("pool"), dict):
        raise bad_answer("not a Miningcore /api/pools/{id} answer (no pool object)")
    info = data["pool"]
    pool_stats = info.get("poolStats") or {}
    network = info.get("networkStats") or {}
    if not isinstance(pool_stats, dict) or not isinstance(network, dict):
        raise bad_answer("poolStats or networkStats is not an object")
    last_block = parse_time(
        info.get("lastPoolBlockTime") or pool_stats.get("lastPoolBlockTime"), "lastPoolBlockTime"
    )
    return PoolStats(
        # Old versions and forks spell it poolHashRate.
        pool_hashrate_hs=strict_float(
            pool_stats.get("poolHashrate", pool_stats.get("poolHashRate")), "poolHashrate"
        ),
        miners=strict_int(pool_stats.get("connectedMiners"), "connectedMiners"),
        blocks_total=strict_int(info.get("totalBlocks"), "totalBlocks"),
        last_block_at=last_block,
        # poolEffort is only computed once the pool has a block to count from.
        effort=strict_float(info.get("poolEffort"), "poolEffort") if last_block else None,
        # Of `networkStats` (Miningcore's BlockchainStats) these three are kept. Deliberately
        # not: `networkType` (main or test, a node setting), `nextNetworkTarget` and
        # `nextNetworkBits` (the next block's target encoded, the difficulty already kept),
        # `lastNetworkBlockTime` (the chain's last block, anyone's, where `blockHeight` already
        # tracks the chain), `connectedPeers` (the pool node's peers, the operator's concern)
        # and `rewardType` (POW or POS, a property of the coin).
        network_hashrate_hs=strict_float(network.get("networkHashrate"), "networkHashrate"),
        network_difficulty=strict_float(network.get("networkDifficulty"), "networkDifficulty"),
        block_height=strict_int(network.get("blockHeight"), "blockHeight"),
    )
