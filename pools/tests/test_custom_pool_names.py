"""A pool's name is unique within its owner's scope: among site-wide pools, and among one farm's
own. Adding a custom pool never fails on a name (a taken one gets a number, chosen among the
pools the farm can see, so it tells nothing of other farms), and a save that loses a race for a
name is a form error or a 400, never a 500."""

import json
from pathlib import Path

import httpx
import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from pools.models import Pool, PoolAccount
from pools.services import known as known_pools
from tests.factories import logged_in

FIXTURES = Path(__file__).parent / "fixtures" / "pools"
WALLET = "0x" + "ef" * 20
HOST = "https://mc.farmpool.example"


def _miningcore(request):
    """A Miningcore deployment running the pools etc1, etc2 and etc3."""
    if request.url.path in ("/api/pools/etc1", "/api/pools/etc2", "/api/pools/etc3"):
        return httpx.Response(200, json=json.loads((FIXTURES / "miningcore_pool.json").read_text()))
    return httpx.Response(404, json={"message": "Not found"})


@pytest.fixture
def pool_answers(monkeypatch):
    """The page's and the API's pool test (and the page's account trial) answered by the
    Miningcore deployment above."""
    from pools.services import trial

    transport = httpx.MockTransport(_miningcore)
    real_pool, real_account = trial.try_pool, trial.try_account
    tried = lambda pool: real_pool(pool, transport=transport)  # noqa: E731
    monkeypatch.setattr("pools.views.try_pool", tried)
    monkeypatch.setattr("pools.api.views.try_pool", tried)
    monkeypatch.setattr(
        "pools.views.try_account",
        lambda pool, login: real_account(pool, login, transport=transport),
    )


def _legacy_pools(farm):
    """The names the old naming gave a farm's first two pools at one host and coin."""
    for pool_id, name in (
        ("etc1", "mc.farmpool.example ETC"),
        ("etc2", "mc.farmpool.example ETC (Alpha)"),
    ):
        Pool.objects.create(
            farm=farm,
            name=name,
            api_format="miningcore",
            base_url=HOST,
            pool_id=pool_id,
            coin="ETC",
        )


def _page_form(world, pool_id, login=WALLET):
    return {
        "farm": world.farm.pk, "pool": "custom", "api_format": "miningcore", "base_url": HOST,
        "pool_id": pool_id, "coin": "etc", "login": login, "label": "", "action": "save",
    }  # fmt: skip


def _api_body(pool_id, login=WALLET):
    custom = {"api_format": "miningcore", "base_url": HOST, "pool_id": pool_id, "coin": "etc"}
    return {"custom_pool": custom, "login": login}


def _api_post(world, body):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {world.token('read', 'write')}")
    return client.post("/api/v1/pool-accounts/", body, content_type="application/json")


@pytest.mark.django_db
def test_a_third_pool_on_one_host_and_coin_is_added_on_the_page(alpha, pool_answers):
    _legacy_pools(alpha.farm)
    response = logged_in(alpha.owner).post("/pools/add/", _page_form(alpha, "etc3"))
    assert response.status_code == 302
    pool = Pool.objects.get(farm=alpha.farm, pool_id="etc3")
    assert pool.name == "mc.farmpool.example etc3 ETC"
    assert PoolAccount.objects.get(login=WALLET).pool == pool


@pytest.mark.django_db
def test_a_third_pool_on_one_host_and_coin_is_added_through_the_api(alpha, pool_answers):
    _legacy_pools(alpha.farm)
    # Even its own name taken (a pool the admin made for the farm elsewhere): numbered.
    Pool.objects.create(
        farm=alpha.farm, name="mc.farmpool.example etc3 ETC", api_format="open-ethereum-pool",
        base_url="https://elsewhere.example", coin="ETC",
    )  # fmt: skip
    response = _api_post(alpha, _api_body("etc3"))
    assert response.status_code == 201, response.content
    assert response.json()["pool"] == "mc.farmpool.example etc3 ETC (2)"


@pytest.mark.django_db
def test_two_farms_entering_one_address_get_a_pool_each_and_learn_nothing(
    alpha, bravo, pool_answers
):
    # Bravo already has pools by every name the address could give, and the numbered ones.
    for name in ("mc.farmpool.example etc1 ETC", "mc.farmpool.example etc1 ETC (2)"):
        Pool.objects.create(
            farm=bravo.farm, name=name, api_format="open-ethereum-pool",
            base_url=f"https://bravo-{len(name)}.example", coin="ETC",
        )  # fmt: skip
    assert logged_in(alpha.owner).post("/pools/add/", _page_form(alpha, "etc1")).status_code == 302
    assert _api_post(bravo, _api_body("etc1")).status_code == 201

    theirs, ours = (Pool.objects.get(farm=w.farm, base_url=HOST) for w in (bravo, alpha))
    assert theirs.pk != ours.pk
    # Alpha's name is what it would be on a site with no other farm: nothing of Bravo's shows.
    assert ours.name == "mc.farmpool.example etc1 ETC"
    # Bravo's is numbered among Bravo's own pools only, and names no farm.
    assert theirs.name == "mc.farmpool.example etc1 ETC (3)"
    for world, other in ((alpha, bravo), (bravo, alpha)):
        html = logged_in(world.owner).get("/pools/add/").content.decode()
        assert other.farm.name not in html
        assert html.count("mc.farmpool.example etc1 ETC") == (1 if world is alpha else 3)


@pytest.mark.django_db
def test_the_constraint_is_per_owner(alpha, bravo):
    make = lambda farm: Pool.objects.create(  # noqa: E731
        farm=farm, name="Same", api_format="open-ethereum-pool", base_url="https://s.example",
        coin="ETC",
    )  # fmt: skip
    make(alpha.farm), make(bravo.farm), make(None)
    for farm in (alpha.farm, None):
        with pytest.raises(IntegrityError), transaction.atomic():
            make(farm)


@pytest.fixture
def name_race(monkeypatch, alpha):
    """The free name chosen is taken by another save before ours inserts (two saves at once)."""
    Pool.objects.create(
        farm=alpha.farm, name="Raced", api_format="open-ethereum-pool",
        base_url="https://raced.example", coin="ETC",
    )  # fmt: skip
    Pool.objects.create(
        name="Raced", api_format="open-ethereum-pool", base_url="https://raced.example",
        coin="ETC",
    )  # fmt: skip
    monkeypatch.setattr(known_pools, "_free_name", lambda name, farm=None: "Raced")


@pytest.mark.django_db
def test_a_lost_race_for_a_name_is_a_form_error_and_saves_nothing(alpha, pool_answers, name_race):
    response = logged_in(alpha.owner).post("/pools/add/", _page_form(alpha, "etc1"))
    assert response.status_code == 200
    assert "Save again" in " ".join(response.context["form"].non_field_errors())
    assert not PoolAccount.objects.filter(login=WALLET).exists()
    assert not Pool.objects.filter(base_url=HOST).exists()


@pytest.mark.django_db
def test_a_lost_race_for_a_name_is_a_400_in_the_api(alpha, pool_answers, name_race):
    custom = _api_post(alpha, _api_body("etc1"))
    assert custom.status_code == 400 and "custom_pool" in custom.json()["errors"]
    known = _api_post(alpha, {"known_pool": "2miners-ethw", "login": WALLET})
    assert known.status_code == 400 and "known_pool" in known.json()["errors"]
    assert not PoolAccount.objects.filter(login=WALLET).exists()


@pytest.mark.django_db
def test_a_simultaneous_save_of_the_same_address_returns_that_pool(alpha, monkeypatch):
    first = Pool.objects.create(
        farm=alpha.farm, name="mc.farmpool.example etc1 ETC", api_format="miningcore",
        base_url=HOST, pool_id="etc1", coin="ETC",
    )  # fmt: skip
    # Our look found nothing; by our insert the other save had made the pool, by that name.
    looks = iter([Pool.objects.none(), Pool.objects.filter(pk=first.pk)])
    monkeypatch.setattr(known_pools, "_same_endpoint", lambda *args: next(looks))
    monkeypatch.setattr(known_pools, "_free_name", lambda name, farm=None: first.name)
    pool = known_pools.custom_pool(
        farm=alpha.farm, api_format="miningcore", base_url=HOST, pool_id="etc1", coin="etc"
    )
    assert pool == first and Pool.objects.filter(base_url=HOST).count() == 1
