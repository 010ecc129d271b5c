"""The execution nodes of one EVM chain, asked through web3.py with failover.

Shared by pools (payouts checked on chain) and validators (execution rewards of proposals). The
rules, in one place:

- nodes of the chain id are tried in priority order; each one's address passes the outbound
  policy first, and its eth_chainId must be the chain's (a node of another chain never answers);
- every request has a timeout (ETHDASH_EXECUTION_TIMEOUT_S, 10 s by default);
- a node that cannot be reached, times out or fails at the HTTP level is asked again a bounded
  number of times with jittered backoff; a node that answers wrongly (a JSON-RPC error, another
  chain, a block it lacks) is not asked again but the next node is;
- a node that is down is skipped for the rest of the run, so a batch of work fails over once
  instead of waiting out the dead node for every item;
- what went wrong with each node is kept, for `record_node_errors` to show on the node's row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.utils import timezone
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import BadResponseFormat, Web3RPCError

from ethdash import outbound
from ethdash.models import ExecutionNode

logger = logging.getLogger(__name__)

ATTEMPTS_PER_NODE = 2
BACKOFF_S = 0.5


class NodeAnswerError(Exception):
    """The node answered, but not with what was asked for; asking it again would not help."""


class WrongChain(NodeAnswerError):
    pass


class AllNodesFailed(Exception):
    """Every node of the chain failed; str() lists each one's failure, fit to show the user."""

    def __init__(self, chain_id: int, failures: list[str]):
        self.chain_id = chain_id
        self.failures = failures
        super().__init__(f"No execution node of chain {chain_id} answered: " + "; ".join(failures))


def node_timeout_s() -> float:
    return float(settings.ETHDASH_EXECUTION_TIMEOUT_S)


def nodes_for_chain(chain_id: int) -> list[ExecutionNode]:
    return list(ExecutionNode.objects.filter(chain_id=chain_id).order_by("priority", "name", "pk"))


def open_web3(url: str, *, timeout_s: float | None = None) -> AsyncWeb3:
    """An async web3 for one node URL, after the outbound policy allowed its address. web3's own
    retries are off: ExecutionChain bounds and paces the retries itself."""
    outbound.check_destination(url)
    timeout = node_timeout_s() if timeout_s is None else timeout_s
    return AsyncWeb3(
        AsyncHTTPProvider(
            url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
    )


def describe(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout_s:g} s"
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
        # node pk -> (node, message): the nodes that failed in this run and why.
        self.failed: dict[int, tuple[ExecutionNode, str]] = {}
        self.answered_by: ExecutionNode | None = None
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

    async def call(self, work: Callable[[AsyncWeb3], Awaitable[Any]]) -> Any:
        """work(w3) on the first node that can do it; raises AllNodesFailed when none can.

        A node that is down (or serves another chain) is skipped for the rest of the run. A node
        that answered but could not do this piece of work (a JSON-RPC error, a block it lacks)
        stays in use for the next piece: the problem may be the item's, not the node's."""
        answers = []
        for node in self.nodes:
            if node.pk in self.failed:
                continue
            problem = None
            for attempt in range(1, self.attempts + 1):
                try:
                    w3 = await self._connected(node)
                    result = await work(w3)
                except (WrongChain, BadResponseFormat, outbound.OutboundError) as exc:
                    # Refused by policy, another chain, or not speaking JSON-RPC: down for the run.
                    problem = describe(exc, self.timeout_s)
                    await self._drop(node)
                    break
                except (NodeAnswerError, Web3RPCError) as exc:
                    answers.append(f"{node.name}: {describe(exc, self.timeout_s)}")
                    problem = None
                    break
                except Exception as exc:  # unreachable, timed out, HTTP error: worth a retry
                    problem = describe(exc, self.timeout_s)
                    await self._drop(node)
                    if attempt < self.attempts:
                        await self.sleep(outbound.backoff_delay(attempt, self.backoff_s))
                else:
                    self.answered_by = node
                    return result
            if problem is not None:
                logger.warning("execution node %s failed: %s", node.name, problem)
                self.failed[node.pk] = (node, f"{node.name}: {problem}")
        down = [message for _, message in self.failed.values()]
        raise AllNodesFailed(self.chain_id, answers + down)


def record_node_errors(failed, *, now=None) -> None:
    """Shows each failure on its node's row (last_error, last_error_at). `failed` is
    ExecutionChain.failed, or any iterable of (node, message)."""
    now = now or timezone.now()
    items = failed.values() if isinstance(failed, dict) else failed
    for node, message in items:
        ExecutionNode.objects.filter(pk=node.pk).update(
            last_error=str(message)[:500], last_error_at=now
        )
