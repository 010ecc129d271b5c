"""Adding a pool account: tried once, what the pool answered shown, saved only on request."""

import httpx
import pytest

from pools.formats import AccountSnapshot, PoolError
from pools.models import PoolAccount
from pools.services.trial import try_account
from tests.factories import PoolFactory


@pytest.fixture
def pool(db):
    return PoolFactory(name="Sim OEP")


def _form(world, pool, **extra):
    return {
        "farm": world.farm.pk,
        "pool": f"pool:{pool.pk}",
        "login": "0x" + "ab" * 20,
        "label": "main",
        **extra,
    }


def test_try_shows_what_the_pool_answered_and_saves_nothing(owner_client, alpha, pool, monkeypatch):
    monkeypatch.setattr(
        "pools.views.try_account",
        lambda p, login: (AccountSnapshot(current_hashrate_hs=300e6, unpaid=5 * 10**17), None),
    )
    response = owner_client.post("/pools/add/", _form(alpha, pool, action="try"))

    html = response.content.decode()
    assert "The pool answered." in html
    assert "300.00 MH/s" in html and "0.500000 ETC" in html
    assert 'value="save"' in html
    assert not PoolAccount.objects.filter(pool=pool).exists()


def test_an_error_is_shown_and_there_is_nothing_to_save(owner_client, alpha, pool, monkeypatch):
    monkeypatch.setattr(
        "pools.views.try_account",
        lambda p, login: (
            None,
            PoolError("not_found", "The pool does not know this account (404)."),
        ),
    )
    html = owner_client.post("/pools/add/", _form(alpha, pool, action="try")).content.decode()
    assert "does not know this account" in html
    assert 'value="save"' not in html


def test_save_creates_a_due_account(owner_client, alpha, pool):
    response = owner_client.post("/pools/add/", _form(alpha, pool, action="save"))
    account = PoolAccount.objects.get(pool=pool)
    assert response.status_code == 302
    assert (account.farm, account.label, account.status) == (alpha.farm, "main", "new")
    assert account.next_poll_at is not None
    duplicate = owner_client.post("/pools/add/", _form(alpha, pool, action="save"))
    assert "already has this account" in duplicate.content.decode()


def test_viewers_cannot_add_accounts(alpha, pool):
    from tests.factories import logged_in

    assert logged_in(alpha.viewer).get("/pools/add/").status_code == 404


def test_a_farm_the_user_does_not_manage_is_refused(owner_client, bravo, pool):
    response = owner_client.post("/pools/add/", _form(bravo, pool, action="save"))
    assert response.status_code == 200
    assert "farm" in response.context["form"].errors
    assert not PoolAccount.objects.filter(pool=pool).exists()


def test_try_account_uses_the_pools_format_for_real(pool, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    body = {
        "currentHashrate": 250000000,
        "hashrate": 240000000,
        "stats": {"balance": 123},
        "workers": {},
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    snapshot, error = try_account(pool, "0x" + "AB" * 20, transport=transport)
    assert error is None
    assert snapshot.current_hashrate_hs == 250e6
    assert snapshot.unpaid == 123 * 10**9  # Shannon to wei


def test_try_account_refuses_a_private_pool_url(pool, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    snapshot, error = try_account(pool, "0x" + "ab" * 20)
    assert snapshot is None and error.kind == "forbidden_address"


@pytest.mark.parametrize("login", ["../../admin", "0xab?x=1", "a b", "0x/../stats"])
def test_a_login_that_would_change_the_pool_url_is_refused(owner_client, alpha, pool, login):
    response = owner_client.post("/pools/add/", _form(alpha, pool, login=login, action="try"))
    assert response.status_code == 200
    assert "login" in response.context["form"].errors
    assert "tried" not in response.context
