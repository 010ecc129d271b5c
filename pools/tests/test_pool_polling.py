"""The pool poll cycle: leases, rate limits, retries, Retry-After, the circuit breaker, storage."""

import types
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.utils import timezone

from pools import formats
from pools.formats import AccountSnapshot, PayoutRecord, PoolError, WorkerSnapshot
from pools.models import Payout, Pool, PoolAccount, PoolSample, PoolWorker
from pools.services import polling
from pools.services.http import RateLimiter
from tests.factories import PoolAccountFactory, PoolFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def _fetch_account(get_json, endpoint):
    data = await get_json(f"/api/accounts/{endpoint.login}")
    if not isinstance(data, dict) or "hr" not in data:
        raise formats.base.bad_answer("no hr")
    return AccountSnapshot(
        current_hashrate_hs=float(data["hr"]),
        unpaid=int(data["unpaid"]),
        workers=[
            WorkerSnapshot(name="alpha-rig-1", current_hashrate_hs=float(data["hr"]), online=True)
        ],
        payouts=[
            PayoutRecord(tx_hash=tx, amount=10**17, paid_at=datetime(2026, 11, 1, tzinfo=UTC))
            for tx in data.get("payments", [])
        ],
    )


@pytest.fixture
def fake_format(monkeypatch, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    module = types.SimpleNamespace(
        FORMAT="fake", DEFAULT_INTERVAL_S=120, RATE_LIMIT=(10, 1.0), fetch_account=_fetch_account
    )
    monkeypatch.setitem(formats.FORMATS, "fake", module)
    return module


@pytest.fixture
def sleeps():
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    sleep.slept = slept
    return sleep


def _pool(name="p1", **kwargs):
    return PoolFactory(
        name=name, api_format="fake", base_url=f"http://127.0.0.1:9/{name}", **kwargs
    )


def _account(world, pool, login="0xabc"):
    due = timezone.now() - timedelta(seconds=1)
    return PoolAccountFactory(farm=world.farm, pool=pool, login=login, next_poll_at=due)


def _transport(answers):
    """answers: a list consumed per request of (status, body or exception, headers)."""
    calls = []

    def handler(request):
        calls.append(request.url.path)
        status, body, headers = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(body, Exception):
            raise body
        content = body if isinstance(body, bytes) else httpx.Response(200, json=body).content
        return httpx.Response(status, content=content, headers=headers or {})

    transport = httpx.MockTransport(handler)
    transport.calls = calls
    return transport


def test_due_account_is_polled_and_stored_once(alpha, fake_format, sleeps):
    account = _account(alpha, _pool())
    transport = _transport(
        [(200, {"hr": 250e6, "unpaid": 123, "payments": ["0xt1", "0xt1", "0xt2"]}, None)]
    )

    [result] = polling.poll_due_accounts(transport=transport, sleep=sleeps)

    assert (result.polled, result.stored, result.errors) == (1, 1, [])
    account.refresh_from_db()
    assert (account.status, account.current_hashrate_hs, account.unpaid) == ("ok", 250e6, 123)
    assert account.next_poll_at > timezone.now() + timedelta(seconds=100)
    assert PoolSample.objects.filter(account=account).count() == 1
    worker = PoolWorker.objects.get(account=account)
    assert worker.rig_id == alpha.rig.pk  # matched to the farm's rig by name
    assert sorted(Payout.objects.values_list("tx_hash", flat=True)) == ["0xt1", "0xt2"]

    PoolAccount.objects.filter(pk=account.pk).update(next_poll_at=timezone.now())
    polling.poll_due_accounts(transport=transport, sleep=sleeps)
    assert Payout.objects.count() == 2  # listed again: stored once
    assert Pool.objects.get(pk=account.pool_id).poll_lease_until is None


def test_a_leased_pool_is_not_polled_by_a_second_worker(alpha, fake_format):
    pool = _pool()
    _account(alpha, pool)
    now = timezone.now()
    assert polling.lease_pools(now=now) == [pool]
    assert polling.lease_pools(now=now) == []


def test_429_with_retry_after_is_honoured(alpha, fake_format, sleeps):
    account = _account(alpha, _pool())
    transport = _transport(
        [(429, b"slow down", {"Retry-After": "7"}), (200, {"hr": 1e6, "unpaid": 0}, None)]
    )

    polling.poll_due_accounts(transport=transport, sleep=sleeps)

    account.refresh_from_db()
    assert account.status == "ok"
    assert any(6.9 <= s <= 7.1 for s in sleeps.slept), sleeps.slept


@pytest.mark.parametrize(
    ("answers", "kind"),
    [
        ([(500, b"oops", None)], "http_status"),
        ([(502, b"<html><body>Bad gateway</body></html>", None)], "http_status"),
        ([(200, b"<html>maintenance</html>", None)], "bad_answer"),
        ([(200, b"{not json", None)], "bad_answer"),
        ([(200, {"unexpected": True}, None)], "bad_answer"),
        ([(404, b"", None)], "not_found"),
        ([(200, httpx.ReadTimeout("slow"), None)], "timeout"),
        ([(200, httpx.ConnectError("refused"), None)], "refused"),
    ],
)
def test_failures_are_recorded_on_the_account(alpha, fake_format, sleeps, answers, kind):
    account = _account(alpha, _pool())
    transport = _transport(answers)

    polling.poll_due_accounts(transport=transport, sleep=sleeps)

    account.refresh_from_db()
    assert (account.status, account.last_error_kind) == ("error", kind)
    assert account.last_error
    assert PoolSample.objects.count() == 0
    retried = kind in {"http_status", "timeout", "refused"}
    assert len(transport.calls) == (3 if retried else 1)


def test_breaker_opens_after_repeated_failures_then_probes_once(alpha, fake_format, sleeps):
    pool = _pool()
    accounts = [_account(alpha, pool, login=f"0x{i}") for i in range(3)]
    failing = _transport([(503, b"down", None)])
    for _ in range(polling.BREAKER_THRESHOLD):
        PoolAccount.objects.filter(pool=pool).update(
            next_poll_at=timezone.now() - timedelta(seconds=1)
        )
        polling.poll_due_accounts(transport=failing, sleep=sleeps)
    pool.refresh_from_db()
    assert pool.breaker == "open"
    assert pool.breaker_open_until > timezone.now()

    PoolAccount.objects.filter(pool=pool).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    calls_before = len(failing.calls)
    polling.poll_due_accounts(transport=failing, sleep=sleeps)
    assert len(failing.calls) == calls_before  # paused: nothing sent

    Pool.objects.filter(pk=pool.pk).update(breaker_open_until=timezone.now() - timedelta(seconds=1))
    healthy = _transport([(200, {"hr": 1e6, "unpaid": 0}, None)])
    [result] = polling.poll_due_accounts(transport=healthy, sleep=sleeps)
    assert result.polled == 1  # one probe
    pool.refresh_from_db()
    assert (pool.breaker, pool.breaker_failures) == ("closed", 0)
    assert len(accounts) == 3


def test_outbound_policy_refuses_a_private_pool_url(alpha, fake_format, settings, sleeps):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    account = _account(alpha, _pool())

    # The real transport: the policy is enforced where the socket is opened.
    polling.poll_due_accounts(sleep=sleeps)

    account.refresh_from_db()
    assert account.last_error_kind == "forbidden_address"
    assert "ETHDASH_OUTBOUND_ALLOW" in account.last_error


class FakeClock:
    """A clock that moves only when slept on, by the seconds asked plus `late_by_s` (a busy
    event loop wakes its sleepers late); it remembers every sleep."""

    def __init__(self, now=0.0, late_by_s=0.0):
        self.now, self.late_by_s, self.slept = now, late_by_s, []

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds + self.late_by_s


@pytest.mark.asyncio
async def test_rate_limiter_spaces_requests_evenly():
    clock = FakeClock(100.0)
    limiter = RateLimiter(10, 1.0, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        await limiter.acquire()
    assert clock.slept == pytest.approx([0.106, 0.106, 0.106])
    clock.now += 1.0  # an idle second: the next request goes at once
    await limiter.acquire()
    assert len(clock.slept) == 3
    limiter.pause(5)
    await limiter.acquire()
    assert clock.slept[-1] == pytest.approx(5.0)


@pytest.mark.asyncio
async def test_a_late_wake_up_does_not_let_the_next_request_through_early():
    clock = FakeClock(0.0, late_by_s=0.5)  # the loop was busy: woke half a second late
    limiter = RateLimiter(10, 1.0, clock=clock, sleep=clock.sleep)
    await limiter.acquire()
    await limiter.acquire()
    released_at = clock.now
    await limiter.acquire()
    assert clock.now - released_at >= 0.106 - 1e-9


def test_pool_error_kinds_are_checked():
    with pytest.raises(ValueError):
        PoolError("nonsense", "x")


@pytest.mark.asyncio
async def test_decimal_coin_amounts_stay_exact_to_the_wei():
    from decimal import Decimal

    from pools.services.http import json_getter

    body = b'{"balance": 1.234567890123456789}'
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with httpx.AsyncClient(transport=transport) as client:
        data = await json_getter(client, "http://127.0.0.1", RateLimiter(100, 1.0))("/x")
    assert data["balance"] == Decimal("1.234567890123456789")
    assert data["balance"] * 10**18 == 1_234_567_890_123_456_789


def test_admin_poll_now_makes_accounts_due(alpha, admin_client):
    from django.utils import timezone

    account = alpha.pool_account
    admin_client.post(
        "/admin/pools/poolaccount/", {"action": "poll_now", "_selected_action": [account.pk]}
    )
    account.refresh_from_db()
    assert account.next_poll_at <= timezone.now()


def test_an_account_added_without_a_poll_time_is_due_at_once(alpha, fake_format):
    """However an account is added (the page, the admin, an import), its pool is leased and the
    account claimed in the next cycle."""
    pool = _pool()
    account = PoolAccountFactory(farm=alpha.farm, pool=pool, next_poll_at=None)
    now = timezone.now()
    assert polling.lease_pools(now=now) == [pool]
    assert polling.claim_accounts(pool, now=now) == [account]
