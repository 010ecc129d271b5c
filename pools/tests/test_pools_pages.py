from datetime import UTC, datetime

import pytest

from pools.formats import AccountSnapshot, PayoutRecord, WorkerSnapshot
from pools.models import PoolAccount
from pools.services.store import store_snapshot


@pytest.fixture
def polled(alpha):
    account = alpha.pool_account
    store_snapshot(
        account,
        AccountSnapshot(
            current_hashrate_hs=480e6,
            average_hashrate_hs=470e6,
            reported_hashrate_hs=500e6,
            unpaid=123_456_789_000_000_000,
            workers=[WorkerSnapshot(name="alpha-rig-1", current_hashrate_hs=240e6, online=True),
                     WorkerSnapshot(name="spare", online=False)],
            payouts=[PayoutRecord(tx_hash="0x" + "ab" * 32, amount=10**18 + 1,
                                  paid_at=datetime(2026, 11, 20, 12, tzinfo=UTC))],
        ),
    )  # fmt: skip
    return PoolAccount.objects.get(pk=account.pk)


def test_pool_list_and_account_page(owner_client, polled):
    listing = owner_client.get("/pools/").content.decode()
    assert "480.00 MH/s" in listing
    assert "0.123457 ETC" in listing
    page = owner_client.get(f"/pools/{polled.pk}/").content.decode()
    assert "alpha-rig-1" in page and 'href="/rigs/' in page  # worker matched to its rig
    assert "not matched" in page  # the spare worker
    assert "1.000000 ETC" in page
    assert "Not checked yet" in page


def test_pool_account_api_keeps_wei_exact(api, alpha, polled):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    account = api.get(f"/api/v1/pool-accounts/{polled.pk}/").json()
    assert account["unpaid"] == "123456789000000000"
    assert {w["name"]: w["rig"] for w in account["workers"]} == {
        "alpha-rig-1": alpha.rig.pk,
        "spare": None,
    }
    payouts = api.get(f"/api/v1/pool-accounts/{polled.pk}/payouts/").json()["results"]
    assert payouts[0]["amount"] == "1000000000000000001"
    assert payouts[0]["chain_state"] == "pending"
    samples = api.get(f"/api/v1/pool-accounts/{polled.pk}/samples/").json()["results"]
    assert samples[0]["current_hashrate_hs"] == 480e6
