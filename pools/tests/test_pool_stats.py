"""Pool-wide statistics: each format's answer read field by field, one read per pool per poll
interval however many accounts it has, stored as a series and shown on the pool page."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from pools.formats import PoolEndpoint, PoolError, ethermine, nanopool
from pools.formats import miningcore as mc
from pools.formats import open_ethereum_pool as oep
from pools.models import Pool, PoolAccount, PoolStatsSample
from pools.services import polling
from simulators.pools import start_pool_server
from tests.factories import PoolAccountFactory, PoolFactory
from tests.loops import loop_thread

FIXTURES = Path(__file__).parent / "fixtures" / "pools"


def load(name):
    return json.loads((FIXTURES / name).read_text())


def test_oep_stats():
    stats = oep.parse_pool_stats(load("oep_stats.json"))
    assert stats.pool_hashrate_hs == 412345678901.0
    assert stats.miners == 214 and stats.workers is None
    assert stats.blocks_total == 1873 + 4 + 1
    assert stats.last_block_at == datetime.fromtimestamp(1764767412, UTC)
    assert stats.network_difficulty == 2093144871522915.0  # a string in the answer
    assert stats.block_height == 21433870  # the highest node
    assert stats.effort == pytest.approx(1046572435761457 / 2093144871522915)
    assert stats.network_hashrate_hs is None  # upstream OEP does not give it


def test_2miners_stats_add_workers_and_network_hashrate():
    stats = oep.parse_pool_stats(load("2miners_stats.json"))
    assert stats.workers == 8342 and stats.miners == 2431
    assert stats.network_hashrate_hs == 158453123456789.0
    assert stats.effort == pytest.approx(0.25, rel=1e-3)


def test_miningcore_pool_info():
    stats = mc.parse_pool_stats(load("miningcore_pool.json"))
    assert stats.pool_hashrate_hs == 51234567890.5
    assert stats.miners == 87 and stats.workers is None
    assert stats.blocks_total == 312
    assert stats.last_block_at == datetime(2026, 12, 3, 12, 10, 44, 123456, tzinfo=UTC)
    assert stats.effort == 0.8734
    assert stats.network_hashrate_hs == 161234567890123.0
    assert stats.network_difficulty == 2093144871522915.0
    assert stats.block_height == 21433870


def test_miningcore_effort_before_the_first_block_is_unknown():
    answer = load("miningcore_pool.json")
    answer["pool"]["lastPoolBlockTime"] = answer["pool"]["poolStats"]["lastPoolBlockTime"] = None
    answer["pool"]["poolEffort"] = 0
    assert mc.parse_pool_stats(answer).effort is None


def test_ethermine_pool_stats():
    stats = ethermine.parse_pool_stats(load("ethermine_poolstats.json"))
    assert (stats.pool_hashrate_hs, stats.miners, stats.workers) == (8123456789012.5, 1432, 5120)
    assert stats.last_block_at == datetime.fromtimestamp(1764768412, UTC)


def test_nanopool_pool_stats_in_the_coins_unit():
    stats = nanopool.parse_pool_stats(
        load("nanopool_pool_hashrate.json"),
        load("nanopool_pool_activeminers.json"),
        load("nanopool_pool_activeworkers.json"),
        coin="etc",
    )
    assert stats.pool_hashrate_hs == pytest.approx(1234567.89e6)  # Mh/s for ETC
    assert (stats.miners, stats.workers) == (1432, 5120)


@pytest.mark.parametrize(
    ("parse", "answer"),
    [
        (oep.parse_pool_stats, load("miningcore_pool.json")),
        (oep.parse_pool_stats, {"status": True, "data": 5}),
        (mc.parse_pool_stats, load("oep_stats.json")),
        (ethermine.parse_pool_stats, {"status": "OK", "data": {"hashrate": 1}}),
    ],
)
def test_another_formats_answer_is_a_bad_answer(parse, answer):
    with pytest.raises(PoolError) as caught:
        parse(answer)
    assert caught.value.kind == "bad_answer"


@pytest.mark.asyncio
async def test_miningcore_unknown_pool_id_is_not_found():
    async def get_json(path, params=None):
        raise PoolError("not_found", "404", status=404)

    endpoint = PoolEndpoint("miningcore", "https://mc.example", "", "ETC", pool_id="nope")
    with pytest.raises(PoolError) as caught:
        await mc.fetch_pool_stats(get_json, endpoint)
    assert caught.value.kind == "not_found" and "'nope'" in str(caught.value)


# -- one read per pool per cycle, against the simulator ------------------------------------------

LOGINS = ["0x" + "a1" * 20, "0x" + "b2" * 20]
STATS_PATHS = {
    "open-ethereum-pool": "/api/stats",
    "miningcore": "/api/pools/etc1",
    "ethermine-v1": "/poolStats",
    "nanopool-v1": "/v1/etc/pool/hashrate",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", list(STATS_PATHS))
def test_pool_stats_are_read_once_per_pool_per_cycle(alpha, bravo, settings, fmt):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    with loop_thread() as threaded:
        server = threaded.close_on_exit(
            threaded.run(start_pool_server(fmt, accounts={login: {} for login in LOGINS}))
        )
        seen = []
        app = server.pool
        answer = app.answer

        def counting(target):
            seen.append(target.split("?")[0])
            return answer(target)

        app.answer = counting
        port = server.sockets[0].getsockname()[1]
        pool = PoolFactory(
            name=f"Sim {fmt}", api_format=fmt, base_url=f"http://127.0.0.1:{port}",
            pool_id="etc1", rate_limit_requests=50, rate_limit_window_s=1,
        )  # fmt: skip
        # Two accounts of two farms on one pool.
        for world, login in ((alpha, LOGINS[0]), (bravo, LOGINS[1])):
            PoolAccountFactory(farm=world.farm, pool=pool, login=login, next_poll_at=None)

        [result] = polling.poll_due_accounts()
        assert result.stored == 2 and result.stats_stored
        assert seen.count(STATS_PATHS[fmt]) == 1

        # A second cycle within the pool's interval reads the accounts again, not the pool.
        PoolAccount.objects.filter(pool=pool).update(next_poll_at=timezone.now())
        polling.poll_due_accounts()
        assert seen.count(STATS_PATHS[fmt]) == 1

    [sample] = PoolStatsSample.objects.filter(pool=pool)
    assert sample.pool_hashrate_hs > 100e6  # two simulated accounts' rigs
    assert sample.miners == 2
    pool.refresh_from_db()
    assert pool.stats_next_at > timezone.now() + timedelta(seconds=60)
    assert pool.stats_error == ""


@pytest.mark.django_db(transaction=True)
def test_a_failed_stats_read_stays_on_the_pool(alpha, settings):
    import httpx

    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]

    def handler(request):
        if request.url.path == "/api/stats":
            return httpx.Response(200, content=b"<html>not here</html>")
        return httpx.Response(200, json=load("oep_account.json"))

    pool = PoolFactory(name="Sim OEP", base_url="http://127.0.0.1:9")
    account = PoolAccountFactory(farm=alpha.farm, pool=pool, login="0x" + "ab" * 20)
    PoolAccount.objects.filter(pk=account.pk).update(next_poll_at=None)

    async def no_sleep(_seconds):
        return None

    [result] = polling.poll_due_accounts(transport=httpx.MockTransport(handler), sleep=no_sleep)
    assert result.stored == 1 and result.stats_error.kind == "bad_answer"
    pool.refresh_from_db()
    assert pool.stats_error.startswith("bad_answer") and pool.breaker == Pool.Breaker.CLOSED
    assert not PoolStatsSample.objects.exists()


@pytest.mark.django_db
def test_the_pool_page_shows_the_figures_and_the_farms_accounts(owner_client, alpha, bravo):
    pool = alpha.pool_account.pool
    now = timezone.now()
    for minutes, hashrate in ((10, 400e9), (5, 410e9)):
        PoolStatsSample.objects.create(
            pool=pool, ts=now - timedelta(minutes=minutes), pool_hashrate_hs=hashrate, miners=214,
            blocks_total=1878, effort=0.5, network_difficulty=2.09e15, block_height=21433870,
        )  # fmt: skip
    response = owner_client.get(f"/pools/pool/{pool.pk}/")
    html = response.content.decode()
    assert "410.00 GH/s" in html and "214" in html and "1878" in html and "50 %" in html
    assert response.context["chart_data"]["pool_hashrate_hs"] == [400e9, 410e9]
    assert 'id="pool-stats-chart"' in html and "js/pool-stats.js" in html
    # The shared pool's accounts beside it: this farm's only.
    assert f'href="/pools/{alpha.pool_account.pk}/"' in html
    assert f'href="/pools/{bravo.pool_account.pk}/"' not in html

    api = owner_client.get(f"/api/v1/pools/{pool.pk}/").json()
    assert api["latest_stats"]["pool_hashrate_hs"] == 410e9
    series = owner_client.get(
        f"/api/v1/pools/{pool.pk}/stats/", {"from": (now - timedelta(hours=1)).isoformat()}
    ).json()
    assert [row["pool_hashrate_hs"] for row in series["results"]] == [400e9, 410e9]


@pytest.mark.django_db
def test_a_pool_without_the_farms_accounts_is_not_shown(owner_client, alpha):
    other = PoolFactory(name="Somewhere else", base_url="https://else.example")
    assert owner_client.get(f"/pools/pool/{other.pk}/").status_code == 404
    assert owner_client.get(f"/api/v1/pools/{other.pk}/").status_code == 404
    listed = [p["id"] for p in owner_client.get("/api/v1/pools/").json()["results"]]
    assert listed == [alpha.pool_account.pool_id]
