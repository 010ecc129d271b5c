"""The one small interface every pool API format implements.

A format module (pools/formats/<name>.py) defines:
    FORMAT: str                   the registry key, equal to a Pool.ApiFormat value
    DEFAULT_INTERVAL_S: int       how often an account is polled by default
    RATE_LIMIT: tuple[int, float] at most N requests per S seconds per pool host (the pool's own)
    async def fetch_account(get_json, endpoint: PoolEndpoint) -> AccountSnapshot
    async def fetch_pool_stats(get_json, endpoint: PoolEndpoint) -> PoolStats
        (the pool-wide figures; `endpoint.login` is empty there. It is also how a custom pool
        address is tested: only a pool of that format answers it in that shape. Every format
        here has it; a format whose pools publish no statistics would leave it out)
and pure `parse_*` functions that turn the pool's exact answers into an AccountSnapshot, tested
field by field against recorded answers in pools/tests/fixtures/pools/.

`get_json(path, params=None)` is handed in by the poller: it applies the outbound policy, the
pool host's rate limit, timeouts, retries with backoff and the circuit breaker, and returns the
decoded JSON or raises PoolError. A format therefore never talks to the network itself.

Units are converted here, at the edge: hashrate in H/s (float), money as int in the coin's
smallest unit (wei for the ETH family), times as aware UTC datetimes.
"""

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from ethdash.outbound import KINDS as OUTBOUND_KINDS
from ethdash.outbound import OutboundError


@dataclass(frozen=True)
class PoolEndpoint:
    format: str
    base_url: str  # e.g. "https://etc.2miners.com" (no trailing slash, no "/api")
    login: str  # the wallet address or pool login
    coin: str  # ticker, e.g. "ETC"
    coin_decimals: int = 18  # decimals of the coin's smallest unit
    pool_id: str = ""  # Miningcore's pool id, e.g. "etc1"


@dataclass
class WorkerSnapshot:
    name: str  # "" is the default worker
    current_hashrate_hs: float | None = None
    average_hashrate_hs: float | None = None
    reported_hashrate_hs: float | None = None
    last_share_at: datetime | None = None
    online: bool | None = None
    shares_valid: int | None = None
    shares_stale: int | None = None
    shares_invalid: int | None = None


@dataclass
class PayoutRecord:
    tx_hash: str  # as the pool gives it; "0x"-prefixed lower-case hex for EVM chains
    amount: int  # smallest coin unit
    paid_at: datetime
    fee: int | None = None


@dataclass
class BlockRecord:
    height: int
    found_at: datetime | None = None
    hash: str = ""
    reward: int | None = None  # smallest coin unit
    status: str = ""  # "candidate" | "immature" | "matured" | "orphaned" (pool's own words mapped)


@dataclass
class AccountSnapshot:
    current_hashrate_hs: float | None = None  # the pool's short window (OEP 30 min)
    average_hashrate_hs: float | None = None  # the pool's long window (OEP 3 h, Ethermine 24 h)
    reported_hashrate_hs: float | None = None  # what the miners report to the pool
    shares_valid: int | None = None
    shares_stale: int | None = None
    shares_invalid: int | None = None
    workers_online: int | None = None
    workers_offline: int | None = None
    unpaid: int | None = None  # smallest coin unit
    immature: int | None = None
    paid_total: int | None = None
    last_share_at: datetime | None = None
    workers: list[WorkerSnapshot] = field(default_factory=list)
    payouts: list[PayoutRecord] = field(default_factory=list)
    blocks: list[BlockRecord] = field(default_factory=list)


@dataclass
class PoolStats:
    """What a pool says of itself, in our units; None where its format does not give a figure."""

    pool_hashrate_hs: float | None = None
    miners: int | None = None
    workers: int | None = None
    blocks_total: int | None = None  # blocks the pool has found, as it counts them
    last_block_at: datetime | None = None
    effort: float | None = None  # the current round's effort, a fraction (1.0 = 100 %)
    network_hashrate_hs: float | None = None
    network_difficulty: float | None = None
    block_height: int | None = None


class PoolError(OutboundError):
    """A fetch that failed; `kind` is a transport kind (ethdash.outbound.KINDS) or one of the
    pool's own; str() is what the account page shows. The pool's own kinds:
    - `no_data`: the pool answered, in its own words, that it has nothing for this wallet. Every
      format says so for a wallet that has not sent a share yet (and cannot tell it from a
      mistyped one), so the account is waiting for its first shares, not failing;
    - `not_found`: the pool refuses what was asked (an unknown Miningcore pool id, an address it
      calls invalid, a route it does not have);
    - `circuit_open`: the pool's breaker holds requests back."""

    KINDS = (*OUTBOUND_KINDS, "no_data", "not_found", "circuit_open")


# Kinds that say nothing about whether the account will work: the pool is briefly down, slow,
# rate-limiting or behind a proxy error, or has no shares of the wallet yet. An account may be
# saved with one of these shown as a warning; the others (a refused address, an unknown pool
# id, an answer not in the format) would fail every poll, so they are shown as errors.
SAVEABLE_KINDS = frozenset(
    {"no_data", "dns", "refused", "timeout", "tls", "http_status", "rate_limited", "circuit_open"}
)


def path_segment(value: str, *, safe: str = "") -> str:
    """`value` (a login, a pool id) quoted as one segment of the pool's URL path: "/", "?", "#"
    and "%" are escaped, and a segment that is only dots is refused, since "." and ".." are not
    escaped by quoting and clients and servers alike resolve them, walking up the pool's path
    (a login ".." would ask /api/ instead of /api/accounts/..)."""
    if not value or value.strip(".") == "":
        raise PoolError("bad_address", f"{value!r} cannot be a wallet address or login.")
    return quote(value, safe=safe)


def bad_answer(what):
    return PoolError("bad_answer", f"Unexpected answer from the pool: {what}")


def unique_payouts(records: list[PayoutRecord]) -> list[PayoutRecord]:
    """Each payout once, in the order given: pools list a transaction again as pages shift while
    new payouts land. A payout without a hash is known by its time and amount."""
    seen, unique = set(), []
    for record in records:
        key = record.tx_hash or (record.paid_at, record.amount)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def newest_first(payouts: list[PayoutRecord]) -> list[PayoutRecord]:
    return sorted(payouts, key=lambda payout: payout.paid_at, reverse=True)


def online_counts(workers: list[WorkerSnapshot]) -> tuple[int | None, int | None]:
    """(online, offline) over the workers whose state is known, so the totals match the worker
    rows; (None, None) when none is."""
    judged = [worker.online for worker in workers if worker.online is not None]
    if not judged:
        return None, None
    return sum(judged), len(judged) - sum(judged)


def unwrap_list(unwrap, answer, what: str) -> list:
    """The list an envelope carries, through the format's own `unwrap`. Asked only once the
    account is known, so the pool's "no data" or "not found" here means an empty list."""
    try:
        data = unwrap(answer, what)
    except PoolError as exc:
        if exc.kind in ("no_data", "not_found"):
            return []
        raise
    if not isinstance(data, list):
        raise bad_answer(f"{what} data is {type(data).__name__}, not a list")
    return data


async def get_json_or(get_json, path: str, missing):
    """The answer at `path`, or `missing` where the pool answers 404: asked only once the account
    is known, a 404 there can only mean an empty list."""
    try:
        return await get_json(path)
    except PoolError as exc:
        if exc.kind not in ("no_data", "not_found"):
            raise
        return missing
