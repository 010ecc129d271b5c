"""The execution nodes of one EVM chain, asked through web3.py with failover.

Shared by pools (payouts checked on chain) and validators (execution rewards of proposals). The
rules, in one place:

- nodes of the chain id are tried in priority order (outbound.Failover); JSON-RPC goes through
  the one outbound transport (address policy at connect time), and a node's eth_chainId must
  be the chain's (a node of another chain never answers);
- every request has a timeout (ETHDASH_EXECUTION_TIMEOUT_S, 10 s by default);
- a node that cannot be reached, times out or fails at the HTTP level is asked again a bounded
  number of times under the outbound retry policy; a node that answers wrongly (a JSON-RPC
  error, another chain, a block it lacks) is not asked again but the next node is;
- a node that is down is skipped for the rest of the run, so a batch of work fails over once
  instead of waiting out the dead node for every item;
- what went wrong with each node is kept, for `record_node_errors` to show on the node's row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import Web3RPCError
from web3.types import RPCEndpoint

from ethdash import outbound
from ethdash.models import ExecutionNode

logger = logging.getLogger(__name__)

ATTEMPTS_PER_NODE = 2
BACKOFF_S = 0.5


class NodeAnswerError(Exception):
    """The node answered, but not with what was asked for; asking it again would not help."""


class WrongChain(NodeAnswerError):
    pass


class AllNodesFailed(outbound.AllNodesFailed):
    """Every node of the chain failed; str() lists each one's failure, fit to show the user."""

    def __init__(self, chain_id: int, failures: list[str], kind: str = "refused"):
        super().__init__(failures, f"execution node of chain {chain_id}", kind)
        self.chain_id = chain_id


class OutboundProvider(AsyncHTTPProvider):
    """web3's async HTTP provider posting its JSON-RPC through the one outbound transport (httpx
    with the address policy at connect time) instead of an aiohttp session of its own. One try
    per request: ExecutionChain retries under the outbound retry policy."""

    def __init__(self, url: str, *, timeout_s: float):
        super().__init__(url, exception_retry_configuration=None)
        self._http = outbound.async_client(timeout=httpx.Timeout(timeout_s, connect=3.0))

    async def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        return await self._post(request_data)

    async def make_batch_request(self, batch_requests):
        response = self.decode_rpc_response(
            await self._post(self.encode_batch_rpc_request(batch_requests))
        )
        return response if not isinstance(response, list) else sorted(response, key=_rpc_id)

    async def _post(self, data: bytes) -> bytes:
        response = await outbound.request(
            self._http,
            "POST",
            str(self.endpoint_uri),
            content=data,
            headers=self.get_request_headers(),
            attempts=1,
        )
        return response.content

    async def disconnect(self) -> None:
        await self._http.aclose()


def _rpc_id(response):
    return response.get("id") or 0


def node_timeout_s() -> float:
    return float(settings.ETHDASH_EXECUTION_TIMEOUT_S)


def nodes_for_chain(chain_id: int) -> list[ExecutionNode]:
    return list(ExecutionNode.objects.filter(chain_id=chain_id).order_by("priority", "name", "pk"))


def open_web3(url: str, *, timeout_s: float | None = None) -> AsyncWeb3:
    """An async web3 for one node URL, talking through the outbound transport."""
    timeout = node_timeout_s() if timeout_s is None else timeout_s
    return AsyncWeb3(OutboundProvider(url, timeout_s=timeout))


def describe(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text[:200]


class ExecutionChain:
    """The execution nodes of one chain id, for one run of work.

    async with ExecutionChain(chain_id, nodes) as chain:
        block = await chain.call(lambda w3: w3.eth.get_block(123))
    record_node_errors(chain.failed)
    """

    def __init__(
        self,
        chain_id: int,
        nodes: list[ExecutionNode],
        *,
        timeout_s: float | None = None,
        attempts: int | None = None,
        backoff_s: float | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        self.chain_id = chain_id
        self.nodes = list(nodes)
        self.timeout_s = node_timeout_s() if timeout_s is None else timeout_s
        self.attempts = max(1, ATTEMPTS_PER_NODE if attempts is None else attempts)
        self.backoff_s = BACKOFF_S if backoff_s is None else backoff_s
        self.sleep = sleep
        self.failover = outbound.Failover(self.nodes)
        self._web3: dict[int, AsyncWeb3] = {}

    async def __aenter__(self) -> ExecutionChain:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for w3 in self._web3.values():
            try:
                await w3.provider.disconnect()
            except Exception:  # closing a broken session must not hide the run's result
                logger.debug("closing an execution node session failed", exc_info=True)
        self._web3.clear()

    async def _connected(self, node: ExecutionNode) -> AsyncWeb3:
        w3 = self._web3.get(node.pk)
        if w3 is None:
            w3 = open_web3(node.url, timeout_s=self.timeout_s)
            self._web3[node.pk] = w3
            served = await w3.eth.chain_id
            if served != self.chain_id:
                raise WrongChain(f"it serves chain {served}, not {self.chain_id}")
        return w3

    async def _drop(self, node: ExecutionNode) -> None:
        w3 = self._web3.pop(node.pk, None)
        if w3 is not None:
            try:
                await w3.provider.disconnect()
            except Exception:
                logger.debug("closing an execution node session failed", exc_info=True)

    @property
    def failed(self) -> dict[int, tuple[ExecutionNode, str]]:
        """node pk -> (node, message): the nodes that failed in this run and why."""
        return self.failover.dead

    @property
    def answered_by(self) -> ExecutionNode | None:
        return self.failover.answered_by

    async def call(self, work: Callable[[AsyncWeb3], Awaitable[Any]]) -> Any:
        """work(w3) on the first node that can do it; raises AllNodesFailed when none can.

        A node that is down (or serves another chain) is skipped for the rest of the run. A node
        that answered but could not do this piece of work (a JSON-RPC error, a block it lacks)
        stays in use for the next piece: the problem may be the item's, not the node's."""

        async def on(node: ExecutionNode):
            policy = outbound.retrying(
                attempts=self.attempts, backoff_s=self.backoff_s, sleep=self.sleep
            )
            async for attempt in policy:
                with attempt:
                    return await self._try(node, work)
            raise AssertionError("unreachable")  # pragma: no cover: retrying() re-raises

        try:
            return await self.failover.call(
                on, failures=(outbound.OutboundError, NodeAnswerError), node_is_down=_node_is_down
            )
        except outbound.AllNodesFailed as exc:
            for message in self.failed.values():
                logger.warning("execution node failed: %s", message[1])
            raise AllNodesFailed(self.chain_id, exc.failures, exc.kind) from None

    async def _try(self, node: ExecutionNode, work):
        try:
            return await work(await self._connected(node))
        except (NodeAnswerError, Web3RPCError) as exc:
            if isinstance(exc, WrongChain):
                await self._drop(node)
            if isinstance(exc, NodeAnswerError):
                raise
            raise NodeAnswerError(describe(exc)) from None
        except outbound.OutboundError as exc:
            await self._drop(node)
            raise outbound.OutboundError(exc.kind, exc.shown, status=exc.status) from None
        except Exception as exc:  # not speaking JSON-RPC as web3 expects (BadResponseFormat, ...)
            await self._drop(node)
            raise outbound.OutboundError("bad_answer", f"bad_answer: {describe(exc)}") from None


def _node_is_down(exc: BaseException) -> bool:
    # Refused, unreachable, timed out after retries, another chain, not JSON-RPC: down for the
    # run. A JSON-RPC error or a missing block is the item's problem, not the node's.
    return isinstance(exc, WrongChain) or not isinstance(exc, NodeAnswerError)


def record_node_errors(failed, *, now=None) -> None:
    """Shows each failure on its node's row (last_error, last_error_at). `failed` is
    ExecutionChain.failed, or any iterable of (node, message)."""
    now = now or timezone.now()
    items = failed.values() if isinstance(failed, dict) else failed
    for node, message in items:
        ExecutionNode.objects.filter(pk=node.pk).update(
            last_error=str(message)[:500], last_error_at=now
        )
