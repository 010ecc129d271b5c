"""Pool-effective hashrate against what the matched rigs measured; a sustained gap is flagged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from pools.models import PoolAccount, PoolWorker
from pools.services.reconcile import reconcile_accounts
from tests.factories import (
    PoolSampleFactory,
    PoolWorkerFactory,
    PoolWorkerSampleFactory,
    RigSampleFactory,
)


@pytest.fixture
def matched(alpha):
    PoolWorkerFactory(account=alpha.pool_account, name="alpha-rig-1", rig=alpha.rig)
    return alpha


def _history(world, *, effective, measured, minutes=60, now=None):
    now = now or timezone.now()
    for minute in range(0, minutes, 5):
        ts = now - timedelta(minutes=minute)
        PoolSampleFactory(account=world.pool_account, ts=ts, current_hashrate_hs=effective)
        RigSampleFactory(rig=world.rig, ts=ts, hashrate_hs=measured, gpus_reporting=4)


def test_effective_under_the_threshold_for_an_hour_is_flagged(matched):
    _history(matched, effective=80e6, measured=100e6)

    assert reconcile_accounts() == [matched.pool_account.pk]

    account = PoolAccount.objects.get(pk=matched.pool_account.pk)
    assert account.effective_ratio == pytest.approx(0.8)
    assert account.measured_hashrate_hs == pytest.approx(100e6)
    first_flagged = account.gap_since
    assert first_flagged is not None
    reconcile_accounts()
    assert PoolAccount.objects.get(pk=account.pk).gap_since == first_flagged  # keeps its start


def test_a_healthy_account_is_not_flagged_and_a_recovered_one_clears(matched):
    _history(matched, effective=97e6, measured=100e6)
    assert reconcile_accounts() == []
    PoolAccount.objects.filter(pk=matched.pool_account.pk).update(gap_since=timezone.now())
    reconcile_accounts()
    assert PoolAccount.objects.get(pk=matched.pool_account.pk).gap_since is None


def test_less_than_an_hour_of_data_is_not_enough_to_flag(matched):
    _history(matched, effective=50e6, measured=100e6, minutes=20)
    assert reconcile_accounts() == []
    account = PoolAccount.objects.get(pk=matched.pool_account.pk)
    assert account.effective_ratio == pytest.approx(0.5)
    assert account.gap_since is None


def test_threshold_is_a_setting(matched, settings):
    settings.ETHDASH_POOL_GAP_PCT = 75
    _history(matched, effective=80e6, measured=100e6)
    assert reconcile_accounts() == []


def test_pages_and_api_show_the_gap_and_the_rigs_pool_series(matched, owner_client, api):
    _history(matched, effective=80e6, measured=100e6)

    worker = PoolWorker.objects.get(account=matched.pool_account)
    PoolWorkerSampleFactory(worker=worker, current_hashrate_hs=80e6, reported_hashrate_hs=99e6)
    reconcile_accounts()

    page = owner_client.get(f"/pools/{matched.pool_account.pk}/").content.decode()
    assert "under 85 % of what the rigs measured" in page
    assert "80 %" in owner_client.get("/pools/").content.decode()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {matched.token('read')}")
    series = api.get("/api/v1/pool-workers/series/", {"rig": matched.rig.pk}).json()
    assert series["effective"] == [80e6] and series["reported"] == [99e6]
    assert series["workers"][0]["name"] == "alpha-rig-1"
    assert api.get("/api/v1/pool-workers/series/").status_code == 400
