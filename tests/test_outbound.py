"""The one outbound transport: the address policy on the address actually connected to, for every
kind of caller; the retry policy and Retry-After; failover with memory; the error kinds, each
produced by a real failure on a loopback socket."""

import asyncio
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from ethdash import evm, outbound
from pools.formats import PoolError
from pools.services.http import RateLimiter, json_getter
from rigs.formats import MinerEndpoint, MinerError
from rigs.formats.transport import http_get_json, tcp_exchange
from validators.formats.client import BeaconClient, BeaconError
from validators.services.relays import RelayError, relay_delivered

REBOUND_HOST = "rebind.example"
LOOPBACK_ONLY = ["127.0.0.0/8"]


class LocalServer:
    """A loopback HTTP/1.1 server answering every path from `routes` (path -> (status, headers,
    body)); SSE and JSON-RPC are just bodies. `hang` makes it accept and never answer."""

    def __init__(self, routes=None, *, hang=False):
        self.routes = routes or {}
        self.hang = hang
        self.requests = []

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def _handle(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if self.hang:
                await asyncio.sleep(30)
            lines = head.decode().split("\r\n")
            method, target, _ = lines[0].split(" ")
            fields = dict(line.lower().partition(": ")[::2] for line in lines[1:] if line)
            length = int(fields.get("content-length", 0))
            body = await reader.readexactly(length) if length else b""
            self.requests.append((method, target, body))
            path = target.split("?")[0]
            status, headers, answer = self.routes.get(path, (404, {}, b"{}"))
            if callable(answer):
                answer = answer(body)
            if not isinstance(answer, bytes):
                answer = json.dumps(answer).encode()
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(answer)}\r\n{extra}"
                f"Connection: close\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
def dns(monkeypatch):
    """The resolver the transport uses, answering `dns.answer` for REBOUND_HOST: the name a user
    entered, whose address is only known (and judged) when the transport connects."""
    state = type("Dns", (), {"answer": "127.0.0.1", "calls": []})()
    real = outbound.resolve

    def resolve(host, port):
        if host != REBOUND_HOST:
            return real(host, port)
        state.calls.append(host)
        return [state.answer]

    monkeypatch.setattr(outbound, "resolve", resolve)
    return state


def _rpc_chain_id(body):
    request = json.loads(body)
    return {"jsonrpc": "2.0", "id": request["id"], "result": "0x1"}


ROUTES = {
    "/pool": (200, {}, {"hr": 1}),
    "/summary": (200, {}, {"hashrate": 1}),
    "/eth/v1/node/syncing": (
        200,
        {},
        {"data": {"head_slot": "1", "sync_distance": "0", "is_syncing": False}},
    ),
    "/eth/v1/events": (
        200,
        {"Content-Type": "text/event-stream"},
        b'event: head\ndata: {"slot": "7"}\n\n',
    ),
    "/rpc": (200, {"Content-Type": "application/json"}, _rpc_chain_id),
    "/relay/v1/data/bidtraces/proposer_payload_delivered": (200, {}, []),
}


async def _pool_poll(port):
    async with outbound.async_client() as http:
        get_json = json_getter(
            http, f"http://{REBOUND_HOST}:{port}", RateLimiter(100, 1.0), attempts=1
        )
        return await get_json("/pool")


async def _http_miner(port):
    async with outbound.async_client() as http:
        endpoint = MinerEndpoint("trex", REBOUND_HOST, port, timeout_s=2)
        return await http_get_json(http, endpoint, "/summary")


async def _tcp_miner(port):
    endpoint = MinerEndpoint("claymore", REBOUND_HOST, port, timeout_s=2)
    return await tcp_exchange(endpoint, b"GET /summary HTTP/1.1\r\n\r\n")


async def _beacon(port):
    async with BeaconClient(f"http://{REBOUND_HOST}:{port}", retries=0) as client:
        return await client.syncing()


async def _beacon_events(port):
    async with BeaconClient(f"http://{REBOUND_HOST}:{port}", retries=0) as client:
        return [event async for event in client.events(["head"])]


async def _execution_node(port):
    w3 = evm.open_web3(f"http://{REBOUND_HOST}:{port}/rpc", timeout_s=2)
    try:
        return await w3.eth.chain_id
    finally:
        await w3.provider.disconnect()


async def _relay(port):
    async with outbound.async_client() as http:
        return await relay_delivered(http, f"http://{REBOUND_HOST}:{port}", 1, attempts=1)


CALLERS = {
    "pool poll": (_pool_poll, PoolError),
    "HTTP miner": (_http_miner, MinerError),
    "TCP miner": (_tcp_miner, MinerError),
    "beacon client": (_beacon, BeaconError),
    "beacon SSE events": (_beacon_events, BeaconError),
    "execution node via web3": (_execution_node, evm.AllNodesFailed),
    "relay": (_relay, RelayError),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("answer", ["127.0.0.1", "169.254.169.254"])
async def test_a_name_that_resolves_to_a_private_address_is_refused_at_connect(
    settings, dns, caller, answer
):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    dns.answer = answer
    call, error_class = CALLERS[caller]
    async with LocalServer(ROUTES) as server:
        if caller == "execution node via web3":
            chain = evm.ExecutionChain(1, [_node(server.port)], attempts=1)
            with pytest.raises(error_class) as caught:
                await chain.call(lambda w3: w3.eth.chain_id)
            assert "forbidden_address" in str(caught.value)
        else:
            with pytest.raises(error_class) as caught:
                await call(server.port)
            assert caught.value.kind == "forbidden_address", str(caught.value)
            # Refused with the reason, but without what the name resolved to.
            message = str(caught.value)
            assert answer not in message and "ETHDASH_OUTBOUND_ALLOW" in message
            assert f"{REBOUND_HOST} resolves to a non-public address" in message
    assert server.requests == []  # nothing reached the server
    assert dns.calls == [REBOUND_HOST]  # resolved once, at connect time, and judged there


@pytest.mark.asyncio
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_the_same_name_goes_through_when_the_allow_list_has_the_address(
    settings, dns, caller
):
    settings.ETHDASH_OUTBOUND_ALLOW = LOOPBACK_ONLY
    call, _ = CALLERS[caller]
    async with LocalServer(ROUTES) as server:
        result = await call(server.port)
    assert server.requests, "the call reached the local server"
    expected = {
        "pool poll": {"hr": 1},
        "HTTP miner": {"hashrate": 1},
        "execution node via web3": 1,
        "relay": None,
    }
    if caller in expected:
        assert result == expected[caller]
    elif caller == "TCP miner":
        assert result.startswith(b"HTTP/1.1 200")
    elif caller == "beacon client":
        assert result["head_slot"] == 1
    else:
        assert [(e.event, e.data["slot"]) for e in result] == [("head", 7)]


def _node(port):
    return type("Node", (), {"pk": 1, "name": "el-1", "url": f"http://{REBOUND_HOST}:{port}/rpc"})


@pytest.mark.asyncio
async def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(
    settings, dns, monkeypatch
):
    """A DNS answer that changes after the check cannot slip past: the backend connects to the
    address it checked, and never asks the resolver again for the same connection."""
    settings.ETHDASH_OUTBOUND_ALLOW = LOOPBACK_ONLY
    connected = []
    real_connect = outbound.httpcore.AnyIOBackend.connect_tcp

    async def spy(self, host, port, **kwargs):
        connected.append(host)
        dns.answer = "8.8.8.8"  # the name changes its answer once it has been checked
        return await real_connect(self, host, port, **kwargs)

    monkeypatch.setattr(outbound.httpcore.AnyIOBackend, "connect_tcp", spy)
    async with LocalServer(ROUTES) as server:
        assert await _pool_poll(server.port) == {"hr": 1}
    assert connected == ["127.0.0.1"] and dns.calls == [REBOUND_HOST]


@pytest.mark.asyncio
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
async def test_non_public_destinations_are_refused_by_default(settings, url):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    async with outbound.async_client() as http:
        with pytest.raises(outbound.OutboundError) as caught:
            await outbound.send(http, "GET", url)
    assert caught.value.kind == "forbidden_address"


@pytest.mark.asyncio
async def test_a_name_with_one_private_answer_among_public_ones_is_refused(settings, monkeypatch):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["8.8.8.8", "10.0.0.1"])
    with pytest.raises(outbound.OutboundRefused) as caught:
        await outbound.checked_addresses("mixed.example", 443)
    assert "10.0.0.1" not in str(caught.value)


@pytest.mark.asyncio
async def test_unsupported_scheme_is_refused():
    async with outbound.async_client() as http:
        with pytest.raises(outbound.OutboundError) as caught:
            await outbound.send(http, "GET", "file:///etc/passwd")
    assert caught.value.kind == "bad_address"


# -- error kinds from real failures -------------------------------------------------------------


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _get(url, **kwargs):
    async with outbound.async_client(**kwargs) as http:
        return await outbound.request(http, "GET", url, attempts=1)


@pytest.mark.asyncio
async def test_kind_refused_from_a_closed_port():
    with pytest.raises(outbound.OutboundError) as caught:
        await _get(f"http://127.0.0.1:{_closed_port()}/")
    assert caught.value.kind == "refused"


@pytest.mark.asyncio
async def test_kind_timeout_from_a_server_that_never_answers():
    async with LocalServer(hang=True) as server:
        with pytest.raises(outbound.OutboundError) as caught:
            await _get(f"http://127.0.0.1:{server.port}/", timeout=0.3)
    assert caught.value.kind == "timeout"


@pytest.mark.asyncio
async def test_kind_tls_from_a_server_that_does_not_speak_it():
    async def plain_http(reader, writer):
        writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(outbound.OutboundError) as caught:
            await _get(f"https://127.0.0.1:{port}/")
    finally:
        server.close()
    assert caught.value.kind == "tls", str(caught.value)


@pytest.mark.asyncio
async def test_kind_dns_from_a_name_that_does_not_resolve(monkeypatch):
    def no_such_name(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound, "resolve", no_such_name)
    with pytest.raises(outbound.OutboundError) as caught:
        await _get("http://nowhere.example/")
    assert caught.value.kind == "dns"


@pytest.mark.asyncio
@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/", "http://not a host!!/"])
async def test_kind_bad_address_from_a_malformed_url(url):
    with pytest.raises(outbound.OutboundError) as caught:
        await _get(url)
    assert caught.value.kind == "bad_address"


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "kind"), [(500, "http_status"), (429, "rate_limited")])
async def test_kind_from_an_http_error_answer(status, kind):
    async with LocalServer({"/": (status, {"Retry-After": "3"}, b"{}")}) as server:
        with pytest.raises(outbound.OutboundError) as caught:
            await _get(f"http://127.0.0.1:{server.port}/")
    assert (caught.value.kind, caught.value.status) == (kind, status)


@pytest.mark.asyncio
async def test_kind_bad_answer_from_an_html_page_where_json_was_due():
    async with LocalServer({"/pool": (200, {}, b"<html>maintenance</html>")}) as server:
        with pytest.raises(PoolError) as caught:
            await _pool_poll_at(f"http://127.0.0.1:{server.port}")
    assert caught.value.kind == "bad_answer"


async def _pool_poll_at(base_url):
    async with outbound.async_client() as http:
        return await json_getter(http, base_url, RateLimiter(100, 1.0), attempts=1)("/pool")


# -- the retry policy ---------------------------------------------------------------------------


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
def _reset_sleeps():
    _no_sleep.slept = []


def test_retry_after_is_honoured_but_bounded():
    response = httpx.Response(429, headers={"Retry-After": "7"})
    assert outbound.retry_after_s(response) == 7
    huge = httpx.Response(429, headers={"Retry-After": "86400"})
    assert outbound.retry_after_s(huge) == outbound.MAX_RETRY_AFTER_S
    assert 0.5 <= outbound.backoff_delay(1, 0.5) <= 0.75
    assert 2.0 <= outbound.backoff_delay(3, 0.5) <= 3.0


def test_retry_after_as_an_http_date():
    when = datetime.now(UTC) + timedelta(seconds=20)
    response = httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    assert 18 <= outbound.retry_after_s(response) <= 20
    past = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert outbound.retry_after_s(past) == 0


@pytest.mark.asyncio
async def test_a_429_waits_its_retry_after_then_succeeds():
    client = _client([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200)])
    response = await outbound.request(client, "GET", "http://127.0.0.1/x", sleep=_no_sleep)
    assert response.status_code == 200
    assert _no_sleep.slept == [7]


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
async def test_client_errors_are_not_retried():
    client = _client([httpx.Response(404)])
    with pytest.raises(outbound.OutboundError) as caught:
        await outbound.request(client, "GET", "http://127.0.0.1/x", sleep=_no_sleep)
    assert (caught.value.kind, caught.value.status) == ("http_status", 404)
    assert _no_sleep.slept == []


@pytest.mark.asyncio
async def test_a_refused_destination_is_not_retried(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    async with outbound.async_client() as http:
        with pytest.raises(outbound.OutboundError):
            await outbound.request(http, "GET", "http://10.0.0.1/", sleep=_no_sleep)
    assert _no_sleep.slept == []


# -- failover -----------------------------------------------------------------------------------


class _Ref:
    def __init__(self, pk, name):
        self.pk, self.name = pk, name


@pytest.mark.asyncio
async def test_failover_remembers_dead_nodes_for_the_run():
    first, second, third = _Ref(1, "a"), _Ref(2, "b"), _Ref(3, "c")
    failover = outbound.Failover([first, second, third])
    asked = []

    async def work(node):
        asked.append(node.name)
        if node is first:
            raise outbound.OutboundError("refused", "a refused the connection.")
        return node.name

    assert await failover.call(work) == "b"
    assert await failover.call(work) == "b"
    assert asked == ["a", "b", "b"]  # the dead node is not asked again in this run
    assert failover.answered_by is second
    assert [message for _, message in failover.dead.values()] == ["a: a refused the connection."]


@pytest.mark.asyncio
async def test_failover_keeps_a_node_whose_answer_was_the_items_problem():
    nodes = [_Ref(1, "a"), _Ref(2, "b")]
    failover = outbound.Failover(nodes)

    async def work(node):
        raise outbound.OutboundError("http_status", "no such block", status=404)

    with pytest.raises(outbound.AllNodesFailed, match="no such block"):
        await failover.call(work, node_is_down=lambda exc: exc.status != 404)
    assert failover.dead == {}
    assert list(failover.alive()) == nodes


def test_a_503_that_names_its_retry_after_is_waited_out_like_a_429():
    request = httpx.Request("GET", "http://pool.example/")
    maintenance = httpx.Response(503, headers={"Retry-After": "9"}, request=request)
    error = outbound.status_error(maintenance, "pool.example")
    assert (error.kind, error.transient, error.retry_after_s) == ("http_status", True, 9)
    plain = outbound.status_error(httpx.Response(503, request=request), "pool.example")
    assert plain.retry_after_s is None


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::127.0.0.1",  # IPv4-compatible
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_an_ipv6_form_of_a_private_ipv4_address_is_refused(settings, address):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_address("node.example", address)


def test_the_allow_list_judges_the_ipv4_address_inside_an_ipv6_form(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8", "::1/128"]
    outbound.check_address("node.example", "::ffff:127.0.0.1")
    outbound.check_address("node.example", "::1")
    outbound.check_address("node.example", "2001:4860:4860::8888")  # public IPv6


@pytest.mark.asyncio
async def test_every_address_of_a_name_is_tried_in_turn(settings, monkeypatch):
    """A dual-stack name whose first address does not answer still reaches its second, over a
    plain socket and over HTTP alike."""
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]

    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # Nothing listens on 127.0.0.2 at that port: the first answer refuses the connection.
    monkeypatch.setattr(outbound, "resolve", lambda host, p: ["127.0.0.2", "127.0.0.1"])
    async with server:
        sock = await outbound.open_socket("dual.example", port, timeout_s=2)
        assert sock.getpeername() == ("127.0.0.1", port)
        sock.close()
        async with outbound.async_client() as http:
            response = await outbound.send(http, "GET", f"http://dual.example:{port}/")
        assert (response.status_code, response.text) == (200, "ok")


@pytest.mark.asyncio
async def test_a_slow_resolver_is_bounded_by_the_connect_timeout(settings, monkeypatch):
    settings.ETHDASH_OUTBOUND_ALLOW = []

    def slow(host, port):
        time.sleep(1.0)
        return ["8.8.8.8"]

    monkeypatch.setattr(outbound, "resolve", slow)
    with pytest.raises(outbound.OutboundError) as caught:
        await outbound.checked_addresses("slow.example", 443, timeout_s=0.2)
    assert caught.value.kind == "dns"
