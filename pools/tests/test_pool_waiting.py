"""A wallet that has not mined yet, and a pool that is briefly down, can still be added: the
first is "waiting for first shares" (not an error), the second is saved with the warning shown.
Answers are shaped as the pools send them: open-ethereum-pool's empty 404 (AccountIndex when
IsMinerExists is false), Miningcore's all-zero MinerStats, Nanopool's "Account not found"."""

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from pools.models import PoolAccount, PoolSample
from pools.services import polling
from tests.factories import PoolAccountFactory, PoolFactory

FIXTURES = Path(__file__).parent / "fixtures" / "pools"
WALLET = "0x" + "ab" * 20


def _fixture(name):
    return json.loads((FIXTURES / name).read_text())


def _transport(status, body=b"", headers=None):
    calls = []

    def handler(request):
        calls.append(request.url.path)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers or {})

    transport = httpx.MockTransport(handler)
    transport.calls = calls
    return transport


@pytest.fixture
def loopback(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]


def _use_transport(monkeypatch, transport):
    """The add page's trial goes through this transport instead of the network."""
    from pools.services import trial

    real = trial.try_account
    monkeypatch.setattr(
        "pools.views.try_account", lambda pool, login: real(pool, login, transport=transport)
    )


def _form(world, pool, action):
    return {"farm": world.farm.pk, "pool": f"pool:{pool.pk}", "login": WALLET, "label": "new",
            "action": action}  # fmt: skip


CASES = {
    "oep-404": ("open-ethereum-pool", "", 404, b""),
    "miningcore-zeros": ("miningcore", "etc1", 200, _fixture("miningcore_miner_no_shares.json")),
    "nanopool-not-found": ("nanopool-v1", "", 200, _fixture("nanopool_not_found.json")),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES)
def test_a_wallet_without_shares_can_be_saved_waiting(
    owner_client, alpha, loopback, monkeypatch, case
):
    fmt, pool_id, status, body = CASES[case]
    pool = PoolFactory(name=f"Sim {fmt}", api_format=fmt, pool_id=pool_id)
    _use_transport(monkeypatch, _transport(status, body))

    html = owner_client.post("/pools/add/", _form(alpha, pool, "try")).content.decode()
    assert "Waiting for first shares" in html
    assert 'value="save"' in html
    assert 'class="error"' not in html
    assert not PoolAccount.objects.filter(pool=pool).exists()

    response = owner_client.post("/pools/add/", _form(alpha, pool, "save"))
    assert response.status_code == 302
    assert PoolAccount.objects.get(pool=pool).login == WALLET


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "body", "headers", "kind"),
    [
        (502, b"<html><body><h1>502 Bad Gateway</h1>cloudflare</body></html>", None, "http_status"),
        (429, b'{"error": "Too many requests"}', {"Retry-After": "3"}, "rate_limited"),
    ],
)
def test_a_pool_briefly_down_still_lets_you_save(
    owner_client, alpha, loopback, monkeypatch, status, body, headers, kind
):
    pool = PoolFactory(name="Sim OEP")
    _use_transport(monkeypatch, _transport(status, body, headers))

    response = owner_client.post("/pools/add/", _form(alpha, pool, "try"))
    html = response.content.decode()
    assert response.context["error"].kind == kind
    assert "did not answer properly just now" in html
    assert "Save account anyway" in html

    assert owner_client.post("/pools/add/", _form(alpha, pool, "save")).status_code == 302
    assert PoolAccount.objects.filter(pool=pool, farm=alpha.farm).exists()


@pytest.mark.django_db
def test_an_answer_in_another_format_cannot_be_saved(owner_client, alpha, loopback, monkeypatch):
    pool = PoolFactory(name="Sim OEP")
    _use_transport(monkeypatch, _transport(200, b"<html>a web page</html>"))
    html = owner_client.post("/pools/add/", _form(alpha, pool, "try")).content.decode()
    assert 'class="error"' in html and 'value="save"' not in html


@pytest.mark.django_db(transaction=True)
def test_polling_a_wallet_without_shares_stays_waiting(alpha, loopback):
    pool = PoolFactory(name="Sim OEP")
    account = PoolAccountFactory(farm=alpha.farm, pool=pool, login=WALLET, next_poll_at=None)
    transport = _transport(404)

    async def no_sleep(_seconds):
        return None

    for _ in range(3):
        PoolAccount.objects.filter(pk=account.pk).update(next_poll_at=timezone.now())
        polling.poll_due_accounts(transport=transport, sleep=no_sleep)
        account.refresh_from_db()
        assert (account.status, account.last_error, account.last_error_kind) == ("waiting", "", "")
    assert account.get_status_display() == "Waiting for first shares"
    # No retries: the pool answered, it has nothing yet. (Its own statistics are read once.)
    assert transport.calls.count(f"/api/accounts/{WALLET}") == 3
    assert PoolSample.objects.count() == 0
    pool.refresh_from_db()
    assert pool.breaker == "closed" and pool.breaker_failures == 0


@pytest.mark.django_db
def test_waiting_shows_as_waiting_on_the_pages_and_the_api(owner_client, alpha):
    account = alpha.pool_account
    PoolAccount.objects.filter(pk=account.pk).update(
        status="waiting", last_poll_at=timezone.now() - timedelta(seconds=5)
    )
    listing = owner_client.get("/pools/").content.decode()
    assert "status-waiting" in listing and "Waiting for first shares" in listing
    assert "status-error" not in listing
    detail = owner_client.get(f"/pools/{account.pk}/").content.decode()
    assert "waiting for its first shares" in detail and 'class="error"' not in detail
    api = owner_client.get(f"/api/v1/pool-accounts/{account.pk}/").json()
    assert api["status"] == "waiting"
