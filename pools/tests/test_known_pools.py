"""Known pools are data: the shipped file is loaded into the table and offered on the add page;
picking one makes its site-wide Pool once and reuses it. A custom address is tested (the pool's
own statistics asked in the chosen format) before anything is saved, and stays its farm's."""

import io
import json
from pathlib import Path

import httpx
import pytest

from pools.forms import AccountForm
from pools.models import KnownPool, Pool, PoolAccount
from pools.services.known import (
    KNOWN_POOLS_FILE,
    load_known_pools,
    pools_for_farms,
    read_known_pools,
)
from tests.factories import logged_in

FIXTURES = Path(__file__).parent / "fixtures" / "pools"
WALLET = "0x" + "cd" * 20


def _fixture(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.django_db
def test_the_shipped_file_is_in_the_table():
    entries = json.loads(KNOWN_POOLS_FILE.read_text())["pools"]
    assert set(KnownPool.objects.values_list("key", flat=True)) >= {e["key"] for e in entries}
    etc = KnownPool.objects.get(key="2miners-etc")
    assert (etc.api_format, etc.base_url, etc.coin, etc.chain_id) == (
        "open-ethereum-pool", "https://etc.2miners.com", "ETC", 61,
    )  # fmt: skip
    nano = KnownPool.objects.get(key="nanopool-etc")
    assert (nano.rate_limit_requests, nano.rate_limit_window_s) == (30, 60)
    # Closed pools are not offered (reference: Hiveon 2026-05, Ethermine ETH at the Merge).
    names = " ".join(KnownPool.objects.values_list("name", flat=True)).lower()
    assert "hiveon" not in names and "flexpool" not in names and "ethermine" not in names


def test_every_open_ethereum_pool_entry_has_a_confirmed_amount_unit():
    from pools.formats.open_ethereum_pool import POOL_AMOUNT_DECIMALS

    entries = read_known_pools()
    oep_entries = [e for e in entries if e["api_format"] == "open-ethereum-pool"]
    assert len(oep_entries) >= 20
    for entry in oep_entries:
        coin = entry["coin"].upper()
        # Never the 9-decimal fallback: the unit is listed, with the source that confirms it.
        assert coin in POOL_AMOUNT_DECIMALS, entry["key"]
        # The pool's unit is never finer than the coin's, so no amount loses precision.
        assert POOL_AMOUNT_DECIMALS[coin] <= entry["coin_decimals"], entry["key"]
        assert entry["source"] and len(entry["source"]) <= 300, entry["key"]
    # Left out on purpose (docs/pools.md): per-algorithm graph-rate maps, or no confirmed unit.
    assert not {e["coin"] for e in entries} & {"GRIN", "MWC", "AE", "BEAM", "BCH", "QUAI", "ZEPH"}


@pytest.mark.django_db
def test_loading_again_updates_by_key(tmp_path):
    data = json.loads(KNOWN_POOLS_FILE.read_text())
    data["pools"][0]["name"] = "2Miners ETC (renamed)"
    path = tmp_path / "known.json"
    path.write_text(json.dumps(data))
    before = KnownPool.objects.count()
    assert load_known_pools(path=path) == len(data["pools"])
    assert KnownPool.objects.count() == before
    assert KnownPool.objects.get(key=data["pools"][0]["key"]).name == "2Miners ETC (renamed)"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"api_format": "hiveon"}, "unknown format"),
        ({"base_url": "etc.2miners.com"}, "Not a valid address"),
        ({"rate_limit": [0, 60]}, "rate_limit"),
        ({"key": ""}, "without a key"),
    ],
)
def test_a_bad_entry_refuses_the_file(tmp_path, change, problem):
    data = json.loads(KNOWN_POOLS_FILE.read_text())
    data["pools"][0].update(change)
    path = tmp_path / "known.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=problem):
        read_known_pools(path)


def _form(world, **fields):
    return {"farm": world.farm.pk, "login": WALLET, "label": "", **fields}


@pytest.mark.django_db
def test_picking_a_known_pool_makes_its_pool_once_and_reuses_it(alpha, bravo):
    # make_farm's "2Miners ETC" pool was made in the admin for the same address: adopted.
    admin_pool = alpha.pool_account.pool
    for world in (alpha, bravo):
        response = logged_in(world.owner).post(
            "/pools/add/", _form(world, pool="known:2miners-etc", action="save")
        )
        assert response.status_code == 302
    accounts = PoolAccount.objects.filter(login=WALLET)
    assert {a.pool_id for a in accounts} == {admin_pool.pk}
    admin_pool.refresh_from_db()
    assert admin_pool.known_pool.key == "2miners-etc" and admin_pool.farm is None

    # A known pool nobody used yet: made on first pick, then the same row for the next farm.
    for world in (alpha, bravo):
        logged_in(world.owner).post(
            "/pools/add/", _form(world, pool="known:2miners-ethw", action="save")
        )
    [ethw] = Pool.objects.filter(known_pool__key="2miners-ethw")
    assert (ethw.base_url, ethw.coin, ethw.chain_id, ethw.farm) == (
        "https://ethw.2miners.com", "ETHW", 10001, None,
    )  # fmt: skip
    assert PoolAccount.objects.filter(pool=ethw).count() == 2


@pytest.mark.django_db
def test_the_picker_lists_known_pools_and_the_farms_pools_only(alpha, bravo):
    theirs = Pool.objects.create(
        name="Bravo's own pool", api_format="miningcore", base_url="https://mc.bravo.example",
        pool_id="etc1", coin="ETC", farm=bravo.farm,
    )  # fmt: skip
    html = logged_in(alpha.owner).get("/pools/add/").content.decode()
    assert 'value="known:2miners-etc"' in html and 'value="custom"' in html
    # The admin's pool at 2Miners ETC's address is offered once, as the known pool.
    assert f'value="pool:{alpha.pool_account.pool_id}"' not in html
    assert "Bravo&#x27;s own pool" not in html and "Bravo's own pool" not in html
    # Picked anyway, by id: refused.
    farms = type(alpha.farm).objects.filter(pk=alpha.farm.pk)
    form = AccountForm(
        _form(alpha, pool=f"pool:{theirs.pk}"), farms=farms, pools=pools_for_farms([alpha.farm.pk])
    )
    assert not form.is_valid() and "pool" in form.errors


def _custom(world, **fields):
    return _form(world, pool="custom", api_format="open-ethereum-pool",
                 base_url="https://etc.mypool.example", coin="etc", **fields)  # fmt: skip


def _through(monkeypatch, handler):
    """The add page's pool test and account trial answered by `handler` (an httpx handler)."""
    from pools.services import trial

    transport = httpx.MockTransport(handler)
    real_pool, real_account = trial.try_pool, trial.try_account
    monkeypatch.setattr("pools.views.try_pool", lambda pool: real_pool(pool, transport=transport))
    monkeypatch.setattr(
        "pools.views.try_account",
        lambda pool, login: real_account(pool, login, transport=transport),
    )


@pytest.mark.django_db
def test_a_custom_pool_is_tested_then_saved_as_the_farms_own(
    owner_client, alpha, bravo, monkeypatch
):
    seen = []

    def handler(request):
        seen.append(request.url.path)
        if request.url.path == "/api/stats":
            return httpx.Response(200, json=_fixture("oep_stats.json"))
        return httpx.Response(404)  # OEP: a wallet with no shares yet

    _through(monkeypatch, handler)
    html = owner_client.post("/pools/add/", _custom(alpha, action="try")).content.decode()
    assert "answers in the open-ethereum-pool (2Miners style) format" in html
    assert "412.35 GH/s" in html  # the pool's hashrate from /api/stats
    assert "Waiting for first shares" in html and 'value="save"' in html
    assert not Pool.objects.filter(base_url="https://etc.mypool.example").exists()

    response = owner_client.post("/pools/add/", _custom(alpha, action="save"))
    assert response.status_code == 302
    pool = Pool.objects.get(base_url="https://etc.mypool.example")
    assert (pool.farm, pool.coin, pool.api_format) == (alpha.farm, "ETC", "open-ethereum-pool")
    assert seen.count("/api/stats") == 2  # tested again at save, before anything was stored
    # Another farm never sees it.
    assert "mypool" not in logged_in(bravo.owner).get("/pools/add/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        # A Miningcore pool entered as open-ethereum-pool: its /api/stats is not OEP's.
        (lambda r: httpx.Response(404, json={"message": "Not found"}), "does not answer in the"),
        (
            lambda r: httpx.Response(200, json=_fixture("miningcore_pool.json")),
            "does not answer in the",
        ),
        (lambda r: httpx.Response(200, content=b"<html>shop</html>"), "does not answer in the"),
    ],
)
def test_a_custom_address_in_another_format_is_a_form_error(
    owner_client, alpha, monkeypatch, answer, shown
):
    _through(monkeypatch, answer)
    for action in ("try", "save"):
        response = owner_client.post("/pools/add/", _custom(alpha, action=action))
        assert response.status_code == 200
        assert shown in " ".join(response.context["form"].errors["base_url"])
    assert not Pool.objects.filter(base_url="https://etc.mypool.example").exists()


@pytest.mark.django_db
def test_an_unreachable_custom_address_is_shown_and_not_saved(owner_client, alpha, monkeypatch):
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    _through(monkeypatch, refuse)
    response = owner_client.post("/pools/add/", _custom(alpha, action="save"))
    assert "could not be reached (refused)" in " ".join(response.context["form"].errors["base_url"])
    assert not PoolAccount.objects.filter(login=WALLET).exists()


@pytest.mark.django_db
def test_a_custom_miningcore_pool_needs_its_pool_id(owner_client, alpha):
    data = _custom(alpha, action="try") | {"api_format": "miningcore"}
    response = owner_client.post("/pools/add/", data)
    assert "pool_id" in response.context["form"].errors


@pytest.mark.django_db
def test_known_pools_in_the_api(alpha):
    client = logged_in(alpha.owner)
    rows = client.get("/api/v1/known-pools/").json()["results"]
    etc = next(r for r in rows if r["key"] == "2miners-etc")
    assert (
        etc["base_url"] == "https://etc.2miners.com" and etc["api_format"] == "open-ethereum-pool"
    )
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/known-pools/" in schema and "/api/v1/pools/{id}/stats/" in schema


# -- the same through the API --------------------------------------------------------------


def _api(world, *scopes):
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {world.token(*scopes)}")


@pytest.mark.django_db
def test_api_adds_an_account_on_a_known_pool_with_a_write_token(alpha, bravo):
    body = {"known_pool": "2miners-ethw", "login": WALLET, "label": "api"}
    response = _api(alpha, "read", "write").post(
        "/api/v1/pool-accounts/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["pool"] == "2Miners ETHW" and response.json()["status"] == "new"
    again = _api(bravo, "read", "write").post(
        "/api/v1/pool-accounts/", body, content_type="application/json"
    )
    assert again.status_code == 201
    assert Pool.objects.filter(known_pool__key="2miners-ethw").count() == 1
    duplicate = _api(alpha, "read", "write").post(
        "/api/v1/pool-accounts/", body, content_type="application/json"
    )
    assert duplicate.status_code == 400 and "login" in duplicate.json()["errors"]


@pytest.mark.django_db
def test_api_refuses_a_read_token_another_farms_pool_and_a_bad_body(alpha, bravo):
    theirs = Pool.objects.create(
        name="Bravo's", api_format="open-ethereum-pool", base_url="https://b.example",
        coin="ETC", farm=bravo.farm,
    )  # fmt: skip
    post = lambda client, body: client.post(  # noqa: E731
        "/api/v1/pool-accounts/", body, content_type="application/json"
    )
    assert (
        post(_api(alpha, "read"), {"known_pool": "2miners-etc", "login": WALLET}).status_code == 403
    )
    writer = _api(alpha, "read", "write")
    assert post(writer, {"pool": theirs.pk, "login": WALLET}).status_code == 400
    assert post(writer, {"login": WALLET}).status_code == 400
    both = {"known_pool": "2miners-etc", "pool": theirs.pk, "login": WALLET}
    assert post(writer, both).status_code == 400
    assert post(writer, {"known_pool": "2miners-etc", "login": "../x"}).status_code == 400
    assert not PoolAccount.objects.filter(login=WALLET).exists()


@pytest.mark.django_db
def test_api_tests_a_custom_pool_before_saving(alpha, monkeypatch):
    from pools.services import trial

    def handler(request):
        if request.url.path == "/api/pools/etc1":
            return httpx.Response(200, json=_fixture("miningcore_pool.json"))
        return httpx.Response(200, content=b"<html>no</html>")

    transport = httpx.MockTransport(handler)
    real = trial.try_pool
    monkeypatch.setattr("pools.api.views.try_pool", lambda pool: real(pool, transport=transport))
    custom = {"api_format": "miningcore", "base_url": "https://mc.mine.example/", "pool_id": "etc1",
              "coin": "etc"}  # fmt: skip
    writer = _api(alpha, "read", "write")
    response = writer.post(
        "/api/v1/pool-accounts/", {"custom_pool": custom, "login": WALLET},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    pool = Pool.objects.get(base_url="https://mc.mine.example")
    assert (pool.farm, pool.pool_id, pool.coin) == (alpha.farm, "etc1", "ETC")

    wrong = writer.post(
        "/api/v1/pool-accounts/",
        {"custom_pool": custom | {"api_format": "open-ethereum-pool"}, "login": WALLET + "1"},
        content_type="application/json",
    )
    assert wrong.status_code == 400 and "custom_pool" in wrong.json()["errors"]


@pytest.mark.django_db
def test_trying_a_known_pool_nobody_uses_yet_creates_nothing(owner_client, alpha, monkeypatch):
    asked = []

    def handler(request):
        asked.append(str(request.url))
        return httpx.Response(404)  # OEP: this wallet has no shares yet

    _through(monkeypatch, handler)
    html = owner_client.post(
        "/pools/add/", _form(alpha, pool="known:2miners-ethw", action="try")
    ).content.decode()
    assert asked == [f"https://ethw.2miners.com/api/accounts/{WALLET}"]
    assert "Waiting for first shares" in html and 'value="save"' in html
    assert not Pool.objects.filter(known_pool__key="2miners-ethw").exists()


# -- reloading the file reaches the pools made from it ---------------------------------------


def _changed_file(tmp_path, key, **change):
    data = json.loads(KNOWN_POOLS_FILE.read_text())
    entry = next(e for e in data["pools"] if e["key"] == key)
    entry.update(change)
    path = tmp_path / "known.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.django_db
def test_a_reload_updates_the_pool_made_from_an_entry(tmp_path, alpha):
    from django.core.management import call_command

    from pools.services.known import add_account

    add_account(farm=alpha.farm, login=WALLET, known=KnownPool.objects.get(key="2miners-ethw"))
    pool = Pool.objects.get(known_pool__key="2miners-ethw")
    Pool.objects.filter(pk=pool.pk).update(
        breaker=Pool.Breaker.OPEN, breaker_failures=5, poll_interval_s=90
    )
    path = _changed_file(
        tmp_path, "2miners-ethw", name="2Miners EthereumPoW", base_url="https://ethw.new.example/",
        coin_decimals=9, rate_limit=[10, 30], chain_id=10002,
    )  # fmt: skip
    out = io.StringIO()
    call_command("load_known_pools", file=str(path), stdout=out)
    assert "known pools loaded" in out.getvalue()

    pool.refresh_from_db()
    assert (pool.name, pool.base_url, pool.coin_decimals, pool.chain_id) == (
        "2Miners EthereumPoW", "https://ethw.new.example", 9, 10002,
    )  # fmt: skip
    assert (pool.rate_limit_requests, pool.rate_limit_window_s) == (10, 30)
    # A new address: the old one's failures no longer hold it back; the admin's interval stays.
    assert (pool.breaker, pool.breaker_failures, pool.stats_next_at) == ("closed", 0, None)
    assert pool.poll_interval_s == 90


@pytest.mark.django_db
def test_a_reload_keeps_a_name_the_admin_chose_and_a_breaker_of_the_same_address(tmp_path, alpha):
    from pools.services.known import load_known_pools

    # make_farm's admin pool at 2Miners ETC's address, adopted by the entry.
    pool = alpha.pool_account.pool
    Pool.objects.filter(pk=pool.pk).update(
        name="Our ETC pool",
        known_pool=KnownPool.objects.get(key="2miners-etc"),
        breaker=Pool.Breaker.OPEN,
    )
    load_known_pools(path=_changed_file(tmp_path, "2miners-etc", name="2Miners Classic",
                                        rate_limit=[50, 60]))  # fmt: skip
    pool.refresh_from_db()
    assert pool.name == "Our ETC pool"  # not the entry's old name: the admin's, kept
    assert pool.rate_limit_requests == 50 and pool.breaker == Pool.Breaker.OPEN


# -- the migration that first loads the file ---------------------------------------------------


@pytest.mark.django_db
def test_the_migrations_loader_uses_the_historical_model_and_ignores_unknown_keys(tmp_path):
    import importlib

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = importlib.import_module("pools.migrations.0010_load_known_pools")
    state = MigrationExecutor(connection).loader.project_state(("pools", "0010_load_known_pools"))
    historical = state.apps.get_model("pools", "KnownPool")
    data = json.loads(KNOWN_POOLS_FILE.read_text())
    # Keys the file may gain after 0010 (for fields a later KnownPool has): ignored there.
    for entry in data["pools"]:
        entry |= {"region": "eu", "fee_percent": 1.0}
    data["pools"][0]["name"] = "Loaded by 0010"
    path = tmp_path / "known.json"
    path.write_text(json.dumps(data))
    KnownPool.objects.all().delete()

    migration.load(state.apps, None, path=path)
    assert historical.objects.count() == len(data["pools"]) == KnownPool.objects.count()
    first = KnownPool.objects.get(key=data["pools"][0]["key"])
    assert first.name == "Loaded by 0010" and first.api_format == data["pools"][0]["api_format"]
    nano = KnownPool.objects.get(key="nanopool-etc")
    assert (nano.rate_limit_requests, nano.rate_limit_window_s) == (30, 60)
    # A field this point's model lacks is never asked for, whatever the file holds.
    assert "region" not in {f.name for f in historical._meta.get_fields()}
