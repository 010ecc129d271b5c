"""What the farm's beacon nodes tell about its validators.

- `resolve_validators`: fills in what the user did not give (the index of a pubkey, the pubkey of
  an index) from the farm's beacon nodes; adding validators schedules it after the commit.
- `discover_by_withdrawal_address`: walks the whole registry for the validators that withdraw to
  an execution address; `run_discovery` adds what it finds to a farm and keeps its progress
  (`discovery_state`) for the add page.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ethdash import outbound
from validators.formats.client import (
    FAR_FUTURE_EPOCH,
    BeaconClient,
)
from validators.models import BeaconNode, Status, Validator
from validators.services.adding import InvalidEntries, add_validators, chunks
from validators.services.nodes import auth_headers

RESOLVE_BATCH = 1_000  # ids per POST
RESOLVE_SLICE = 10_000  # validators asked, then stored, at a time
# Discovery asks for this many consecutive indices per POST: one 10,000-validator answer is a few
# MB of JSON, the memory the walk needs whatever the size of the registry.
DISCOVERY_RANGE = 10_000
NOT_FOUND = "not found on the beacon node (not deposited yet?)"

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

# A discovery's progress lives in the cache (Redis in production, shared by web and worker; the
# process's own memory in the embedded demo, where the worker is a thread of the web process).
DISCOVERY_TTL_S = 24 * 3600


def _is_far_future(epoch):
    return None if epoch is None or epoch >= FAR_FUTURE_EPOCH else epoch


# -- asking the farm's nodes ----------------------------------------------------------------


class NoNodeAnswered(Exception):
    pass


@dataclass(frozen=True)
class _NodeRef:
    pk: int
    name: str
    url: str
    headers: dict[str, str]


def _node_refs(farm) -> list[_NodeRef]:
    nodes = BeaconNode.objects.filter(farm=farm).order_by("priority", "pk")
    return [_NodeRef(n.pk, n.name, n.url, auth_headers(n)) for n in nodes]


class _Nodes:
    """The farm's nodes in priority order (an outbound.Failover): a call goes to the first node
    that has not failed in this walk, so a node dying half-way through does not end it."""

    def __init__(self, refs: list[_NodeRef], http, timeout: float, batch_size: int):
        self.failover = outbound.Failover(refs)
        self.http = http
        self.timeout = timeout
        self.batch_size = batch_size

    @property
    def node(self) -> _NodeRef | None:
        return self.failover.answered_by

    async def call(self, ask: Callable[[BeaconClient], Any]):
        if not self.failover.nodes:
            raise NoNodeAnswered("the farm has no beacon node")

        def on(ref: _NodeRef):
            client = BeaconClient(
                ref.url,
                headers=ref.headers,
                timeout=self.timeout,
                client=self.http,
                batch_size=self.batch_size,
            )
            return ask(client)

        try:
            return await self.failover.call(on)
        except outbound.AllNodesFailed as exc:
            message = "no beacon node answered: " + "; ".join(exc.failures[-3:])
            raise NoNodeAnswered(message) from None


@dataclass
class ResolveResult:
    resolved: int = 0
    not_found: int = 0
    merged: int = 0  # rows deleted because another row of the farm is the same validator
    node: str = ""
    error: str = ""


def _unresolved(farm) -> list[tuple[int, int | None, str]]:
    return list(
        Validator.objects.filter(farm=farm)
        .filter(Q(index__isnull=True) | Q(pubkey=""))
        .order_by("pk")
        .values_list("pk", "index", "pubkey")
    )


def _slim(item: dict[str, Any]) -> dict[str, Any]:
    v = item["validator"]
    return {
        "index": item["index"],
        "pubkey": v["pubkey"].lower(),
        "status": item["status"],
        "slashed": v["slashed"],
        "withdrawal_credentials": v["withdrawal_credentials"].lower(),
        "activation_epoch": _is_far_future(v.get("activation_epoch")),
        "exit_epoch": _is_far_future(v.get("exit_epoch")),
        "withdrawable_epoch": _is_far_future(v.get("withdrawable_epoch")),
    }


async def _ask_validators(nodes: _Nodes, ids: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), nodes.batch_size):
        chunk = ids[start : start + nodes.batch_size]
        answer = await nodes.call(lambda client, chunk=chunk: client.validators("head", ids=chunk))
        out.extend(_slim(item) for item in answer.data)
    return out


_FILLED = [
    "index",
    "pubkey",
    "status",
    "slashed",
    "withdrawal_credentials",
    "activation_epoch",
    "exit_epoch",
    "withdrawable_epoch",
    "last_error",
]


def _apply_resolution(farm, pending, answers: list[dict[str, Any]], result: ResolveResult):
    by_index = {a["index"]: a for a in answers}
    by_pubkey = {a["pubkey"]: a for a in answers}
    unknown: list[int] = []
    # Every row of the farm that is one of the answered validators, grouped by index: a pubkey
    # added today can be the index added last week, and one validator is one row.
    rows_by_index: dict[int, list[Validator]] = defaultdict(list)
    with transaction.atomic():
        matched: dict[int, dict[str, Any]] = {}
        for pk, index, pubkey in pending:
            answer = by_pubkey.get(pubkey) if pubkey else by_index.get(index)
            if answer is None:
                unknown.append(pk)
            else:
                matched[pk] = answer
        found_indices = sorted({a["index"] for a in matched.values()})
        found_pubkeys = sorted({a["pubkey"] for a in matched.values()})
        rows: dict[int, Validator] = {}
        for chunk in chunks(found_indices):
            for row in Validator.objects.filter(farm=farm, index__in=chunk):
                rows[row.pk] = row
        for chunk in chunks(found_pubkeys):
            for row in Validator.objects.filter(farm=farm, pubkey__in=chunk):
                rows[row.pk] = row
        for chunk in chunks(list(matched)):
            for row in Validator.objects.filter(pk__in=chunk):
                rows[row.pk] = row
        for row in rows.values():
            answer = matched.get(row.pk)
            if answer is None:
                answer = by_index.get(row.index) or by_pubkey.get(row.pubkey)
            if answer is not None:
                rows_by_index[answer["index"]].append(row)
        keep_rows, drop = [], []
        for index, same in rows_by_index.items():
            # Keep the row that already had the index (its history hangs on it), else the oldest.
            same.sort(key=lambda r: (r.index is None, r.pk))
            keep, *others = same
            for other in others:
                keep.label = keep.label or other.label
                keep.group_id = keep.group_id or other.group_id
                drop.append(other.pk)
            answer = by_index[index]
            keep.index, keep.pubkey = index, answer["pubkey"]
            keep.status = answer["status"] if answer["status"] in Status.values else Status.UNKNOWN
            keep.slashed = answer["slashed"]
            keep.withdrawal_credentials = answer["withdrawal_credentials"]
            keep.activation_epoch = answer["activation_epoch"]
            keep.exit_epoch = answer["exit_epoch"]
            keep.withdrawable_epoch = answer["withdrawable_epoch"]
            keep.last_error = ""
            keep_rows.append(keep)
        for chunk in chunks(drop):
            Validator.objects.filter(pk__in=chunk).delete()
        Validator.objects.bulk_update(keep_rows, [*_FILLED, "label", "group"], batch_size=1000)
        for chunk in chunks(unknown):
            Validator.objects.filter(pk__in=chunk).update(last_error=NOT_FOUND)
    result.resolved += len(matched)
    result.merged += len(drop)
    result.not_found += len(unknown)


async def aresolve_validators(
    farm, *, batch_size: int = RESOLVE_BATCH, timeout: float | None = None, transport=None
) -> ResolveResult:
    """Fills index, pubkey, status and withdrawal credentials of the farm's validators that lack
    an index or a pubkey, from the first of the farm's beacon nodes (by priority) that answers.

    A validator the node does not know keeps last_error NOT_FOUND and is asked again next time.
    Rows that turn out to be the same validator (added once by pubkey, once by index) become one.
    Work goes in slices of RESOLVE_SLICE validators, each stored before the next is asked, so
    memory stays bounded. When no node answers, the rest is left as it was and `error` says
    why."""
    result = ResolveResult()
    pending = await sync_to_async(_unresolved)(farm)
    if not pending:
        return result
    refs = await sync_to_async(_node_refs)(farm)
    timeout = timeout or settings.ETHDASH_BEACON_TIMEOUT_S
    async with outbound.async_client(transport=transport) as http:
        nodes = _Nodes(refs, http, timeout, batch_size)
        for part in chunks(pending, RESOLVE_SLICE):
            ids = [pubkey if pubkey else str(index) for _, index, pubkey in part]
            try:
                answers = await _ask_validators(nodes, ids)
            except NoNodeAnswered as exc:
                result.error = str(exc)
                return result
            result.node = nodes.node.name if nodes.node else ""
            await sync_to_async(_apply_resolution)(farm, part, answers, result)
    return result


def resolve_validators(farm, **kwargs) -> ResolveResult:
    """aresolve_validators for synchronous callers (tasks, the admin, management commands)."""
    return async_to_sync(aresolve_validators)(farm, **kwargs)


# -- discovery by withdrawal address --------------------------------------------------------


def normalise_address(address: str) -> str:
    address = (address or "").strip()
    if not _ADDRESS.fullmatch(address):
        raise ValueError("an execution address is 0x and 40 hex digits")
    return address.lower()


def credentials_match(credentials: str, address: str) -> bool:
    """Whether 0x01/0x02 withdrawal credentials pay `address` (lowercase 0x address)."""
    credentials = credentials.lower()
    return (
        len(credentials) == 66
        and credentials[:4] in ("0x01", "0x02")
        and credentials[-40:] == address[2:]
    )


async def adiscover(
    refs: list[_NodeRef],
    address: str,
    *,
    progress: Callable[[int, int], Awaitable[Any]] | None = None,
    range_size: int = DISCOVERY_RANGE,
    timeout: float = 60.0,
    transport=None,
) -> list[int]:
    found: list[int] = []
    start = 0
    async with outbound.async_client(transport=transport) as http:
        nodes = _Nodes(refs, http, timeout, range_size)
        while True:
            ids = [str(i) for i in range(start, start + range_size)]
            answer = await nodes.call(lambda client, ids=ids: client.validators("head", ids=ids))
            end = start + range_size
            in_range = 0
            for item in answer.data:
                # Only indices asked for: a node that ignores unknown ids could send them all.
                if not start <= item["index"] < end:
                    continue
                in_range += 1
                credentials = item["validator"]["withdrawal_credentials"]
                if credentials_match(credentials, address):
                    found.append(item["index"])
            if in_range == 0:
                return sorted(found)
            if progress is not None:
                await progress(start + in_range, len(found))
            start = end


def discover_by_withdrawal_address(
    farm, address: str, *, progress: Callable[[int, int], Any] | None = None, **kwargs
) -> list[int]:
    """The indices of every validator in the registry (state head) whose 0x01/0x02 withdrawal
    credentials pay `address`, asked in ranges of DISCOVERY_RANGE indices until a range comes
    back empty. Memory stays at one range's answer. `progress(scanned, found)` is called after
    each range that had validators. Raises ValueError for a malformed address, NoNodeAnswered
    when no node answers."""
    address = normalise_address(address)
    refs = _node_refs(farm)
    report = sync_to_async(progress) if progress is not None else None
    return async_to_sync(adiscover)(refs, address, progress=report, **kwargs)


# -- a discovery's progress -----------------------------------------------------------------


def discovery_key(farm_id: int) -> str:
    return f"validators:discovery:{farm_id}"


def discovery_state(farm_id: int) -> dict | None:
    """The farm's last discovery: state (queued, running, done, failed), address, scanned,
    found, added, skipped, error, started_at, finished_at."""
    return cache.get(discovery_key(farm_id))


def set_discovery_state(farm_id: int, **changes) -> dict:
    state = {**(discovery_state(farm_id) or {}), **changes}
    cache.set(discovery_key(farm_id), state, DISCOVERY_TTL_S)
    return state


# A discovery whose worker died stays "running" in the cache; after this long a new one may start.
DISCOVERY_STALE = timedelta(hours=1)


def discovery_running(state: dict | None) -> bool:
    """Whether a discovery in this state is still under way (queued or running, and not stale)."""
    if not state or state.get("state") not in ("queued", "running"):
        return False
    started = state.get("started_at")
    return started is not None and timezone.now() - started < DISCOVERY_STALE


def start_discovery(farm, address: str, *, group: str = "", label: str = "") -> bool:
    """Queues a discovery by withdrawal address for the farm, run by a worker once the
    transaction commits. False, and nothing queued, while one is already running for the farm."""
    if discovery_running(discovery_state(farm.pk)):
        return False
    set_discovery_state(
        farm.pk,
        state="queued",
        address=address,
        scanned=0,
        found=0,
        added=0,
        skipped=0,
        error="",
        started_at=timezone.now(),
        finished_at=None,
    )
    # The app's own task, imported here: tasks import this module.
    from validators.tasks import discover_validators

    args = (farm.pk, address, group, label)
    transaction.on_commit(lambda: discover_validators.delay(*args))
    return True


def run_discovery(farm, address: str, *, group: str = "", label: str = "") -> dict | None:
    """Finds the validators paying `address` and adds them to the farm (with group and label),
    reporting progress and the outcome through discovery_state. None when it failed (the state
    says why), else {"found", "added"}."""
    set_discovery_state(farm.pk, state="running", scanned=0, found=0, error="")

    def progress(scanned, found):
        set_discovery_state(farm.pk, scanned=scanned, found=found)

    try:
        indices = discover_by_withdrawal_address(farm, address, progress=progress)
        added = skipped = 0
        if indices:
            result = add_validators(farm, indices, group=group or None, label=label)
            added, skipped = len(result.created), len(result.skipped)
    except (NoNodeAnswered, InvalidEntries, ValueError) as exc:
        set_discovery_state(farm.pk, state="failed", error=str(exc), finished_at=timezone.now())
        return None
    set_discovery_state(
        farm.pk,
        state="done",
        found=len(indices),
        added=added,
        skipped=skipped,
        finished_at=timezone.now(),
    )
    return {"found": len(indices), "added": added}
