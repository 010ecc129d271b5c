"""open-ethereum-pool (2Miners) and Miningcore formats against answers in the real shape."""

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest

from pools.formats import FORMATS, PoolEndpoint, PoolError
from pools.formats import miningcore as mc
from pools.formats import open_ethereum_pool as oep

FIXTURES = Path(__file__).parent / "fixtures" / "pools"
SHANNON = 10**9  # wei
ETHER = 10**18  # wei


def load(name):
    return json.loads((FIXTURES / name).read_text())


def utc(*args):
    return datetime(*args, tzinfo=UTC)


class FakeGetJson:
    """The poller's get_json: answers by path (optionally with its query), records every call."""

    def __init__(self, routes):
        self.routes = routes
        self.calls = []

    async def __call__(self, path, params=None):
        self.calls.append((path, dict(params or {})))
        for key in (f"{path}?{urlencode(params)}" if params else None, path):
            if key in self.routes:
                return self.routes[key]
        raise PoolError("not_found", "HTTP 404", status=404)


# GetMinerInfoAsync for a miner with no rows: SUMs over nothing come back as zeros.
MC_ZEROS = {
    "pendingShares": 0, "pendingBalance": 0, "totalPaid": 0, "todayPaid": 0,
    "lastPayment": None, "lastPaymentLink": None, "performance": None, "performanceSamples": [],
}  # fmt: skip


def test_registered():
    assert FORMATS["open-ethereum-pool"] is oep
    assert FORMATS["miningcore"] is mc
    assert oep.DEFAULT_INTERVAL_S == 120 and mc.DEFAULT_INTERVAL_S == 120
    assert mc.RATE_LIMIT == (5, 1.0)


# --- open-ethereum-pool ------------------------------------------------------------------------


def test_amount_to_base():
    assert oep.amount_to_base(1, 18) == SHANNON
    assert oep.amount_to_base("123456789", 18) == 123456789 * SHANNON
    assert oep.amount_to_base(1, 8, pool_decimals=8) == 1
    assert oep.amount_to_base(1000, 6, pool_decimals=9) == 1
    with pytest.raises(PoolError) as err:
        oep.amount_to_base(1001, 6, pool_decimals=9)
    assert err.value.kind == "bad_answer"
    assert oep.pool_amount_decimals("etc") == 9
    assert oep.pool_amount_decimals("XYZ") == oep.DEFAULT_POOL_AMOUNT_DECIMALS


def test_oep_account_field_by_field():
    snap = oep.parse_account(load("oep_account.json"), coin_decimals=18, pool_decimals=9)
    assert snap.current_hashrate_hs == 546913468.0
    assert snap.average_hashrate_hs == 590123455.0
    assert snap.reported_hashrate_hs is None
    assert snap.unpaid == 123456789 * SHANNON
    assert snap.unpaid == 123456789000000000  # 0.123456789 ETC
    assert snap.immature == 0  # the key is absent: never incremented
    assert snap.paid_total == 5123456789 * SHANNON
    assert snap.last_share_at == utc(2024, 5, 1, 12, 51, 30)
    assert (snap.workers_online, snap.workers_offline) == (2, 1)
    assert (snap.shares_valid, snap.shares_stale, snap.shares_invalid) == (None, None, None)

    assert [w.name for w in snap.workers] == ["rig01", "rig02", "rig03"]
    rig01, rig02, rig03 = snap.workers
    assert rig01.current_hashrate_hs == 301234567.0
    assert rig01.average_hashrate_hs == 298765432.0
    assert rig01.last_share_at == utc(2024, 5, 1, 12, 51, 30)
    assert rig01.online is True and rig02.online is True
    assert rig03.online is False
    assert rig03.current_hashrate_hs == 0.0 and rig03.average_hashrate_hs == 41234567.0
    assert rig03.last_share_at == utc(2024, 5, 1, 12, 3, 32)
    assert rig01.shares_valid is None

    assert len(snap.payouts) == 4
    first = snap.payouts[0]
    assert first.tx_hash == "0x8f3c2a9e1d7b4c6a0e5f9d2b3a1c7e8f6d4b2a0c9e7f5d3b1a8c6e4f2d0b9a7c"
    assert first.amount == 1500000000 * SHANNON
    assert first.paid_at == utc(2024, 5, 1, 8, 0, 0)
    assert first.fee is None
    # Upper-case hex from the pool is normalised to lower case.
    assert snap.payouts[2].tx_hash == snap.payouts[2].tx_hash.lower()
    assert sum(p.amount for p in snap.payouts) == snap.paid_total
    assert snap.blocks == []


def test_2miners_account_field_by_field():
    snap = oep.parse_account(load("2miners_account.json"), coin_decimals=18, pool_decimals=9)
    assert snap.current_hashrate_hs == 812345678.5
    assert snap.average_hashrate_hs == 798765432.1
    assert (snap.shares_valid, snap.shares_stale, snap.shares_invalid) == (2841, 12, 0)
    assert snap.unpaid == 734562118 * SHANNON  # `pending: false` is not money
    assert snap.immature == 31456789 * SHANNON
    assert snap.paid_total == 61234567890 * SHANNON
    assert snap.last_share_at == utc(2024, 5, 1, 12, 51, 41)
    assert (snap.workers_online, snap.workers_offline) == (2, 0)

    a, b = snap.workers
    assert a.name == "gpu-farm-a"
    assert a.last_share_at == utc(2024, 5, 1, 12, 51, 41)  # lastBeat was a string
    assert (a.shares_valid, a.shares_stale, a.shares_invalid) == (1792, 7, 0)
    assert a.current_hashrate_hs == 512345678.5 and a.average_hashrate_hs == 498765432.1
    assert b.online is True and b.shares_valid == 1049

    assert [p.fee for p in snap.payouts] == [210000 * SHANNON, 210000 * SHANNON]
    assert snap.payouts[0].amount == 1052347811 * SHANNON
    assert snap.payouts[0].paid_at == utc(2024, 5, 1, 0, 0, 0)

    assert [(b.height, b.status) for b in snap.blocks] == [
        (19876543, "immature"),
        (19876102, "matured"),
    ]
    assert snap.blocks[0].reward == 31456789 * SHANNON
    assert snap.blocks[0].found_at == utc(2024, 5, 1, 12, 24, 0)


def test_oep_now_is_milliseconds():
    # A fork without `offline` flags: online is derived from `now` (ms) and lastBeat (s).
    now_ms = 1714567890123
    data = {
        "now": now_ms,
        "currentHashrate": 10,
        "workers": {
            "fresh": {"lastBeat": 1714567800, "hr": 5},
            "stale": {"lastBeat": 1714567890 - 16 * 60, "hr": 0},
        },
    }
    snap = oep.parse_account(data)
    fresh, stale = snap.workers
    assert fresh.online is True and stale.online is False
    assert (snap.workers_online, snap.workers_offline) == (1, 1)
    # Read as seconds, `now` would lie millennia ahead and every worker would look offline.
    assert snap.last_share_at == utc(2024, 5, 1, 12, 50, 0)


def test_oep_missing_and_null_fields():
    # A Redis hash with only lastShare: the money fields were never incremented.
    answer = {"stats": {"lastShare": 0}, "payments": None, "workers": {}, "hashrate": None}
    snap = oep.parse_account(answer)
    assert snap.current_hashrate_hs is None and snap.average_hashrate_hs is None
    assert (snap.unpaid, snap.immature, snap.paid_total) == (0, 0, 0)
    assert snap.last_share_at is None
    assert snap.payouts == [] and snap.workers == []
    assert (snap.workers_online, snap.workers_offline) == (0, 0)

    no_stats = oep.parse_account({"currentHashrate": 0, "hashrate": 0})
    assert no_stats.unpaid is None and no_stats.paid_total is None
    assert no_stats.workers_online is None


def test_oep_numbers_as_strings_and_hashrate_maps():
    data = {
        "currentHashrates": {"32": "512.5"},
        "hashrates": {"31": 1.5, "32": 506.99},
        "stats": {"balance": "1500", "lastShare": "1714567890", "pending": True},
        "workers": {"w": {"hr": "2.5", "hr2": "3", "lastBeat": "1714567890", "offline": False}},
        "workersOnline": "1",
        "workersOffline": "0",
        "payments": [{"tx": "abc", "amount": "7", "timestamp": "1714567890", "txFee": "1"}],
    }
    snap = oep.parse_account(data, coin_decimals=9, pool_decimals=9)
    assert snap.current_hashrate_hs == 512.5
    assert snap.average_hashrate_hs == pytest.approx(508.49)
    assert snap.unpaid == 1500 and snap.paid_total == 0
    assert snap.workers[0].current_hashrate_hs == 2.5
    assert (snap.workers_online, snap.workers_offline) == (1, 0)
    assert snap.payouts[0].tx_hash == "abc"  # non-EVM ids are kept as given
    assert (snap.payouts[0].amount, snap.payouts[0].fee) == (7, 1)


@pytest.mark.asyncio
async def test_oep_fetch_lowercases_login_and_uses_per_coin_decimals():
    login = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
    get = FakeGetJson({f"/api/accounts/{login.lower()}": load("oep_account.json")})
    endpoint = PoolEndpoint("open-ethereum-pool", "https://etc.example", login, "ETC")
    snap = await oep.fetch_account(get, endpoint)
    assert get.calls == [(f"/api/accounts/{login.lower()}", {})]
    assert snap.unpaid == 123456789 * SHANNON


# 2Miners' coins outside the ETH family report amounts in the coin's own smallest unit (sources
# per coin in pools/known_pools.json): 1e-8 RVN and sompi (1e-8 KAS), not Shannon.
RVN_WALLET = "RKPyKUJ8gGmRSDAt7ueNkmdAPF12vjuALT"
KAS_WALLET = "kaspa:qyp6mntj6r99luus6lxv4svlpfwss4eccpca6fs4v7l9ltqcsvsu7hqfn34dl5l"


@pytest.mark.asyncio
async def test_2miners_rvn_amounts_are_ravencoin_satoshi():
    get = FakeGetJson({f"/api/accounts/{RVN_WALLET}": load("2miners_account_rvn.json")})
    endpoint = PoolEndpoint("open-ethereum-pool", "https://rvn.2miners.com", RVN_WALLET, "RVN", 8)
    snap = await oep.fetch_account(get, endpoint)
    # A base58 address is case-sensitive: asked exactly as given.
    assert get.calls == [(f"/api/accounts/{RVN_WALLET}", {})]
    assert snap.unpaid == 1234567890  # 12.34567890 RVN
    assert snap.immature == 28765432
    assert snap.paid_total == 30012345678  # 300.12345678 RVN
    assert [p.amount for p in snap.payouts] == [2500123456, 2500654321]
    assert snap.payouts[0].tx_hash == (
        "5b1e9c3d7a2f6e0b4c8d1a5f9e3b7c2d6a0f4e8b1d6f0a4e8b2c7d1f5a9e3b7c"
    )
    assert [b.reward for b in snap.blocks] == [28765432]
    assert snap.current_hashrate_hs == 63512345.5  # KawPow H/s, a scalar like ETC's
    assert (snap.shares_valid, snap.shares_stale, snap.workers_online) == (1412, 3, 1)


@pytest.mark.asyncio
async def test_2miners_kas_amounts_are_sompi_and_the_prefix_is_kept():
    get = FakeGetJson({f"/api/accounts/{KAS_WALLET}": load("2miners_account_kas.json")})
    endpoint = PoolEndpoint("open-ethereum-pool", "https://kas.2miners.com", KAS_WALLET, "KAS", 8)
    snap = await oep.fetch_account(get, endpoint)
    assert get.calls == [(f"/api/accounts/{KAS_WALLET}", {})]  # "kaspa:" sent as is
    assert snap.unpaid == 4187654321  # 41.87654321 KAS
    assert snap.immature == 167654321
    assert snap.paid_total == 10012345678
    assert [p.amount for p in snap.payouts] == [10012345678]
    assert [b.reward for b in snap.blocks] == [167654321]
    assert snap.current_hashrate_hs == 1512345678901.5  # a KS0 Pro's 1.5 TH/s in H/s


@pytest.mark.parametrize(
    ("coin", "coin_decimals", "pool_amount", "base_amount"),
    [
        ("ERG", 9, 1234567891, 1234567891),  # nanoErg: Ergo's own unit
        ("ZEC", 8, 1234567891, 1234567891),  # zatoshi
        ("NEXA", 2, 1234567891, 1234567891),  # 12345678.91 NEXA, in Nexa's 0.01
        ("CTXC", 18, 1234567891, 1234567891 * SHANNON),  # Shannon, as ETC
    ],
)
def test_2miners_amount_unit_per_coin(coin, coin_decimals, pool_amount, base_amount):
    answer = load("2miners_account_kas.json")
    answer["stats"]["balance"] = pool_amount
    snap = oep.parse_account(
        answer, coin_decimals=coin_decimals, pool_decimals=oep.pool_amount_decimals(coin)
    )
    assert snap.unpaid == base_amount


# Upstream open-ethereum-pool before its IsMinerExists check: a wallet with no shares gets the
# empty Redis hash and zero totals (api/server.go AccountIndex at 04bf8ce).
OEP_EMPTY_ACCOUNT = {
    "currentHashrate": 0, "hashrate": 0, "pageSize": 30, "payments": None, "paymentsTotal": 0,
    "roundShares": 0, "stats": {}, "workers": {}, "workersOffline": 0, "workersOnline": 0,
    "workersTotal": 0,
}  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", [{}, None, {"error": "not found"}, OEP_EMPTY_ACCOUNT])
async def test_oep_wallet_without_shares_is_no_data(answer):
    get = FakeGetJson({"/api/accounts/0xdead": answer})
    endpoint = PoolEndpoint("open-ethereum-pool", "https://etc.example", "0xdead", "ETC")
    with pytest.raises(PoolError) as err:
        await oep.fetch_account(get, endpoint)
    assert err.value.kind == "no_data"
    assert "no data for this wallet yet" in str(err.value)


@pytest.mark.asyncio
async def test_oep_404_for_the_account_is_no_data():
    # OEP's AccountIndex: `if !exist { w.WriteHeader(http.StatusNotFound); return }`, no body.
    get = FakeGetJson({})
    endpoint = PoolEndpoint("open-ethereum-pool", "https://etc.example", "0xdead", "ETC")
    with pytest.raises(PoolError) as err:
        await oep.fetch_account(get, endpoint)
    assert (err.value.kind, err.value.status) == ("no_data", 404)


@pytest.mark.parametrize(
    "answer",
    [
        [],
        [{"stats": {}}],
        {"stats": []},
        {"workers": []},
        {"workers": {"w": "down"}},
        {"payments": {"tx": "x"}},
        {"payments": [{"tx": "0xab", "amount": "lots", "timestamp": 1}]},
        {"currentHashrate": "fast"},
        {"stats": {"balance": 1.5}},
        {"unexpected": 1},
    ],
)
def test_oep_garbage_is_bad_answer(answer):
    with pytest.raises(PoolError) as err:
        oep.parse_account(answer)
    assert err.value.kind == "bad_answer"


# --- Miningcore --------------------------------------------------------------------------------

ADDRESS = "0x7d3a9f1c5e2b8d4a6f0c3e9b1d7a5f2c8e4b6d0a"
MINER = f"/api/pools/etc1/miners/{ADDRESS}"


def payments_key(page):
    return f"{MINER}/payments?" + urlencode({"page": page, "pageSize": mc.PAYMENTS_PAGE_SIZE})


def endpoint(login=ADDRESS, pool_id="etc1"):
    return PoolEndpoint("miningcore", "https://pool.example", login, "ETC", 18, pool_id)


def test_decimal_to_base_is_exact():
    assert mc.decimal_to_base(1.02345678, 18) == 1023456780000000000
    assert mc.decimal_to_base("0.1", 18) == ETHER // 10
    assert mc.decimal_to_base(0, 18) == 0
    assert mc.decimal_to_base("12.5", 8) == 1250000000
    assert mc.decimal_to_base("123456789012.123456789012345678", 18) == (
        123456789012123456789012345678
    )
    for bad in ("0.000000001", "NaN", "Infinity", "x", True, [1]):
        with pytest.raises(PoolError) as err:
            mc.decimal_to_base(bad, 8)
        assert err.value.kind == "bad_answer"


def test_parse_time_defaults_to_utc():
    assert mc.parse_time("2024-05-01T10:00:00") == utc(2024, 5, 1, 10)
    assert mc.parse_time("2024-05-01T10:00:00Z") == utc(2024, 5, 1, 10)
    assert mc.parse_time("2024-05-01T12:00:00+02:00") == utc(2024, 5, 1, 10)
    assert mc.parse_time("2024-05-01T10:00:00.1234567Z") == utc(2024, 5, 1, 10, 0, 0, 123456)


def test_miningcore_miner_field_by_field():
    snap = mc.parse_miner(load("miningcore_miner.json"), 18)
    assert snap.unpaid == 481234560000000000  # 0.48123456 ETC
    assert snap.paid_total == 18202345670000000000
    assert snap.immature is None
    assert snap.current_hashrate_hs == pytest.approx(393345678.9)
    # Mean of the hourly totals 480, 399 and 390 MH/s.
    assert snap.average_hashrate_hs == pytest.approx(423e6)
    assert [w.name for w in snap.workers] == ["", "old-rig", "rig2"]
    default, old, rig2 = snap.workers
    assert default.current_hashrate_hs == 152345678.9
    assert default.average_hashrate_hs == pytest.approx(152e6)
    assert default.online is True and rig2.online is True
    assert old.online is False and old.current_hashrate_hs == 0.0
    assert old.average_hashrate_hs == pytest.approx(30e6)
    assert (snap.workers_online, snap.workers_offline) == (2, 1)


def test_miningcore_wrapped_shape_and_missing_fields():
    wrapped = {"result": load("miningcore_miner.json"), "success": True}
    assert mc.parse_miner(wrapped).unpaid == 481234560000000000

    bare = mc.parse_miner(
        {
            "pendingShares": 0,
            "pendingBalance": None,
            "totalPaid": "2.5",
            "lastPayment": None,
            "performance": None,
            "performanceSamples": None,
        }
    )
    assert bare.unpaid is None and bare.paid_total == 25 * ETHER // 10
    assert bare.current_hashrate_hs == 0.0 and bare.average_hashrate_hs is None
    assert bare.workers == [] and (bare.workers_online, bare.workers_offline) == (0, 0)

    strings = mc.parse_miner(
        {"pendingBalance": "0.5", "performance": {"workers": {"a": {"hashrate": "1e6"}}}}
    )
    assert strings.current_hashrate_hs == 1e6 and strings.unpaid == ETHER // 2


def test_miningcore_payments_field_by_field_and_dedupe():
    page0, page1 = load("miningcore_payments_page0.json"), load("miningcore_payments_page1.json")
    payouts = mc.parse_payments([page0, page1], 18)
    assert len(page0) + len(page1) == 18
    assert len(payouts) == 17  # page 0's last payout shifted onto page 1
    assert len({p.tx_hash for p in payouts}) == 17
    first = payouts[0]
    assert first.tx_hash == page0[0]["transactionConfirmationData"]
    assert first.amount == 1023456780000000000
    assert first.paid_at == utc(2024, 5, 1, 9, 15, 2, 123456)
    assert first.fee is None
    # Rows without a zone are UTC too.
    assert not page0[1]["created"].endswith("Z")
    assert payouts[1].paid_at == utc(2024, 4, 30, 22, 7, 49, 123456)
    assert all(p.paid_at.tzinfo is UTC for p in payouts)


@pytest.mark.asyncio
async def test_miningcore_fetch_pages_until_short_page():
    get = FakeGetJson(
        {
            f"{MINER}?perfMode=Day": load("miningcore_miner.json"),
            payments_key(0): load("miningcore_payments_page0.json"),
            payments_key(1): load("miningcore_payments_page1.json"),
        }
    )
    snap = await mc.fetch_account(get, endpoint(login=ADDRESS.upper().replace("0X", "0x")))
    assert get.calls == [
        (MINER, {"perfMode": "Day"}),
        (f"{MINER}/payments", {"page": 0, "pageSize": mc.PAYMENTS_PAGE_SIZE}),
        (f"{MINER}/payments", {"page": 1, "pageSize": mc.PAYMENTS_PAGE_SIZE}),
    ]
    assert len(snap.payouts) == 17
    assert snap.unpaid == 481234560000000000


@pytest.mark.asyncio
async def test_miningcore_paging_never_exceeds_cap():
    full = load("miningcore_payments_page0.json")
    routes = {f"{MINER}?perfMode=Day": load("miningcore_miner.json")}
    for page in range(10):
        routes[payments_key(page)] = [
            {**row, "transactionConfirmationData": f"0x{page:02x}{i:062x}"}
            for i, row in enumerate(full)
        ]
    get = FakeGetJson(routes)
    snap = await mc.fetch_account(get, endpoint())
    assert len(get.calls) == 1 + mc.MAX_PAYMENT_PAGES
    assert len(snap.payouts) == mc.PAYMENTS_PAGE_SIZE * mc.MAX_PAYMENT_PAGES


@pytest.mark.asyncio
async def test_miningcore_empty_first_page():
    get = FakeGetJson({f"{MINER}?perfMode=Day": load("miningcore_miner.json"), payments_key(0): []})
    snap = await mc.fetch_account(get, endpoint())
    assert snap.payouts == [] and len(get.calls) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", [None, {}, {"result": None, "success": False}, MC_ZEROS])
async def test_miningcore_miner_without_shares_is_no_data(answer):
    get = FakeGetJson({f"{MINER}?perfMode=Day": answer})
    with pytest.raises(PoolError) as err:
        await mc.fetch_account(get, endpoint())
    assert err.value.kind == "no_data"
    assert len(get.calls) == 1  # no payment pages for a miner the pool has nothing of


@pytest.mark.asyncio
async def test_miningcore_404_is_an_unknown_pool_id():
    get = FakeGetJson({})  # every path 404s, as GetPool does for a pool id it does not run
    with pytest.raises(PoolError) as err:
        await mc.fetch_account(get, endpoint())
    assert err.value.kind == "not_found"
    assert "no pool with the id" in str(err.value)


@pytest.mark.asyncio
async def test_miningcore_without_pool_id():
    get = FakeGetJson({})
    with pytest.raises(PoolError) as err:
        await mc.fetch_account(get, endpoint(pool_id=""))
    assert err.value.kind == "not_found" and get.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("miner", "page0"),
    [
        ([], []),
        ({"pendingBalance": 1, "performance": []}, []),
        ({"pendingBalance": 1, "performance": {"workers": [1]}}, []),
        ({"pendingBalance": 1}, {"payments": []}),
        ({"pendingBalance": 1}, [["0xab", 1.0]]),
        ({"pendingBalance": 1}, [{"amount": 1, "created": "yesterday"}]),
    ],
)
async def test_miningcore_garbage_is_bad_answer(miner, page0):
    get = FakeGetJson({f"{MINER}?perfMode=Day": miner, payments_key(0): page0})
    with pytest.raises(PoolError) as err:
        await mc.fetch_account(get, endpoint())
    assert err.value.kind == "bad_answer"


def test_parse_notification():
    found = mc.parse_notification(
        '{"poolId":"etc1","blockHeight":19876543,"symbol":"ETC","name":"Ethereum Classic",'
        '"miner":"0x7d3a","minerExplorerLink":null,"source":"","type":"blockfound"}'
    )
    assert found == {
        "type": "block_found",
        "pool_id": "etc1",
        "height": 19876543,
        "symbol": "ETC",
        "miner": "0x7d3a",
        "source": "",
    }
    payment = mc.parse_notification(
        {
            "poolId": "etc1",
            "txFee": 0.000441,
            "txIds": ["0xABCDEF"],
            "txExplorerLinks": [],
            "symbol": "ETC",
            "recipientsCount": 12,
            "amount": 14.25,
            "error": None,
            "type": "payment",
        }
    )
    assert payment["amount"] == 1425 * ETHER // 100
    assert payment["fee"] == 441 * 10**12
    assert payment["tx_hashes"] == ["0xabcdef"] and payment["recipients"] == 12
    assert payment["error"] is None
    rate = mc.parse_notification(
        b'{"poolId":"etc1","hashrate":152345678.9,"miner":"0x7d3a","worker":null,'
        b'"type":"hashrateupdated"}'
    )
    assert rate == {
        "type": "hashrate",
        "pool_id": "etc1",
        "miner": "0x7d3a",
        "worker": "",
        "hashrate_hs": 152345678.9,
    }
    greeting = '{"message":"Connected to Miningcore notification relay","type":"greeting"}'
    assert mc.parse_notification(greeting) is None
    for bad in ("not json", "[1]"):
        with pytest.raises(PoolError):
            mc.parse_notification(bad)
