"""A pool account no poll has answered for 3 poll intervals reads "stale" in the pages, the API
and /metrics, with no worker running to mark it (a dead worker never leaves a silent account
reading OK), and reading writes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from pools.formats import AccountSnapshot, PoolError
from pools.models import PoolAccount
from pools.services.polling import interval_s
from pools.services.store import record_failure, store_snapshot


def _answered(account, *, seconds_ago, no_data=False):
    """The pool's last answer, `seconds_ago` before now: the clock moved on since, and no
    worker polled again."""
    now = timezone.now() - timedelta(seconds=seconds_ago)
    if no_data:
        record_failure(account, PoolError("no_data", "no data yet"), now=now, announce=False)
    else:
        store_snapshot(account, AccountSnapshot(current_hashrate_hs=480e6), now=now, announce=False)
    return PoolAccount.objects.select_related("pool").get(pk=account.pk)


def _silence_s(account):
    return interval_s(account.pool) * 3


@pytest.fixture
def reader(alpha):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    return client


def test_an_answer_sets_stale_at_three_poll_intervals_ahead(alpha):
    account = _answered(alpha.pool_account, seconds_ago=0)
    assert account.stale_at - account.last_success_at == timedelta(seconds=_silence_s(account))
    assert account.current_status == PoolAccount.Status.OK


@pytest.mark.parametrize("no_data", [False, True], ids=["ok", "waiting"])
def test_a_silent_account_reads_stale_everywhere_and_nothing_is_written(
    alpha, owner_client, reader, no_data
):
    account = _answered(alpha.pool_account, seconds_ago=0, no_data=no_data)
    account = _answered(account, seconds_ago=_silence_s(account) + 1, no_data=no_data)
    stored = PoolAccount.Status.WAITING if no_data else PoolAccount.Status.OK

    assert account.current_status == PoolAccount.Status.STALE
    assert account.get_current_status_display() == "Stale (not polled lately)"
    assert "No answer from the pool since" in account.current_status_reason

    listing = owner_client.get("/pools/").content.decode()
    assert "status-stale" in listing and "Stale (not polled lately)" in listing
    page = owner_client.get(f"/pools/{account.pk}/").content.decode()
    assert "status-stale" in page and "No answer from the pool since" in page
    assert "status-stale" in owner_client.get(f"/pools/pool/{account.pool_id}/").content.decode()

    body = reader.get(f"/api/v1/pool-accounts/{account.pk}/").json()
    assert body["status"] == "stale"
    assert body["status_reason"] == account.current_status_reason
    assert body["stale_at"] is not None

    text = reader.get("/metrics").content.decode()
    assert f'pool_account_id="{account.pk}"' in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (status,) = families["ethdash_pool_account_status"].samples
    assert status.labels["status"] == "stale"
    counts = {
        s.labels["status"]: s.value
        for s in families["ethdash_pool_accounts"].samples
        if s.labels["farm_id"] == str(alpha.farm.pk)
    }
    assert counts["stale"] == 1 and counts[stored] == 0

    assert PoolAccount.objects.get(pk=account.pk).status == stored  # reading wrote nothing


def test_an_account_within_its_intervals_reads_as_stored(alpha, reader):
    account = _answered(alpha.pool_account, seconds_ago=0)
    account = _answered(account, seconds_ago=_silence_s(account) - 30)
    assert account.current_status == PoolAccount.Status.OK
    assert account.current_status_reason == ""
    assert reader.get(f"/api/v1/pool-accounts/{account.pk}/").json()["status"] == "ok"


def test_a_failing_account_stays_in_error_past_its_stale_at(alpha, reader):
    account = _answered(alpha.pool_account, seconds_ago=3600)
    record_failure(account, PoolError("timeout", "The pool did not answer."), announce=False)
    account.refresh_from_db()
    assert account.stale_at < timezone.now()
    assert account.current_status == PoolAccount.Status.ERROR  # its error says more
    assert reader.get(f"/api/v1/pool-accounts/{account.pk}/").json()["status"] == "error"


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_accounts_polled_before_their_stale_at(alpha):
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = ("pools", "0013_finite_figures")
    call_command("migrate", *before, verbosity=0)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        OldPool, OldAccount = old.get_model("pools", "Pool"), old.get_model("pools", "PoolAccount")
        answered = timezone.now() - timedelta(hours=1)
        pool = OldPool.objects.create(
            name="p", api_format="ethermine-v1", base_url="http://127.0.0.1:1", coin="ETC"
        )
        ok = OldAccount.objects.create(
            farm_id=alpha.farm.pk, pool=pool, login="0xa", status="ok", last_success_at=answered
        )
        new = OldAccount.objects.create(farm_id=alpha.farm.pk, pool=pool, login="0xb")
    finally:
        call_command("migrate", verbosity=0)

    ok = PoolAccount.objects.get(pk=ok.pk)
    assert ok.stale_at == answered + timedelta(seconds=3 * 180)  # the format's interval
    assert ok.current_status == PoolAccount.Status.STALE
    assert PoolAccount.objects.get(pk=new.pk).stale_at is None


def test_the_pages_are_told_when_an_answering_account_goes_stale(alpha, owner_client):
    """A page left open turns the account stale at its stale_at (static/js/format.js), as a
    reload would show it, with no poll and no worker needed to say so."""
    account = _answered(alpha.pool_account, seconds_ago=0)
    stale_at = f'data-stale-at="{account.stale_at.isoformat()}"'
    badge = 'data-stale-label="Stale (not polled lately)" data-stale-status="stale"'
    for path in ("/pools/", f"/pools/{account.pk}/", f"/pools/pool/{account.pool_id}/"):
        page = owner_client.get(path).content.decode()
        assert stale_at in page and badge in page and "status-ok" in page, path
        assert 'class="live-source"' in page, path  # current now: not marked stale
    listing = owner_client.get("/pools/").content.decode()
    assert f'class="sub reason stale-note" data-field="stale_note">{account.silence_reason}<' in (
        listing
    )


def test_an_account_in_error_is_never_turned_stale_by_the_clock(alpha, owner_client):
    account = _answered(alpha.pool_account, seconds_ago=0)
    record_failure(account, PoolError("timeout", "The pool did not answer."), announce=False)
    assert PoolAccount.objects.get(pk=account.pk).goes_stale_at is None
    page = owner_client.get("/pools/").content.decode()
    assert "data-stale-at" not in page and "status-error" in page


def test_a_sample_event_says_the_account_is_ok_until_its_stale_at(alpha, monkeypatch):
    pushed = []
    monkeypatch.setattr("ethdash.live.push", lambda farm_id, *events: pushed.extend(events))
    account = _answered(alpha.pool_account, seconds_ago=0)
    (event,) = [e for e in pushed if e["type"] == "pool.sample"]
    assert event["status"] == "ok" and event["status_label"] == "OK"
    assert event["stale_at"] == account.stale_at.isoformat().replace("+00:00", "Z")
