"""Stand-ins for mining pool APIs: open-ethereum-pool, Miningcore, Ethermine v1 and Nanopool v1,
each answering in the pool's own shape and units, driven by simulated accounts.

    server = await start_pool_server("miningcore", accounts={login: {"workers": 3}})
    port = server.sockets[0].getsockname()[1]
    ...  # server.stats counts requests, answers and 429s; server.pool.logins lists accounts
    await stop_pool_server(server)

    python -m simulators.pools --format open-ethereum-pool --accounts 500 --rate-limit 10/1 \
        --out endpoints.json
    python -m simulators.pools --fleet 20 --accounts 500 --out fleet.json

Accounts are generated from a seeded RNG (per login), so answers are deterministic for a given
seed and time bucket; hashrates come from rigs of GPUs as in simulators.rig_agent (100-800 MH/s
a rig) with a little noise per cache period. Answers are cached per (path, query) for the pool's
own cache period, so 20 servers with 500 accounts each cost little.

Units per format: OEP money is Shannon ints, hashrate H/s, times unix s and `now` in ms;
Miningcore money is decimal coins, hashrate H/s, times ISO-8601 (some without a zone); Ethermine
money is wei ints, hashrate H/s, times unix s; Nanopool money is decimal coins (the balance
sometimes a string), hashrate Mh/s for the ETH family, times unix s.

`rate_limit=(requests, window_s)` makes the server answer 429 with Retry-After once a client goes
beyond the limit (sliding window over the requests it served). `fault` makes every request fail
one way: "down" (connection closed at once), "html" (502 with an HTML page), "http500",
"garbage" (200 with non-JSON), "slow" (answers after `slow_s`, 15 s by default).
`outage=FaultCycle(every, for, at)` (simulators.faults; `--outage EVERY:FOR[:AT]`, seconds since
the server started) makes a healthy pool answer every request with the "html" fault (502 and
an HTML page, as a pool behind a proxy whose backend is down) while the cycle holds, and answer
normally otherwise: a pool that goes down now and then and comes back. Off unless given.

Deliberately independent of Django and of the ethdash code, like the miner simulators.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlsplit

from simulators.faults import FaultCycle
from simulators.http_server import (
    HttpApp,
    HttpConnection,
    Request,
    Response,
    close_server,
    serve,
    stop_on_signals,
)
from simulators.rig_agent import GPU_MODELS

FORMATS = ("open-ethereum-pool", "miningcore", "ethermine-v1", "nanopool-v1")
FAULTS = (None, "down", "html", "http500", "garbage", "slow")

# Each pool's own cache period for account answers (OEP statsCollectInterval, Ethermine 2 min).
CACHE_TTL_S = {
    "open-ethereum-pool": 5.0,
    "miningcore": 30.0,
    "ethermine-v1": 120.0,
    "nanopool-v1": 60.0,
}
# Nanopool reports hashrate in a per-coin unit: Mh/s for the ETH family.
NANOPOOL_UNIT = {"eth": 1e6, "etc": 1e6, "ethw": 1e6}
SHARE_DIFFICULTY = 4e9
WEI = 10**18
SHANNON = 10**9
OEP_PAGE_SIZE = 30

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center>"
    b"</body></html>\n"
)
GARBAGE = b'\x1f\x8b\x08\x00{"status":tr\x00\x93ue,"data":garbage'
_HEX40 = re.compile(r"^(0x)?([0-9a-fA-F]{40})$")
_RAW_NUMBER = re.compile(rb'"\x00(-?[0-9.]+)\x00"')


# ------------------------------------------------------------------------------ accounts


def make_logins(count: int, seed: int = 1) -> list[str]:
    """`count` distinct, deterministic ETH-style addresses (lower-case hex)."""
    rng = random.Random(f"logins:{seed}")
    return [f"0x{rng.getrandbits(160):040x}" for _ in range(count)]


def tx_hash(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(256):064x}"


def _key(login: str) -> str:
    """How every format matches an address: hex addresses case-insensitively, without 0x."""
    login = unquote(login).strip()
    match = _HEX40.match(login)
    return match.group(2).lower() if match else login


@dataclass
class Worker:
    name: str
    nominal_hs: float
    online: bool
    beat_age_s: float  # seconds since the last share (at any time: workers keep their rhythm)


@dataclass
class Account:
    login: str
    rng_seed: str
    workers: list[Worker]
    payouts: list[tuple[str, int, int]]  # (tx, amount wei, unix s), newest first
    unpaid_wei: int
    immature_wei: int
    rewards: list[dict]  # blocks credited to the account (OEP forks' `rewards`)

    @property
    def paid_wei(self) -> int:
        return sum(amount for _, amount, _ in self.payouts)

    def rates(self, bucket: int) -> list[tuple[Worker, float, float]]:
        """(worker, current H/s, long-window H/s) with noise that changes once per bucket."""
        rng = random.Random(f"{self.rng_seed}:{bucket}")
        result = []
        for w in self.workers:
            if w.online:
                current = w.nominal_hs * rng.gauss(1.0, 0.04)
                average = w.nominal_hs * rng.gauss(1.0, 0.015)
            else:
                current, average = 0.0, w.nominal_hs * rng.uniform(0.05, 0.3)
            result.append((w, max(current, 0.0), max(average, 0.0)))
        return result


def build_account(login: str, options: dict, *, seed: int, anchor_s: int) -> Account:
    rng = random.Random(f"account:{seed}:{_key(login)}")
    given_names = options.get("worker_names")
    count = len(given_names) if given_names else int(options.get("workers", rng.randint(1, 4)))
    offline = min(int(options.get("offline", 0)), count)
    # Named like the farm's rigs, a pool's workers can be matched to them (reconciliation).
    names = list(given_names) if given_names else [f"rig{i + 1:02d}" for i in range(count)]
    # Rigs of 2-8 GPUs of one model each, as simulators.rig_agent models them.
    nominal = []
    for _ in names:
        model = rng.choice(sorted(GPU_MODELS))
        gpus = rng.randint(2, 8)
        rig_hs = gpus * GPU_MODELS[model][0] * rng.uniform(0.97, 1.03)
        nominal.append(min(max(rig_hs, 100e6), 800e6))
    if options.get("hashrate_hs") is not None and count - offline > 0:
        online_sum = sum(nominal[: count - offline])
        scale = float(options["hashrate_hs"]) / online_sum
        nominal = [hs * scale for hs in nominal]
    workers = [
        Worker(
            name=name,
            nominal_hs=hs,
            online=i < count - offline,
            beat_age_s=rng.uniform(2, 90) if i < count - offline else rng.uniform(1200, 7200),
        )
        for i, (name, hs) in enumerate(zip(names, nominal, strict=True))
    ]
    payouts = options.get("payouts")
    if payouts is None:
        payouts, at = [], anchor_s - rng.randint(3600, 86400)
        for _ in range(int(options.get("payout_count", rng.randint(3, 8)))):
            # 8 decimals, like pools that round payouts: exact in Shannon and in decimal coins.
            amount = rng.randint(50_000_000, 200_000_000) * 10**10
            payouts.append((tx_hash(rng), amount, at))
            at -= rng.randint(3 * 86400, 7 * 86400)
    payouts = sorted(((str(t), int(a), int(s)) for t, a, s in payouts), key=lambda p: -p[2])
    rewards = []
    height = 19_800_000 + rng.randint(0, 200_000)
    for i in range(int(options.get("blocks", rng.randint(0, 3)))):
        rewards.append(
            {
                "blockheight": height - i * rng.randint(500, 5000),
                "timestamp": anchor_s - (i + 1) * rng.randint(3600, 86400),
                "blockhash": tx_hash(rng),
                "reward": rng.randint(1_000_000, 40_000_000) * 10**10,  # wei
                "percent": round(rng.uniform(0.1, 5.0), 4),
                "immature": i == 0,
                "currentLuck": round(rng.uniform(0.3, 2.5), 4),
                "uncle": False,
                "orphan": False,
            }
        )
    return Account(
        login=login,
        rng_seed=f"rates:{seed}:{_key(login)}",
        workers=workers,
        payouts=payouts,
        unpaid_wei=int(options.get("unpaid_wei", rng.randint(0, 100_000_000) * 10**10)),
        immature_wei=int(options.get("immature_wei", rng.randint(0, 2_000_000) * 10**10)),
        rewards=rewards,
    )


# ---------------------------------------------------------------------------------- values


def coins(wei: int) -> Decimal:
    """Wei → decimal coins, written into JSON as an exact number (see _dumps)."""
    return Decimal(wei).scaleb(-18).normalize()


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


def _dumps(document) -> bytes:
    # json cannot write a Decimal as a number; mark it, then strip the quotes and markers.
    def default(value):
        if isinstance(value, Decimal):
            return "\x00" + _decimal_text(value) + "\x00"
        raise TypeError(type(value).__name__)

    raw = json.dumps(document, default=default, separators=(",", ":")).encode()
    return _RAW_NUMBER.sub(rb"\1", raw.replace(b"\\u0000", b"\x00"))


def _iso(unix_s: float, *, zone: bool) -> str:
    moment = datetime.fromtimestamp(unix_s, UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + ("Z" if zone else "")


# ----------------------------------------------------------------------------- the pool


@dataclass
class PoolStats:
    requests: int = 0  # every request received
    served: int = 0  # answered (any status but 429)
    rate_limited: int = 0  # 429s sent
    faults: int = 0  # requests answered with the configured fault
    statuses: Counter = field(default_factory=Counter)
    max_in_window: int = 0  # most requests served within one window (with the jitter grace)


class PoolState:
    """One simulated pool: its accounts, answer cache, rate limit and counters."""

    def __init__(
        self, fmt, accounts, *, coin, pool_id, fault, rate_limit, seed, slow_s, outage=None
    ):
        self.format, self.coin, self.pool_id = fmt, coin, pool_id
        self.fault, self.seed, self.slow_s = fault, seed, slow_s
        self.outage: FaultCycle | None = outage
        self.started = time.time()
        self.anchor_s = int(self.started // 3600 * 3600)  # answers stay stable within the hour
        self.options = {_key(login): (login, dict(opts or {})) for login, opts in accounts.items()}
        self.logins = [login for login, _ in self.options.values()]
        self._accounts: dict[str, Account] = {}
        self._cache: dict[tuple, tuple[float, tuple[int, str, bytes]]] = {}
        self.ttl = CACHE_TTL_S[fmt]
        self.stats = PoolStats()
        self.rate_limit = rate_limit
        self.served_at: deque[float] = deque()
        self.unknown_miningcore = "zeros"  # or "no-content" (HTTP 204)

    def account(self, login: str) -> Account | None:
        key = _key(login)
        account = self._accounts.get(key)
        if account is None and key in self.options:
            original, opts = self.options[key]
            account = build_account(original, opts, seed=self.seed, anchor_s=self.anchor_s)
            self._accounts[key] = account
        return account

    def fault_at(self, now: float) -> str | None:
        """The fault every request meets at unix time `now`: the configured one, else "html"
        while the outage cycle holds, else None."""
        if self.fault is None and self.outage is not None:
            return "html" if self.outage.active(now - self.started) else None
        return self.fault

    # -- rate limit ---------------------------------------------------------------------

    def throttle(self, now: float) -> int | None:
        """Seconds to retry after if this request goes beyond the limit, else None."""
        if not self.rate_limit:
            return None
        limit, window = self.rate_limit
        # Requests sent evenly at the limit can arrive a few ms closer than one window apart.
        grace = min(0.05, window / max(limit, 1) / 2)
        while self.served_at and self.served_at[0] <= now - window + grace:
            self.served_at.popleft()
        if len(self.served_at) >= limit:
            return max(1, math.ceil(self.served_at[0] + window - grace - now))
        self.served_at.append(now)
        self.stats.max_in_window = max(self.stats.max_in_window, len(self.served_at))
        return None

    # -- answers ------------------------------------------------------------------------

    def answer(self, target: str) -> tuple[int, str, bytes]:
        now = time.time()
        parts = urlsplit(target)
        key = (parts.path, parts.query)
        cached = self._cache.get(key)
        if cached and cached[0] > now:
            return cached[1]
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        bucket = int(now // self.ttl)
        handler = ROUTERS[self.format]
        result = handler(self, [unquote(p) for p in parts.path.split("/") if p], query, now, bucket)
        if result is None:
            result = (404, "text/plain", b"404 page not found\n")
        # Cache until the end of the pool's current period, like the real pools.
        self._cache[key] = ((bucket + 1) * self.ttl, result)
        if len(self._cache) > 20000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return result


def _json(document, status=200) -> tuple[int, str, bytes]:
    return status, "application/json; charset=utf-8", _dumps(document)


# ---------------------------------------------------------------------- open-ethereum-pool


def oep_route(pool: PoolState, path, query, now, bucket):
    if path[:1] != ["api"]:
        return None
    if len(path) == 3 and path[1] == "accounts":
        account = pool.account(path[2])
        if account is None or path[2] != path[2].lower():
            return 404, "text/plain", b""  # OEP: unknown (or not lower-cased) login, no body
        return _json(oep_account(pool, account, now, bucket))
    if path[1:] == ["stats"]:
        return _json(oep_stats(pool, now, bucket))
    if path[1:] == ["blocks"]:
        return _json(oep_blocks(pool))
    return None


def oep_account(pool, account: Account, now, bucket):
    workers, online, offline = {}, 0, 0
    rates = account.rates(bucket)
    for w, current, average in rates:
        workers[w.name] = {
            "lastBeat": int(now - w.beat_age_s),
            "hr": round(current),
            "offline": not w.online,
            "hr2": round(average),
        }
        online += w.online
        offline += not w.online
    beats = [int(now - w.beat_age_s) for w in account.workers]
    payments = [
        {"amount": amount // SHANNON, "timestamp": ts, "tx": tx}
        for tx, amount, ts in account.payouts[:OEP_PAGE_SIZE]
    ]
    stats = {
        "balance": account.unpaid_wei // SHANNON,
        "blocksFound": len(account.rewards),
        "lastShare": max(beats, default=0),
        "paid": account.paid_wei // SHANNON,
    }
    if account.immature_wei:  # a Redis hash field never incremented is absent
        stats["immature"] = account.immature_wei // SHANNON
    current_total = sum(c for _, c, _ in rates)
    return {
        "currentHashrate": round(current_total),
        "currentLuck": "0.8731",
        "hashrate": round(sum(a for _, _, a in rates)),
        "now": int(now * 1000),
        "pageSize": OEP_PAGE_SIZE,
        "payments": payments or None,  # Go writes an empty slice as null
        "paymentsTotal": len(account.payouts),
        "rewards": [{**r, "reward": r["reward"] // SHANNON} for r in account.rewards],
        "roundShares": int(current_total * 600),
        "stats": stats,
        "workers": workers,
        "workersOffline": offline,
        "workersOnline": online,
        "workersTotal": len(workers),
    }


def _pool_blocks(pool: PoolState, count=8):
    rng = random.Random(f"blocks:{pool.seed}:{pool.pool_id}")
    height, at, blocks = 19_990_000 + rng.randint(0, 9999), pool.anchor_s, []
    for i in range(count):
        at -= rng.randint(1800, 14400)
        blocks.append(
            {
                "height": height - i * rng.randint(50, 400),
                "timestamp": at,
                "difficulty": rng.randint(2_000_000_000_000, 4_000_000_000_000),
                "hash": tx_hash(rng),
                "reward": 2_560_000_000_000_000_000 + rng.randint(0, 10**17),
                "state": "immature" if i < 2 else "matured",
                "miner": f"0x{rng.getrandbits(160):040x}",
            }
        )
    return blocks


def oep_blocks(pool):
    matured, immature = [], []
    for b in _pool_blocks(pool):
        row = {
            "height": b["height"],
            "timestamp": b["timestamp"],
            "difficulty": b["difficulty"],
            "shares": b["difficulty"] // 2,
            "uncle": False,
            "uncleHeight": 0,
            "orphan": False,
            "hash": b["hash"],
            "reward": str(b["reward"]),
        }
        (immature if b["state"] == "immature" else matured).append(row)
    luck = {"64": {"luck": 0.97, "uncleRate": 0.02, "orphanRate": 0.0}}
    return {
        "candidates": None,
        "candidatesTotal": 0,
        "immature": immature,
        "immatureTotal": len(immature),
        "luck": luck,
        "matured": matured,
        "maturedTotal": len(matured),
    }


def oep_stats(pool, now, bucket):
    total = _pool_hashrate(pool, bucket)
    blocks = _pool_blocks(pool)
    return {
        "hashrate": round(total),
        "minersTotal": len(pool.logins),
        "maturedTotal": sum(b["state"] == "matured" for b in blocks),
        "immatureTotal": sum(b["state"] == "immature" for b in blocks),
        "candidatesTotal": 0,
        "nodes": [
            {
                "name": "main",
                "height": str(blocks[0]["height"] + 40),
                "difficulty": "3210987654321",
                "lastBeat": str(int(now)),
            }
        ],
        "now": int(now * 1000),
        "stats": {"lastBlockFound": blocks[0]["timestamp"], "roundShares": 123456789},
    }


# ------------------------------------------------------------------------------ Miningcore


def miningcore_route(pool: PoolState, path, query, now, bucket):
    if path == ["api", "pools"]:
        return _json({"pools": [miningcore_pool_info(pool, now, bucket)]})
    if path[:2] != ["api", "pools"] or len(path) < 3:
        return None
    if path[2] != pool.pool_id:
        return _json({"message": f"Unknown pool '{path[2]}'"}, 404)
    if len(path) == 3:
        return _json({"pool": miningcore_pool_info(pool, now, bucket)})
    if path[3:] == ["blocks"]:
        return _json(miningcore_blocks(pool, query))
    if len(path) < 5 or path[3] != "miners":
        return None
    account = pool.account(path[4])
    if len(path) == 5:
        if account is None:
            if pool.unknown_miningcore == "no-content":
                return 204, "application/json", b""
            # SUMs over no rows are NULL, mapped onto non-nullable decimals: zeros.
            return _json(
                {
                    "pendingShares": 0,
                    "pendingBalance": 0,
                    "totalPaid": 0,
                    "todayPaid": 0,
                    "lastPayment": None,
                    "lastPaymentLink": None,
                    "performance": None,
                    "performanceSamples": [],
                }
            )
        return _json(miningcore_miner(pool, account, now, bucket))
    if path[5:] == ["payments"]:
        rows = miningcore_payments(pool, account) if account else []
        page, size = int(query.get("page", 0)), int(query.get("pageSize", 15))
        return _json(rows[page * size : (page + 1) * size])
    return None


def _pool_hashrate(pool, bucket):
    return sum(c for login in pool.logins for _, c, _ in pool.account(login).rates(bucket))


def miningcore_pool_info(pool, now, bucket):
    """PoolInfo as PoolApiController.GetPoolInfoAsync maps it (Api/Responses/GetPoolsResponse.cs):
    the pool's configuration, poolStats, networkStats and the enrichments."""
    blocks = _pool_blocks(pool)
    hashrate = _pool_hashrate(pool, bucket)
    last_block = _iso(blocks[0]["timestamp"], zone=False)
    return {
        "id": pool.pool_id,
        "coin": {"type": pool.coin, "name": "Ethereum Classic", "symbol": pool.coin,
                 "family": "ethereum", "algorithm": "Etchash"},
        "ports": {"4073": {"difficulty": 4.0, "name": "GPU", "varDiff": None}},
        "paymentProcessing": {"enabled": True, "minimumPayment": 0.1, "payoutScheme": "PPLNS",
                              "payoutSchemeConfig": {"factor": 2.0}},
        "shareBasedBanning": None,
        "clientConnectionTimeout": 600,
        "jobRebroadcastTimeout": 10,
        "blockRefreshInterval": 400,
        "poolFeePercent": 1.0,
        "address": "0x" + "5e" * 20,
        "addressInfoLink": "https://etc.blockscout.com/address/0x" + "5e" * 20,
        "poolStats": {"lastPoolBlockTime": last_block, "connectedMiners": len(pool.logins),
                      "poolHashrate": round(hashrate, 2),
                      "sharesPerSecond": round(hashrate / SHARE_DIFFICULTY, 4)},
        "networkStats": {"networkType": "Main", "networkHashrate": 1.61e14,
                         "networkDifficulty": 2.093e15, "nextNetworkTarget": None,
                         "nextNetworkBits": None, "lastNetworkBlockTime": _iso(now, zone=True),
                         "blockHeight": blocks[0]["height"] + 40, "connectedPeers": 25,
                         "rewardType": "POW"},
        "topMiners": [{"miner": login.lower(), "hashrate": 0, "sharesPerSecond": 0}
                      for login in pool.logins[:15]],
        "totalPaid": coins(sum(pool.account(login).paid_wei for login in pool.logins)),
        "totalBlocks": len(blocks),
        "lastPoolBlockTime": last_block,
        "poolEffort": 0.4321,
    }  # fmt: skip


def miningcore_miner(pool, account: Account, now, bucket):
    last_perf = now - now % 300  # stats are written every few minutes
    workers = {
        w.name: {"hashrate": round(c, 2), "sharesPerSecond": round(c / SHARE_DIFFICULTY, 4)}
        for w, c, _ in account.rates(bucket)
        if w.online
    }
    samples = []
    hour = int(now // 3600 * 3600)
    for h in range(24, 0, -1):
        sample_workers = {
            w.name: {"hashrate": round(c, 2), "sharesPerSecond": round(c / SHARE_DIFFICULTY, 4)}
            for w, c, _ in account.rates(-(hour // 3600 - h))
            if w.online or h > 2
        }
        # Hourly samples come from the database without a zone on some versions.
        samples.append(
            {"created": _iso(hour - h * 3600, zone=h % 2 == 0), "workers": sample_workers}
        )
    today = now // 86400 * 86400
    last = account.payouts[0] if account.payouts else None
    return {
        "pendingShares": round(sum(w.nominal_hs for w in account.workers) / 1e3, 2),
        "pendingBalance": coins(account.unpaid_wei),
        "totalPaid": coins(account.paid_wei),
        "todayPaid": coins(sum(a for _, a, ts in account.payouts if ts >= today)),
        "lastPayment": _iso(last[2], zone=True) if last else None,
        "lastPaymentLink": f"https://etc.blockscout.com/tx/{last[0]}" if last else None,
        "performance": {"created": _iso(last_perf, zone=True), "workers": workers}
        if workers
        else None,
        "performanceSamples": samples,
    }


def miningcore_payments(pool, account: Account):
    return [
        {
            "coin": pool.coin,
            "address": account.login.lower(),
            "addressInfoLink": f"https://etc.blockscout.com/address/{account.login.lower()}",
            "amount": coins(amount),
            "transactionConfirmationData": tx,
            "transactionInfoLink": f"https://etc.blockscout.com/tx/{tx}",
            "created": _iso(ts, zone=i % 2 == 0),
        }
        for i, (tx, amount, ts) in enumerate(account.payouts)
    ]


def miningcore_blocks(pool, query):
    rows = [
        {
            "poolId": pool.pool_id,
            "blockHeight": b["height"],
            "networkDifficulty": float(b["difficulty"]),
            "status": "pending" if b["state"] == "immature" else "confirmed",
            "type": "block",
            "confirmationProgress": 0.4 if b["state"] == "immature" else 1.0,
            "effort": 0.93,
            "transactionConfirmationData": b["hash"],
            "reward": coins(b["reward"]),
            "infoLink": f"https://etc.blockscout.com/block/{b['height']}",
            "hash": b["hash"],
            "miner": b["miner"],
            "source": "",
            "created": _iso(b["timestamp"], zone=False),
        }
        for b in _pool_blocks(pool)
    ]
    page, size = int(query.get("page", 0)), int(query.get("pageSize", 15))
    return rows[page * size : (page + 1) * size]


# ---------------------------------------------------------------------------- Ethermine v1


def ethermine_pool_stats(pool, bucket):
    blocks = _pool_blocks(pool)
    hashrate = _pool_hashrate(pool, bucket)
    workers = sum(len(pool.account(login).workers) for login in pool.logins)
    return {
        "status": "OK",
        "data": {
            "minedBlocks": [{"number": b["height"], "miner": b["miner"][2:], "time": b["timestamp"]}
                            for b in blocks],
            "poolStats": {"hashRate": hashrate, "miners": len(pool.logins), "workers": workers},
            "price": {"usd": 18.72, "btc": 0.000213},
            "topMiners": [],
        },
    }  # fmt: skip


def ethermine_route(pool: PoolState, path, query, now, bucket):
    if path == ["poolStats"]:
        return _json(ethermine_pool_stats(pool, bucket))
    if len(path) != 3 or path[0] != "miner":
        return None
    miner, method = path[1], path[2]
    if method not in ("currentStats", "workers", "payouts"):
        return None
    if not _HEX40.match(miner):
        return _json({"status": "ERROR", "error": "Invalid address"})
    account = pool.account(miner)
    if account is None:
        return _json({"status": "OK", "data": "NO DATA"})
    # The answer is the pool's cached view, taken at the start of its 2-minute cache period.
    stamp = int(bucket * pool.ttl)
    rates = account.rates(bucket)
    workers = []
    for w, current, _ in rates:
        reported = w.nominal_hs * 1.02 if w.online else 0
        workers.append(
            {
                "worker": w.name,
                "time": stamp,
                "lastSeen": int(stamp - w.beat_age_s),
                "reportedHashrate": round(reported),
                "currentHashrate": current,
                "validShares": round(current * 3600 / SHARE_DIFFICULTY),
                "invalidShares": 0,
                "staleShares": round(current * 3600 / SHARE_DIFFICULTY * 0.01),
            }
        )
    if method == "workers":
        return _json({"status": "OK", "data": workers})
    if method == "payouts":
        data = [
            {
                "paidOn": ts,
                "start": 23_400_000 - i * 8000,
                "end": 23_408_000 - i * 8000 - 1,
                "amount": amount,
                "txHash": tx,
            }
            for i, (tx, amount, ts) in enumerate(account.payouts)
        ]
        return _json({"status": "OK", "data": data})
    current = sum(c for _, c, _ in rates)
    return _json(
        {
            "status": "OK",
            "data": {
                "time": stamp,
                "lastSeen": max(w["lastSeen"] for w in workers),
                "reportedHashrate": sum(w["reportedHashrate"] for w in workers),
                "currentHashrate": current,
                "validShares": sum(w["validShares"] for w in workers),
                "invalidShares": 0,
                "staleShares": sum(w["staleShares"] for w in workers),
                "averageHashrate": sum(a for _, _, a in rates),
                "activeWorkers": sum(w.online for w in account.workers),
                "unpaid": account.unpaid_wei,
                "unconfirmed": account.immature_wei,
                "coinsPerMin": round(current / 1e6 * 6.1e-8, 10),
                "usdPerMin": round(current / 1e6 * 1.16e-6, 10),
                "btcPerMin": round(current / 1e6 * 1.3e-11, 14),
            },
        }
    )


# ----------------------------------------------------------------------------- Nanopool v1


def nanopool_route(pool: PoolState, path, query, now, bucket):
    if len(path) == 4 and path[:1] == ["v1"] and path[2] == "pool":
        return nanopool_pool(pool, path[1].lower(), path[3], bucket)
    if len(path) != 4 or path[0] != "v1" or path[2] not in ("user", "payments"):
        return None
    coin, method, address = path[1].lower(), path[2], path[3]
    if coin != pool.coin.lower():
        return _json({"status": False, "error": "Unknown coin"})
    account = pool.account(address)
    if account is None:
        return _json({"status": False, "error": "Account not found"})
    if method == "payments":
        data = [
            {"date": ts, "txHash": tx, "amount": coins(amount), "confirmed": i > 0}
            for i, (tx, amount, ts) in enumerate(account.payouts)
        ]
        return _json({"status": True, "data": data})
    unit = NANOPOOL_UNIT.get(coin, 1.0)
    rng = random.Random(f"nanopool:{account.rng_seed}")
    workers = []
    for i, (w, current, average) in enumerate(account.rates(bucket)):
        windows = {
            f"h{h}": round(average / unit * rng.uniform(0.97, 1.03), 2) for h in (1, 3, 6, 12, 24)
        }
        # Clients meet both spellings of lastShare.
        workers.append(
            {
                "id": w.name,
                "uid": 4_400_000 + rng.randint(0, 99999),
                "hashrate": round(current / unit, 2),
                "lastShare" if i % 2 == 0 else "lastshare": int(now - w.beat_age_s),
                "rating": rng.randint(10, 5000),
                **windows,
            }
        )
    average = sum(a for _, _, a in account.rates(bucket)) / unit
    balance = coins(account.unpaid_wei)
    return _json(
        {
            "status": True,
            "data": {
                "account": account.login,
                "unconfirmed_balance": coins(account.immature_wei),
                # The balance comes as a string on some answers.
                "balance": _decimal_text(balance) if rng.random() < 0.5 else balance,
                "hashrate": round(sum(w["hashrate"] for w in workers), 2),
                "avgHashrate": {
                    f"h{h}": round(average * rng.uniform(0.98, 1.02), 2) for h in (1, 3, 6, 12, 24)
                },
                "workers": workers,
            },
        }
    )


def nanopool_pool(pool, coin, method, bucket):
    """`/v1/{coin}/pool/{hashrate|activeminers|activeworkers}`: one bare number each, the
    hashrate in the coin's unit (Mh/s for the ETH family)."""
    if coin != pool.coin.lower():
        return _json({"status": False, "error": "Unknown coin"})
    if method == "hashrate":
        value = round(_pool_hashrate(pool, bucket) / NANOPOOL_UNIT.get(coin, 1.0), 2)
    elif method == "activeminers":
        value = len(pool.logins)
    elif method == "activeworkers":
        value = sum(len(pool.account(login).workers) for login in pool.logins)
    else:
        return None
    return _json({"status": True, "data": value})


ROUTERS = {
    "open-ethereum-pool": oep_route,
    "miningcore": miningcore_route,
    "ethermine-v1": ethermine_route,
    "nanopool-v1": nanopool_route,
}


# --------------------------------------------------------------------------------- HTTP

# Every pool answer carries these, as the real pools' (nginx or Cloudflare fronted) do.
POOL_HEADERS = (("Cache-Control", "no-cache"), ("Access-Control-Allow-Origin", "*"))


class _PoolApp(HttpApp):
    """GET only; the rate limit, then the configured fault, then the pool's answer."""

    def __init__(self, pool: PoolState):
        self.pool = pool

    def connected(self, connection: HttpConnection) -> None:
        if self.pool.fault == "down":
            self.pool.stats.faults += 1
            connection.abort()

    def bad_request(self, reason: str) -> Response:
        self.pool.stats.requests += 1
        return self.counted(400, "text/plain", b"Bad Request")

    def handle(self, request: Request, connection: HttpConnection) -> Response | None:
        pool, stats = self.pool, self.pool.stats
        stats.requests += 1
        retry_after = pool.throttle(time.monotonic())
        if retry_after is not None:
            stats.rate_limited += 1
            body = _dumps({"error": "Too many requests", "retryAfter": retry_after})
            return self.counted(429, "application/json", body, ("Retry-After", str(retry_after)))
        stats.served += 1
        fault = pool.fault_at(time.time())
        if fault == "slow":
            stats.faults += 1
            connection.call_later(pool.slow_s, self.respond_late, request, connection)
            return None
        if request.method != "GET":
            return self.counted(405, "text/plain", b"Method Not Allowed")
        if fault == "html":
            stats.faults += 1
            return self.counted(502, "text/html", HTML_PAGE)
        if fault == "http500":
            stats.faults += 1
            return self.counted(500, "text/plain", b"Internal Server Error")
        if fault == "garbage":
            stats.faults += 1
            return self.counted(200, "application/json", GARBAGE)
        return self.counted(*pool.answer(request.target))

    def respond_late(self, request: Request, connection: HttpConnection) -> None:
        if not connection.is_closing:
            connection.respond(self.counted(*self.pool.answer(request.target)), request.keep_alive)

    def counted(self, status, content_type, body, *headers) -> Response:
        self.pool.stats.statuses[status] += 1
        return Response(status, content_type, body, POOL_HEADERS + headers)


async def start_pool_server(
    fmt: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    accounts: dict[str, dict] | None = None,
    coin: str = "ETC",
    pool_id: str = "etc1",
    fault: str | None = None,
    rate_limit: tuple[int, float] | None = None,
    seed: int = 1,
    slow_s: float = 15.0,
    outage: FaultCycle | None = None,
) -> asyncio.Server:
    """Serves a pool of format `fmt`. `accounts` maps login → options (workers, offline,
    hashrate_hs, payouts [(tx, amount_wei, unix_s)], payout_count, blocks, unpaid_wei,
    immature_wei); None gives three generated accounts. `outage`: 502s while its cycle holds
    (seconds since the start), see the module docstring. The returned server carries
    `server.pool` (PoolState: logins, options) and `server.stats` (PoolStats counters)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}")
    if rate_limit is not None:
        requests, window_s = rate_limit
        if requests < 1 or window_s <= 0:
            raise ValueError(f"bad rate limit {rate_limit!r}")
        rate_limit = (int(requests), float(window_s))
    if accounts is None:
        accounts = {login: {} for login in make_logins(3, seed)}
    pool = PoolState(
        fmt,
        accounts,
        coin=coin,
        pool_id=pool_id,
        fault=fault,
        rate_limit=rate_limit,
        seed=seed,
        slow_s=slow_s,
        outage=outage,
    )
    server = await serve(_PoolApp(pool), host, port)
    server.pool = pool
    server.stats = pool.stats
    return server


async def stop_pool_server(server: asyncio.Server) -> None:
    """Stops listening and drops open connections, including slow ones."""
    await close_server(server)


# ----------------------------------------------------------------------------------- CLI


def _rate(text: str) -> tuple[int, float]:
    requests, _, window = text.partition("/")
    return int(requests), float(window or 1)


def _generated_accounts(count: int, seed: int) -> dict[str, dict]:
    rng = random.Random(f"fleet-accounts:{seed}")
    accounts = {}
    for login in make_logins(count, seed):
        workers = rng.randint(1, 5)
        # About one account in five has a rig that stopped hashing.
        accounts[login] = {"workers": workers, "offline": int(rng.random() < 0.2 and workers > 1)}
    return accounts


async def _serve(args) -> int:
    stop = stop_on_signals()
    specs = []
    if args.fleet:
        for i in range(args.fleet):
            specs.append((FORMATS[i % len(FORMATS)], args.seed + i))
    else:
        specs.append((args.format, args.seed))
    rate = _rate(args.rate_limit) if args.rate_limit else None
    servers, endpoints = [], []
    for fmt, seed in specs:
        accounts = _generated_accounts(args.accounts, seed)
        server = await start_pool_server(
            fmt,
            host=args.host,
            port=0 if args.fleet else args.port,
            accounts=accounts,
            coin=args.coin,
            pool_id=args.pool_id,
            fault=args.fault,
            rate_limit=rate,
            seed=seed,
            outage=args.outage,
        )
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        endpoints.append(
            {
                "format": fmt,
                "port": port,
                "base_url": f"http://{args.host}:{port}",
                "coin": args.coin,
                "pool_id": args.pool_id,
                "rate_limit": list(rate) if rate else None,
                "logins": list(accounts),
            }
        )
    document = endpoints if args.fleet else endpoints[0]
    text = json.dumps(document, indent=1)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    else:
        print(text, flush=True)
    await stop.wait()
    for server in servers:
        print(
            f"{server.pool.format}:{server.sockets[0].getsockname()[1]} {server.stats}",
            file=sys.stderr,
        )
        await stop_pool_server(server)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", choices=FORMATS, default="open-ethereum-pool")
    parser.add_argument("--fleet", type=int, default=0, help="start N servers of mixed formats")
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--rate-limit", help="REQUESTS/SECONDS, e.g. 10/1")
    parser.add_argument("--fault", choices=[f for f in FAULTS if f])
    parser.add_argument(
        "--outage", type=FaultCycle.parse, metavar="EVERY:FOR[:AT]",
        help="seconds; answer 502 (an HTML page) while this cycle holds",
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--coin", default="ETC")
    parser.add_argument("--pool-id", default="etc1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    sys.exit(main())
