"""MEV relays' data API (bidtraces/proposer_payload_delivered): shapes, matching and failures."""

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from validators.services.relays import BidTrace, RelayError, parse_bid_traces, relay_delivered

RELAY = "http://127.0.0.1:18550"
SLOT = 4_000_123
BLOCK_HASH = "0x" + "b1" * 32
PROPOSER = "0x" + "aa" * 48
FEE_RECIPIENT = "0x" + "fe" * 20


def bid_trace(*, slot=SLOT, block_hash=BLOCK_HASH, value="52301990451300000", **extra):
    """A delivered payload as a relay answers it (mev-boost-relay's BidTraceV2 JSON)."""
    return {
        "slot": str(slot),
        "parent_hash": "0x" + "0a" * 32,
        "block_hash": block_hash,
        "builder_pubkey": "0x" + "bb" * 48,
        "proposer_pubkey": PROPOSER,
        "proposer_fee_recipient": FEE_RECIPIENT,
        "gas_limit": "30000000",
        "gas_used": "12850301",
        "value": value,
        "block_number": "17000000",
        "num_tx": "153",
        **extra,
    }


class StubHTTP:
    """A tiny HTTP/1.1 server on 127.0.0.1 answering GETs from a table of path -> (status,
    body); a body may be a callable of the query. Every request is kept in `requests`."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server

    async def _handle(self, reader, writer):
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            target = head.split(" ", 2)[1]
            parts = urlsplit(target)
            self.requests.append(target)
            status, body = self.routes.get(parts.path, (404, {"code": 404, "message": "no route"}))
            if callable(body):
                body = body(parse_qs(parts.query))
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
def allow_loopback(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]


def ask(handler, **kwargs):
    """relay_delivered against an in-memory relay; returns (result, requests seen)."""
    seen = []

    def record(request):
        seen.append(request)
        return handler(request)

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as http:
            return await relay_delivered(
                http, kwargs.pop("url", RELAY), SLOT, sleep=_no_sleep, **kwargs
            )

    return asyncio.run(go()), seen


async def _no_sleep(_seconds):
    return None


def test_the_delivered_payload_is_parsed_exactly_and_asked_by_slot(allow_loopback):
    trace, seen = ask(lambda r: httpx.Response(200, json=[bid_trace()]))

    assert trace == BidTrace(
        slot=SLOT,
        parent_hash="0x" + "0a" * 32,
        block_hash=BLOCK_HASH,
        builder_pubkey="0x" + "bb" * 48,
        proposer_pubkey=PROPOSER,
        proposer_fee_recipient=FEE_RECIPIENT,
        gas_limit=30_000_000,
        gas_used=12_850_301,
        value=52_301_990_451_300_000,
        block_number=17_000_000,
        num_tx=153,
    )
    assert len(seen) == 1
    assert seen[0].url.path == "/relay/v1/data/bidtraces/proposer_payload_delivered"
    assert seen[0].url.params["slot"] == str(SLOT)


def test_values_beyond_64_bits_stay_exact(allow_loopback):
    huge = str(2**200 + 7)
    trace, _ = ask(lambda r: httpx.Response(200, json=[bid_trace(value=huge)]))
    assert trace.value == 2**200 + 7


def test_matched_by_block_hash_and_proposer_when_known(allow_loopback):
    other_block = bid_trace(block_hash="0x" + "c2" * 32, value="1")
    ours = bid_trace(value="2")
    answer = [other_block, ours]

    trace, _ = ask(lambda r: httpx.Response(200, json=answer), block_hash=BLOCK_HASH.upper()[2:])
    assert trace is None  # a hash without 0x matches nothing rather than anything

    trace, _ = ask(lambda r: httpx.Response(200, json=answer), block_hash=BLOCK_HASH)
    assert trace.value == 2

    trace, _ = ask(lambda r: httpx.Response(200, json=answer), proposer_pubkey="0x" + "dd" * 48)
    assert trace is None
    trace, _ = ask(lambda r: httpx.Response(200, json=answer), proposer_pubkey=PROPOSER.upper())
    assert trace.value == 1  # no hash given: the first of the proposer's slot


def test_nothing_delivered_is_none(allow_loopback):
    trace, _ = ask(lambda r: httpx.Response(200, json=[]))
    assert trace is None
    trace, _ = ask(lambda r: httpx.Response(200, json=[bid_trace(slot=SLOT + 1)]))
    assert trace is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "did not answer JSON"),
        (json.dumps({"data": []}).encode(), "expected a JSON array, got dict"),
        (json.dumps([1]).encode(), "entry 0 is int, not an object"),
        (json.dumps([bid_trace(value=123)]).encode(), "value is 123, not a decimal string"),
        (json.dumps([bid_trace(value="-5")]).encode(), "value is '-5', not a decimal string"),
        (json.dumps([bid_trace(block_hash="0x12")]).encode(), "block_hash is '0x12'"),
        (
            json.dumps([{k: v for k, v in bid_trace().items() if k != "slot"}]).encode(),
            "slot is None",
        ),
    ],
)
def test_a_garbled_answer_is_a_clear_error(allow_loopback, body, message):
    with pytest.raises(RelayError) as caught:
        ask(lambda r: httpx.Response(200, content=body))
    assert message in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


def test_parse_accepts_a_trace_without_proposer_pubkey():
    item = bid_trace()
    del item["proposer_pubkey"]
    assert parse_bid_traces([item])[0].proposer_pubkey == ""


def test_an_error_answer_is_reported_with_its_message(allow_loopback):
    with pytest.raises(RelayError) as caught:
        ask(lambda r: httpx.Response(400, json={"code": 400, "message": "invalid slot"}))
    assert str(caught.value) == "127.0.0.1 answered HTTP 400: invalid slot."


def test_a_failing_relay_is_retried_a_bounded_number_of_times(allow_loopback):
    answers = iter([httpx.Response(503), httpx.Response(200, json=[bid_trace()])])
    trace, seen = ask(lambda r: next(answers))
    assert trace.block_hash == BLOCK_HASH and len(seen) == 2

    with pytest.raises(RelayError) as caught:
        ask(lambda r: httpx.Response(503), attempts=3)
    assert str(caught.value) == "127.0.0.1 answered HTTP 503 after 3 attempts."

    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RelayError) as caught:
        _, seen = ask(timeout, attempts=2)
    assert str(caught.value) == "127.0.0.1 timed out after 2 attempts."


def test_a_private_address_is_refused_without_asking(settings):
    """Through the real transport (the policy is judged where the socket opens)."""
    from ethdash import outbound

    settings.ETHDASH_OUTBOUND_ALLOW = []

    async def go():
        async with outbound.async_client() as http:
            return await relay_delivered(http, RELAY, SLOT, sleep=_no_sleep)

    with pytest.raises(RelayError) as caught:
        asyncio.run(go())
    assert caught.value.kind == "forbidden_address"
    assert "non-public address" in str(caught.value)


def test_a_real_socket_relay_answers_through_the_stub(allow_loopback):
    """The same call over a real loopback socket, as process_pending_execution makes it."""
    from tests.loops import loop_thread

    stub = StubHTTP()
    stub.routes["/relay/v1/data/bidtraces/proposer_payload_delivered"] = (
        200,
        lambda query: [bid_trace(slot=int(query["slot"][0]))],
    )
    with loop_thread() as threaded:
        threaded.close_on_exit(threaded.run(stub.start()))

        async def go():
            async with httpx.AsyncClient() as http:
                return await relay_delivered(http, stub.url + "/", SLOT, PROPOSER)

        trace = asyncio.run(go())
    assert trace.slot == SLOT and trace.value == 52_301_990_451_300_000
    assert stub.requests == [f"/relay/v1/data/bidtraces/proposer_payload_delivered?slot={SLOT}"]
