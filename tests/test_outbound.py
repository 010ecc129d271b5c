import httpx
import pytest

from ethdash import outbound


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4000/api",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://192.168.0.10/",
    ],
)
def test_non_public_destinations_are_refused_by_default(settings, url):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_destination(url)


def test_allowed_cidr_lets_loopback_through(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    outbound.check_destination("http://127.0.0.1:4000/api")


def test_unsupported_scheme_is_refused():
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_destination("file:///etc/passwd")


def test_retry_after_is_honoured_but_bounded():
    response = httpx.Response(429, headers={"Retry-After": "7"})
    assert outbound.backoff_delay(1, 0.5, response) == 7
    huge = httpx.Response(429, headers={"Retry-After": "86400"})
    assert outbound.backoff_delay(1, 0.5, huge) == outbound.MAX_RETRY_AFTER_S
    assert 0.5 <= outbound.backoff_delay(1, 0.5) <= 0.75
    assert 2.0 <= outbound.backoff_delay(3, 0.5) <= 3.0


def _client(responses):
    calls = iter(responses)

    def handler(request):
        result = next(calls)
        if isinstance(result, Exception):
            raise result
        return result

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def _no_sleep(seconds):
    _no_sleep.slept.append(seconds)


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    _no_sleep.slept = []


@pytest.mark.asyncio
async def test_retries_then_succeeds():
    client = _client(
        [httpx.Response(503), httpx.ConnectError("refused"), httpx.Response(200, json={})]
    )
    response = await outbound.request(client, "GET", "http://127.0.0.1/x", sleep=_no_sleep)
    assert response.status_code == 200
    assert len(_no_sleep.slept) == 2


@pytest.mark.asyncio
async def test_gives_up_after_bounded_attempts_with_a_readable_error():
    client = _client([httpx.ReadTimeout("slow")] * 3)
    with pytest.raises(outbound.OutboundError, match=r"127\.0\.0\.1 timed out after 3 attempts"):
        await outbound.request(client, "GET", "http://127.0.0.1/x", sleep=_no_sleep)


@pytest.mark.asyncio
async def test_client_errors_are_returned_not_retried():
    client = _client([httpx.Response(404)])
    response = await outbound.request(client, "GET", "http://127.0.0.1/x", sleep=_no_sleep)
    assert response.status_code == 404
    assert _no_sleep.slept == []
