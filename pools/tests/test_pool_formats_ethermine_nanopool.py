"""Ethermine/Flypool v1 and Nanopool v1 formats against hand-written answers in the real shape."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pools.formats import FORMATS, PoolEndpoint, PoolError, ethermine, nanopool

FIXTURES = Path(__file__).parent / "fixtures" / "pools"
ETC_LOGIN = "0xf1f836F99eEE3692f09E2e8c662248B483b7ffC0"
ETC_MINER = "f1f836f99eee3692f09e2e8c662248b483b7ffc0"
NANO_LOGIN = "0x50fec94dbca3a0aac36098b2cc2bd818319478da"
NOW = datetime(2025, 11, 25, 15, 40, tzinfo=UTC)  # the fixtures' snapshot time, 1764085200


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def utc(seconds):
    return datetime.fromtimestamp(seconds, tz=UTC)


class FakeGetJson:
    """Stands in for the poller's get_json: answers by path and records every call."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    async def __call__(self, path, params=None):
        self.calls.append(path)
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return copy.deepcopy(answer)


def test_both_formats_are_registered():
    assert FORMATS["ethermine-v1"] is ethermine
    assert FORMATS["nanopool-v1"] is nanopool
    assert ethermine.DEFAULT_INTERVAL_S == 180
    assert ethermine.RATE_LIMIT == (100, 900.0)
    assert nanopool.DEFAULT_INTERVAL_S == 120
    assert nanopool.RATE_LIMIT == (30, 60.0)
    # The polling budget the interval is chosen for: 3 requests a poll fit 6 accounts per IP.
    calls, window = ethermine.RATE_LIMIT
    assert 6 * 3 * window / ethermine.DEFAULT_INTERVAL_S <= calls


# -- Ethermine ----------------------------------------------------------------------------------


def test_ethermine_current_stats_field_by_field():
    snapshot = ethermine.parse_current_stats(fixture("ethermine_currentstats.json"))
    assert snapshot.reported_hashrate_hs == 412345678.0
    assert snapshot.current_hashrate_hs == pytest.approx(398222222.2222222)
    assert snapshot.average_hashrate_hs == pytest.approx(405601851.85185176)
    assert (snapshot.shares_valid, snapshot.shares_invalid, snapshot.shares_stale) == (358, 1, 4)
    assert snapshot.workers_online == 2
    assert snapshot.unpaid == 123456789012345678
    assert snapshot.immature == 2150000000000000
    assert snapshot.last_share_at == datetime(2025, 11, 25, 15, 39, 2, tzinfo=UTC)
    assert snapshot.paid_total is None


def test_ethermine_workers_field_by_field():
    workers = ethermine.parse_workers(fixture("ethermine_workers.json"), NOW)
    assert [worker.name for worker in workers] == ["rig01", "rig02", "rig03"]
    rig01, rig02, rig03 = workers
    assert rig01.reported_hashrate_hs == 246912345.0
    assert rig01.current_hashrate_hs == pytest.approx(239555555.55555555)
    assert rig01.average_hashrate_hs is None  # not in the workers list
    assert (rig01.shares_valid, rig01.shares_invalid, rig01.shares_stale) == (215, 1, 3)
    assert rig01.last_share_at == utc(1764085142)
    assert rig01.online is True
    assert rig02.last_share_at == utc(1764084713)
    assert rig02.online is True  # 8 minutes before the record's time
    assert rig03.online is False  # over an hour
    assert rig03.current_hashrate_hs == 0.0


def test_ethermine_worker_online_window_is_judged_on_the_pools_clock():
    answer = fixture("ethermine_workers.json")
    item = answer["data"][0]
    item["lastSeen"] = item["time"] - 15 * 60
    assert ethermine.parse_workers(answer)[0].online is True
    item["lastSeen"] = item["time"] - 15 * 60 - 1
    assert ethermine.parse_workers(answer)[0].online is False
    # Without a record time the snapshot's time is the reference.
    del item["time"]
    item["lastSeen"] = 1764085200 - 60
    assert ethermine.parse_workers(answer, NOW)[0].online is True
    assert ethermine.parse_workers(answer, None)[0].online is None


def test_ethermine_payouts_field_by_field():
    payouts = ethermine.parse_payouts(fixture("ethermine_payouts.json"), "ETC")
    assert len(payouts) == 3
    first = payouts[0]
    assert first.tx_hash == "0xa4c123b1612dd272d1371c17149d439536b3216fdaeeb975729fae923d5a4fd1"
    assert first.amount == 1000483722915104512  # above 2**53, exact
    assert first.paid_at == datetime(2025, 11, 24, 15, 40, 12, tzinfo=UTC)
    assert first.fee is None
    assert [payout.paid_at for payout in payouts] == sorted(
        (payout.paid_at for payout in payouts), reverse=True
    )


def test_ethermine_payout_listed_twice_appears_once():
    answer = fixture("ethermine_payouts.json")
    twin = dict(answer["data"][1])
    # The same transaction spelt without "0x" and in upper case is still the same transaction.
    twin["txHash"] = twin["txHash"][2:].upper()
    answer["data"].append(twin)
    payouts = ethermine.parse_payouts(answer, "ETC")
    assert len(payouts) == 3
    assert len({payout.tx_hash for payout in payouts}) == 3


def test_ethermine_hash_of_a_non_evm_coin_is_kept_as_given():
    answer = fixture("ethermine_payouts.json")
    answer["data"][0]["txHash"] = "ABCDEF" * 10 + "ABCD"
    assert ethermine.parse_payouts(answer, "ZEC")[0].tx_hash == "ABCDEF" * 10 + "ABCD"


def test_ethermine_numbers_as_strings():
    answer = fixture("ethermine_currentstats.json")
    data = answer["data"]
    for key in ("reportedHashrate", "currentHashrate", "validShares", "unpaid", "lastSeen"):
        data[key] = str(data[key])
    snapshot = ethermine.parse_current_stats(answer)
    assert snapshot.reported_hashrate_hs == 412345678.0
    assert snapshot.current_hashrate_hs == pytest.approx(398222222.2222222)
    assert snapshot.shares_valid == 358
    assert snapshot.unpaid == 123456789012345678
    assert snapshot.last_share_at == utc(1764085142)

    payouts = fixture("ethermine_payouts.json")
    payouts["data"][0]["amount"] = "1000483722915104512"
    payouts["data"][0]["paidOn"] = "1763998812"
    assert ethermine.parse_payouts(payouts)[0].amount == 1000483722915104512


def test_ethermine_missing_and_null_fields():
    answer = {"status": "OK", "data": {"time": 1764085200, "unpaid": None, "unconfirmed": None}}
    snapshot = ethermine.parse_current_stats(answer)
    assert snapshot.unpaid is None
    assert snapshot.immature is None
    assert snapshot.current_hashrate_hs is None
    assert snapshot.shares_valid is None
    assert snapshot.last_share_at is None

    workers = ethermine.parse_workers({"status": "OK", "data": [{"worker": None, "lastSeen": 0}]})
    assert workers[0].name == ""
    assert workers[0].online is False
    assert workers[0].last_share_at is None

    payouts = ethermine.parse_payouts(
        {"status": "OK", "data": [{"paidOn": None, "amount": 5}, {"paidOn": 1763998812}]}
    )
    assert payouts == []


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (fixture("ethermine_error.json"), "not_found"),
        ({"status": "OK", "data": "NO DATA"}, "no_data"),
        ({"status": "ERROR", "error": "Database unavailable"}, "bad_answer"),
        ({"status": "OK"}, "bad_answer"),
        ({"data": {}}, "bad_answer"),
        ("<html>502 Bad Gateway</html>", "bad_answer"),
        ({"status": "OK", "data": []}, "bad_answer"),
    ],
)
def test_ethermine_envelope_errors(answer, kind):
    with pytest.raises(PoolError) as caught:
        ethermine.parse_current_stats(answer)
    assert caught.value.kind == kind


def test_ethermine_workers_or_payouts_not_a_list_is_a_bad_answer():
    with pytest.raises(PoolError) as caught:
        ethermine.parse_workers({"status": "OK", "data": {"worker": "rig01"}})
    assert caught.value.kind == "bad_answer"


def ethermine_answers():
    return {
        f"/miner/{ETC_MINER}/currentStats": fixture("ethermine_currentstats.json"),
        f"/miner/{ETC_MINER}/workers": fixture("ethermine_workers.json"),
        f"/miner/{ETC_MINER}/payouts": fixture("ethermine_payouts.json"),
    }


def ethermine_endpoint(login=ETC_LOGIN):
    return PoolEndpoint("ethermine-v1", "https://api-etc.ethermine.org", login, "ETC")


@pytest.mark.asyncio
async def test_ethermine_fetch_account():
    get_json = FakeGetJson(ethermine_answers())
    snapshot = await ethermine.fetch_account(get_json, ethermine_endpoint())
    assert get_json.calls == [
        f"/miner/{ETC_MINER}/currentStats",
        f"/miner/{ETC_MINER}/workers",
        f"/miner/{ETC_MINER}/payouts",
    ]
    assert all("0x" not in path for path in get_json.calls)
    assert snapshot.unpaid == 123456789012345678
    assert snapshot.reported_hashrate_hs == 412345678.0
    assert [worker.name for worker in snapshot.workers] == ["rig01", "rig02", "rig03"]
    assert (snapshot.workers_online, snapshot.workers_offline) == (2, 1)
    assert len(snapshot.payouts) == 3


@pytest.mark.asyncio
async def test_ethermine_unknown_miner_costs_one_request():
    answers = ethermine_answers()
    answers[f"/miner/{ETC_MINER}/currentStats"] = {"status": "OK", "data": "NO DATA"}
    get_json = FakeGetJson(answers)
    with pytest.raises(PoolError) as caught:
        await ethermine.fetch_account(get_json, ethermine_endpoint(ETC_MINER))
    assert caught.value.kind == "no_data"
    assert len(get_json.calls) == 1


@pytest.mark.asyncio
async def test_ethermine_known_miner_without_payouts_or_workers():
    answers = ethermine_answers()
    answers[f"/miner/{ETC_MINER}/workers"] = {"status": "OK", "data": []}
    answers[f"/miner/{ETC_MINER}/payouts"] = {"status": "OK", "data": "NO DATA"}
    snapshot = await ethermine.fetch_account(FakeGetJson(answers), ethermine_endpoint())
    assert snapshot.workers == []
    assert snapshot.payouts == []
    # No list to count: the pool's own activeWorkers stands.
    assert (snapshot.workers_online, snapshot.workers_offline) == (2, None)


@pytest.mark.asyncio
async def test_ethermine_transport_errors_pass_through():
    answers = ethermine_answers()
    answers[f"/miner/{ETC_MINER}/workers"] = PoolError("rate_limited", "429", retry_after_s=60)
    with pytest.raises(PoolError) as caught:
        await ethermine.fetch_account(FakeGetJson(answers), ethermine_endpoint())
    assert caught.value.kind == "rate_limited"


def test_ethermine_miner_id():
    assert ethermine.miner_id(ETC_LOGIN) == ETC_MINER
    assert ethermine.miner_id(ETC_MINER.upper()) == ETC_MINER
    # Flypool base58 addresses are case-sensitive and have no 0x.
    assert ethermine.miner_id("t1XyZabc123") == "t1XyZabc123"


# -- Nanopool -----------------------------------------------------------------------------------


def test_nanopool_user_field_by_field():
    snapshot = nanopool.parse_user(fixture("nanopool_user.json"), "ETC", 18, NOW)
    assert snapshot.current_hashrate_hs == pytest.approx(305.3e6)  # Mh/s → H/s
    assert snapshot.average_hashrate_hs == pytest.approx(301.7e6)  # the 3-hour average
    assert snapshot.reported_hashrate_hs is None
    assert snapshot.unpaid == 123456789012345678  # "0.123456789012345678" ETC, exactly
    assert snapshot.immature == 21500000000000000  # 0.0215 ETC
    assert (snapshot.workers_online, snapshot.workers_offline) == (2, 1)
    assert snapshot.last_share_at == utc(1764085170)
    assert snapshot.shares_valid is None

    rig01, rig02, rig03 = snapshot.workers
    assert rig01.name == "rig01"
    assert rig01.current_hashrate_hs == pytest.approx(186.5e6)
    assert rig01.average_hashrate_hs == pytest.approx(184.9e6)
    assert rig01.last_share_at == datetime(2025, 11, 25, 15, 39, 30, tzinfo=UTC)
    assert rig01.online is True
    # rig02 spells the key `lastshare`.
    assert rig02.last_share_at == utc(1764084655)
    assert rig02.online is True
    assert rig02.current_hashrate_hs == pytest.approx(118.8e6)
    assert rig03.online is False
    assert rig03.current_hashrate_hs == 0.0


def test_nanopool_payments_field_by_field():
    payouts = nanopool.parse_payments(fixture("nanopool_payments.json"), "ETC", 18)
    assert [payout.amount for payout in payouts] == [
        501200000000000000,
        500338710000000000,
        500000000000000000,
    ]
    first = payouts[0]
    assert first.tx_hash == "0x08f86bebb2737f6a6f0fb23c6f5da2cec255404e4fb440034d6608697a8d41be"
    assert first.paid_at == utc(1764036921)
    assert first.fee is None


@pytest.mark.parametrize(
    ("coins", "wei"),
    [
        ("0.123456789012345678", 123456789012345678),
        (0.1, 100000000000000000),
        ("12", 12 * 10**18),
        (1e-18, 1),
        ("0", 0),
    ],
)
def test_nanopool_decimal_coins_to_wei_exactly(coins, wei):
    assert nanopool.to_base_units(coins, 18) == wei


def test_nanopool_other_decimals():
    assert nanopool.to_base_units("1.5", 12) == 1500000000000  # XMR piconero
    assert nanopool.to_base_units("junk", 18) is None


def test_nanopool_payment_listed_twice_appears_once():
    answer = fixture("nanopool_payments.json")
    answer["data"].append(dict(answer["data"][0], confirmed=True))
    payouts = nanopool.parse_payments(answer, "ETC")
    assert len(payouts) == 3


def test_nanopool_numbers_as_strings():
    answer = fixture("nanopool_user.json")
    data = answer["data"]
    data["hashrate"] = "305.3"
    data["unconfirmed_balance"] = "0.0215"
    data["avgHashrate"]["h3"] = "301.7"
    data["workers"][0]["lastShare"] = "1764085170"
    data["workers"][0]["hashrate"] = "186.5"
    snapshot = nanopool.parse_user(answer, "etc", 18, NOW)
    assert snapshot.current_hashrate_hs == pytest.approx(305.3e6)
    assert snapshot.average_hashrate_hs == pytest.approx(301.7e6)
    assert snapshot.immature == 21500000000000000
    assert snapshot.workers[0].last_share_at == utc(1764085170)
    assert snapshot.workers[0].current_hashrate_hs == pytest.approx(186.5e6)

    payments = fixture("nanopool_payments.json")
    payments["data"][0]["amount"] = "0.5012"
    payments["data"][0]["date"] = "1764036921"
    assert nanopool.parse_payments(payments)[0].amount == 501200000000000000


def test_nanopool_missing_and_null_fields():
    answer = {"status": True, "data": {"account": NANO_LOGIN, "balance": None, "workers": None}}
    snapshot = nanopool.parse_user(answer, "ETC", 18, NOW)
    assert snapshot.unpaid is None
    assert snapshot.immature is None
    assert snapshot.current_hashrate_hs is None
    assert snapshot.average_hashrate_hs is None
    assert snapshot.workers == []
    assert (snapshot.workers_online, snapshot.workers_offline) == (None, None)

    answer = {"status": True, "data": {"avgHashrate": {"h1": 1}, "workers": [{"id": "a"}]}}
    snapshot = nanopool.parse_user(answer, "ETC", 18, NOW)
    assert snapshot.average_hashrate_hs is None
    assert snapshot.workers[0].online is None
    assert snapshot.workers[0].last_share_at is None

    payouts = nanopool.parse_payments({"status": True, "data": [{"date": 1, "txHash": "0x1"}]})
    assert payouts == []


def test_nanopool_xmr_is_in_hs():
    answer = fixture("nanopool_user.json")
    answer["data"]["hashrate"] = 8250.5
    snapshot = nanopool.parse_user(answer, "XMR", 12, NOW)
    assert snapshot.current_hashrate_hs == 8250.5
    assert snapshot.unpaid == 123456789012  # decimals beyond 12 are rounded away


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (fixture("nanopool_not_found.json"), "no_data"),
        ({"status": False, "error": "Too many requests"}, "bad_answer"),
        ({"status": True}, "bad_answer"),
        ({"status": True, "data": []}, "bad_answer"),
        ({"data": {}}, "bad_answer"),
        ([], "bad_answer"),
    ],
)
def test_nanopool_envelope_errors(answer, kind):
    with pytest.raises(PoolError) as caught:
        nanopool.parse_user(answer, "ETC")
    assert caught.value.kind == kind


def test_nanopool_unknown_coin_unit_is_a_bad_answer():
    with pytest.raises(PoolError) as caught:
        nanopool.parse_user(fixture("nanopool_user.json"), "ZEC")
    assert caught.value.kind == "bad_answer"
    assert "unknown hashrate unit for coin ZEC" in str(caught.value)


def nanopool_endpoint(coin="ETC", base_url="https://api.nanopool.org"):
    return PoolEndpoint("nanopool-v1", base_url, NANO_LOGIN, coin)


def nanopool_answers():
    return {
        f"/v1/etc/user/{NANO_LOGIN}": fixture("nanopool_user.json"),
        f"/v1/etc/payments/{NANO_LOGIN}": fixture("nanopool_payments.json"),
    }


@pytest.mark.asyncio
async def test_nanopool_fetch_account():
    get_json = FakeGetJson(nanopool_answers())
    snapshot = await nanopool.fetch_account(get_json, nanopool_endpoint())
    assert get_json.calls == [f"/v1/etc/user/{NANO_LOGIN}", f"/v1/etc/payments/{NANO_LOGIN}"]
    assert snapshot.unpaid == 123456789012345678
    assert snapshot.current_hashrate_hs == pytest.approx(305.3e6)
    assert len(snapshot.workers) == 3
    assert len(snapshot.payouts) == 3


@pytest.mark.asyncio
async def test_nanopool_base_url_ending_in_v1():
    answers = {path.removeprefix("/v1"): answer for path, answer in nanopool_answers().items()}
    get_json = FakeGetJson(answers)
    await nanopool.fetch_account(get_json, nanopool_endpoint(base_url="https://x.org/v1/"))
    assert get_json.calls[0] == f"/etc/user/{NANO_LOGIN}"


@pytest.mark.asyncio
async def test_nanopool_unknown_account_costs_one_request():
    answers = nanopool_answers()
    answers[f"/v1/etc/user/{NANO_LOGIN}"] = fixture("nanopool_not_found.json")
    get_json = FakeGetJson(answers)
    with pytest.raises(PoolError) as caught:
        await nanopool.fetch_account(get_json, nanopool_endpoint())
    assert caught.value.kind == "no_data"
    assert len(get_json.calls) == 1


@pytest.mark.asyncio
async def test_nanopool_known_account_without_payments():
    answers = nanopool_answers()
    answers[f"/v1/etc/payments/{NANO_LOGIN}"] = {"status": True, "data": []}
    snapshot = await nanopool.fetch_account(FakeGetJson(answers), nanopool_endpoint())
    assert snapshot.payouts == []


@pytest.mark.asyncio
async def test_nanopool_unknown_coin_asks_nothing():
    get_json = FakeGetJson({})
    with pytest.raises(PoolError) as caught:
        await nanopool.fetch_account(get_json, nanopool_endpoint(coin="ZEC"))
    assert caught.value.kind == "bad_answer"
    assert get_json.calls == []


@pytest.mark.asyncio
async def test_a_404_on_the_second_request_means_an_empty_list():
    answers = ethermine_answers()
    answers[f"/miner/{ETC_MINER}/payouts"] = PoolError("not_found", "404", status=404)
    snapshot = await ethermine.fetch_account(FakeGetJson(answers), ethermine_endpoint())
    assert snapshot.payouts == []
    assert len(snapshot.workers) == 3

    answers = nanopool_answers()
    answers[f"/v1/etc/payments/{NANO_LOGIN}"] = PoolError("not_found", "404", status=404)
    snapshot = await nanopool.fetch_account(FakeGetJson(answers), nanopool_endpoint())
    assert snapshot.payouts == []
    assert snapshot.unpaid == 123456789012345678
