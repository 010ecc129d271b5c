"""open-ethereum-pool (OEP) and its forks, 2Miners included: `GET /api/accounts/{login}`.

Shapes confirmed in sammy007/open-ethereum-pool (api/server.go, storage/redis.go) and the
2Miners OpenAPI spec (2miners/apidoc). Traps this module exists to absorb:
- money is an integer in the pool's own unit: Shannon (1e-9 coin) for the ETH family, the
  coin's own smallest unit for 2Miners' other coins (POOL_AMOUNT_DECIMALS);
- `stats` is a Redis hash dumped as is, so a key the pool never incremented is simply absent;
- 2Miners types `stats.pending` as a boolean and `lastBeat` as a string;
- GRIN, BEAM, AE and MWC on 2Miners give `hashrates`/`currentHashrates` maps per algorithm;
- `now`, where a fork sends it, is in milliseconds while every other time is in seconds.
"""

from datetime import UTC, datetime

from pools.formats.base import (
    AccountSnapshot,
    BlockRecord,
    PayoutRecord,
    PoolError,
    PoolStats,
    WorkerSnapshot,
    bad_answer,
    path_segment,
    unique_payouts,
)
from pools.formats.values import (
    ONLINE_WINDOW,
    first,
    normalized_tx_hash,
    strict_float,
    strict_int,
)

FORMAT = "open-ethereum-pool"

# Hashrate windows are 30 min / 3 h and stats are recomputed every few seconds, so polling more
# often than every couple of minutes adds load without adding information.
DEFAULT_INTERVAL_S = 120

# OEP enforces no limit in code and 2Miners states none; one request a second per host keeps a
# farm with many wallets on one pool from looking like a scraper.
RATE_LIMIT = (1, 1.0)

# The unit the pool's integer amounts are in, as decimals of one coin, by coin. OEP's unlocker and
# payer keep amounts in Shannon (1e-9 coin), so any pool running its code for an 18-decimal EVM
# coin reports Shannon. 2Miners' other coins are not OEP's code and report their own units; the
# 2Miners spec gives none, so each below is taken from public clients that read 2Miners balances
# per coin (the divisor they apply to `stats.balance`, `paid` and payment amounts):
# RainbowMiner/RainbowMiner Balances/2Miners.ps1 (2019-2026; its table before 2023-09 and its
# auto-exchange rows are balance-specific: its later main table reuses the pool file's block
# reward divisors, which gives ETC, ETHW and CTXC 1e18, the block reward's wei, not the balance's
# unit) and MegaGrindStone/2MinersMonitor packages/two_miners_api (2022, one divisor per coin for
# balance, paid, rewards, payments and fees). Each source is recorded per pool in
# pools/known_pools.json; docs/pools.md lists the coins left out and why.
POOL_AMOUNT_DECIMALS = {
    "ETH": 9,
    "ETC": 9,
    "ETHW": 9,
    "CTXC": 9,  # Cortex is an 18-decimal go-ethereum fork paid in Shannon like ETC
    "ERG": 9,  # nanoErg, Ergo's own smallest unit
    "KAS": 8,  # sompi
    "RVN": 8,
    "ZEC": 8,  # zatoshi
    "BTG": 8,
    "CKB": 8,  # CKB's shannon is 1e-8
    "NEOX": 8,
    "XNA": 8,
    "NEXA": 2,  # Nexa's satoshi is 0.01 NEXA
}
# A custom open-ethereum-pool address for another coin is most likely OEP's own code for an EVM
# coin, which pays in Shannon.
DEFAULT_POOL_AMOUNT_DECIMALS = 9


_ACCOUNT_KEYS = (
    "stats",
    "workers",
    "payments",
    "hashrate",
    "currentHashrate",
    "hashrates",
    "currentHashrates",
)


def pool_amount_decimals(coin):
    return POOL_AMOUNT_DECIMALS.get((coin or "").upper(), DEFAULT_POOL_AMOUNT_DECIMALS)


def amount_to_base(value, coin_decimals, pool_decimals=9):
    """An integer amount in units of 10**-pool_decimals coin → the coin's smallest unit."""
    value = strict_int(value, "amount", limit=None)
    if value is None:
        return None
    shift = coin_decimals - pool_decimals
    if shift >= 0:
        return value * 10**shift
    quotient, remainder = divmod(value, 10**-shift)
    if remainder:
        raise bad_answer(f"amount {value} has more precision than the coin ({coin_decimals})")
    return quotient


def account_path(login):
    # The pool keys accounts by the lower-cased login; asking with a checksummed address would
    # only work on pools that lower-case it themselves.
    if login.startswith(("0x", "0X")):
        login = login.lower()
    # Kaspa and Nexa addresses carry their prefix ("kaspa:qr...", "nexa:nq..."); a colon is valid
    # in a path segment and public 2Miners clients send it as is, so only a slash or the like is
    # escaped.
    return f"/api/accounts/{path_segment(login, safe=':')}"


NO_DATA = "The pool has no data for this wallet yet: no shares received (or a mistyped address)."


async def fetch_account(get_json, endpoint):
    try:
        data = await get_json(account_path(endpoint.login))
    except PoolError as exc:
        # OEP's AccountIndex answers 404 with no body for a login it holds no shares of
        # (IsMinerExists is false), which is every wallet before its first share.
        if exc.kind == "not_found":
            raise PoolError("no_data", NO_DATA, status=exc.status) from None
        raise
    return parse_account(
        data,
        coin_decimals=endpoint.coin_decimals,
        pool_decimals=pool_amount_decimals(endpoint.coin),
    )


def parse_account(data, *, coin_decimals=18, pool_decimals=9):
    _check_found(data)

    def money(value):
        return amount_to_base(value, coin_decimals, pool_decimals)

    snap = AccountSnapshot()
    snap.current_hashrate_hs = _hashrate(data, "currentHashrate", "currentHashrates")
    snap.average_hashrate_hs = _hashrate(data, "hashrate", "hashrates")
    snap.shares_valid = strict_int(data.get("sharesValid"), "sharesValid")
    snap.shares_stale = strict_int(data.get("sharesStale"), "sharesStale")
    snap.shares_invalid = strict_int(data.get("sharesInvalid"), "sharesInvalid")

    stats = data.get("stats")
    if stats is not None:
        if not isinstance(stats, dict):
            raise bad_answer("stats is not an object")
        # A Redis hash field that was never incremented is absent: for money that means 0.
        snap.unpaid = money(stats.get("balance") or 0)
        snap.immature = money(stats.get("immature") or 0)
        snap.paid_total = money(stats.get("paid") or 0)
        # `pending` is the amount locked while a payout is being sent (2Miners: a boolean flag);
        # it is not part of the balance the account page shows.
        snap.last_share_at = _unix_s(stats.get("lastShare"), "stats.lastShare")

    now_s = _now_s(data.get("now"))
    snap.workers = _workers(data.get("workers"), now_s)
    online = strict_int(data.get("workersOnline"), "workersOnline")
    offline = strict_int(data.get("workersOffline"), "workersOffline")
    if online is None and offline is None and "workers" in data:
        online = sum(1 for w in snap.workers if w.online)
        offline = sum(1 for w in snap.workers if w.online is False)
    snap.workers_online, snap.workers_offline = online, offline
    if snap.last_share_at is None:
        beats = [w.last_share_at for w in snap.workers if w.last_share_at]
        snap.last_share_at = max(beats, default=None)

    snap.payouts = _payouts(data.get("payments"), money)
    snap.blocks = _rewards(data.get("rewards"), money)
    return snap


def _check_found(data):
    # OEP answers 404 for a login it never saw (fetch_account turns that into no_data); some
    # forks answer 200 with `{}`, `null` or an error object such as `{"error": "not found"}`.
    # Upstream OEP before its IsMinerExists check answered 200 with an empty `stats` hash and no
    # workers or payments: the same "nothing yet", said differently.
    if data is None or data == {}:
        raise PoolError("no_data", NO_DATA)
    if not isinstance(data, dict):
        raise bad_answer(f"expected an object, got {type(data).__name__}")
    if not any(key in data for key in _ACCOUNT_KEYS):
        detail = data.get("error") or data.get("message") or data.get("status")
        if detail:
            raise PoolError("no_data", f"{NO_DATA[:-1]} The pool says: {str(detail)[:200]}")
        raise bad_answer("no account fields in the answer")
    if (
        data.get("stats") == {}
        and not data.get("workers")
        and not data.get("payments")
        and not data.get("paymentsTotal")
    ):
        raise PoolError("no_data", NO_DATA)


def _workers(raw, now_s):
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise bad_answer("workers is not an object")
    workers = []
    for name, w in sorted(raw.items()):
        if not isinstance(w, dict):
            raise bad_answer(f"worker {name!r} is not an object")
        last_beat = _unix_s(w.get("lastBeat"), "lastBeat")
        online = None
        if w.get("offline") is not None:
            online = not _bool(w["offline"], "offline")
        elif last_beat is not None and now_s is not None:
            # OEP calls a worker offline when its last share is older than half the
            # 30-minute window: the window every format here judges by.
            online = last_beat.timestamp() >= now_s - ONLINE_WINDOW.total_seconds()
        workers.append(
            WorkerSnapshot(
                name=str(name),
                current_hashrate_hs=strict_float(w.get("hr"), "hr"),
                average_hashrate_hs=strict_float(w.get("hr2"), "hr2"),
                last_share_at=last_beat,
                online=online,
                shares_valid=strict_int(first(w, "sharesValid", "valid"), "sharesValid"),
                shares_stale=strict_int(first(w, "sharesStale", "stale"), "sharesStale"),
                shares_invalid=strict_int(first(w, "sharesInvalid", "invalid"), "sharesInvalid"),
            )
        )
    return workers


def _payouts(raw, money):
    if raw is None:  # Go encodes an account without payments as null
        return []
    if not isinstance(raw, list):
        raise bad_answer("payments is not a list")
    payouts = []
    for p in raw:
        if not isinstance(p, dict):
            raise bad_answer("a payment is not an object")
        tx = normalized_tx_hash(p.get("tx"))
        paid_at = _unix_s(p.get("timestamp"), "payment timestamp")
        amount = money(p.get("amount"))
        if not tx or paid_at is None or amount is None:
            raise bad_answer("a payment lacks tx, timestamp or amount")
        fee = money(p["txFee"]) if p.get("txFee") is not None else None
        payouts.append(PayoutRecord(tx_hash=tx, amount=amount, paid_at=paid_at, fee=fee))
    return unique_payouts(payouts)


def _rewards(raw, money):
    # 2Miners and open-etc-pool-friends list the blocks this account was credited for; `reward`
    # is the account's share of the block, in the same unit as the balance.
    if not raw:
        return []
    if not isinstance(raw, list):
        raise bad_answer("rewards is not a list")
    blocks = []
    for r in raw:
        if not isinstance(r, dict):
            raise bad_answer("a reward is not an object")
        height = strict_int(r.get("blockheight"), "blockheight")
        if height is None:
            raise bad_answer("a reward lacks blockheight")
        if r.get("orphan"):
            status = "orphaned"
        elif r.get("immature"):
            status = "immature"
        else:
            status = "matured"
        blocks.append(
            BlockRecord(
                height=height,
                found_at=_unix_s(r.get("timestamp"), "reward timestamp"),
                hash=str(r.get("blockhash") or ""),
                reward=money(r.get("reward")),
                status=status,
            )
        )
    return blocks


def _hashrate(data, scalar_key, map_key):
    for key in (scalar_key, map_key):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, dict):
            # One entry per algorithm number (e.g. Cuckatoo32); an account mining two of them
            # is shown by the pool as one total, so the sum is the account's figure.
            rates = [strict_float(v, key) for v in value.values()]
            return float(sum(r for r in rates if r is not None))
        return strict_float(value, key)
    return None


def _bool(value, what):
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "true", "false"):
        return value in (1, "1", "true")
    raise bad_answer(f"{what} is not a boolean")


def _unix_s(value, what):
    seconds = strict_int(value, what)
    if not seconds:  # 0 is how Go writes "never"
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise bad_answer(f"{what} is not a unix time in seconds: {seconds}") from None


def _now_s(value):
    ms = strict_int(value, "now")
    return ms / 1000 if ms else None


# -- pool-wide statistics ----------------------------------------------------------------------

STATS_PATH = "/api/stats"


async def fetch_pool_stats(get_json, endpoint):
    return parse_pool_stats(await get_json(STATS_PATH))


def parse_pool_stats(data):
    """`/api/stats` (api/server.go StatsIndex): `hashrate` H/s, `minersTotal`, the block list
    totals, `stats{lastBlockFound (s), roundShares}` and `nodes[{name, height, difficulty,
    lastBeat}]` with every node figure a string. 2Miners adds `workersTotal` and a node's
    `networkhashps`. Deliberately not kept: `now` (the poll has its own time), 2Miners' `luck`
    (its window is not documented) and `poolCharts` (the pool's own history, which our series
    replaces), `paymentsTotal`."""
    if not isinstance(data, dict) or not ({"nodes", "hashrate", "minersTotal"} & set(data)):
        raise bad_answer("not an open-ethereum-pool /api/stats answer")
    stats = data.get("stats") or {}
    if not isinstance(stats, dict):
        raise bad_answer("stats is not an object")
    nodes = data.get("nodes") or []
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise bad_answer("nodes is not a list of objects")
    # Several upstream nodes may be listed; the highest is the chain's tip as the pool sees it.
    node = max(nodes, key=lambda n: strict_int(n.get("height"), "node height") or 0, default={})
    difficulty = strict_float(node.get("difficulty"), "node difficulty")
    totals = [data.get(key) for key in ("maturedTotal", "immatureTotal", "candidatesTotal")]
    round_shares = strict_float(stats.get("roundShares"), "roundShares")
    return PoolStats(
        pool_hashrate_hs=strict_float(data.get("hashrate"), "hashrate"),
        miners=strict_int(data.get("minersTotal"), "minersTotal"),
        workers=strict_int(data.get("workersTotal"), "workersTotal"),
        # Every block the pool found is in one of its three lists, each counted in full.
        blocks_total=(
            sum(strict_int(t, "blocks total") or 0 for t in totals)
            if any(t is not None for t in totals)
            else None
        ),
        last_block_at=_unix_s(stats.get("lastBlockFound"), "lastBlockFound"),
        # roundShares is the sum of the round's share difficulties, so over the network
        # difficulty it is the round's effort: what OEP front ends show as "round variance".
        effort=round_shares / difficulty if round_shares is not None and difficulty else None,
        network_hashrate_hs=strict_float(node.get("networkhashps"), "networkhashps"),
        network_difficulty=difficulty,
        block_height=strict_int(node.get("height"), "node height"),
    )
