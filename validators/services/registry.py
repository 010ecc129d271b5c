"""How validators, beacon nodes and MEV relays get into a farm.

- `parse_entries` / `add_validators`: a pasted list of indices and pubkeys becomes Validator rows,
  all or nothing: one malformed entry rejects the whole paste, each malformed entry with its reason.
- `resolve_validators`: fills in what the user did not give (the index of a pubkey, the pubkey of
  an index) from the farm's beacon nodes.
- `discover_by_withdrawal_address`: walks the whole registry for the validators that withdraw to
  an execution address.
- `try_node`: asks a beacon node once, so the user sees its answer before it is saved.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ethdash import outbound
from validators.formats.client import (
    FAR_FUTURE_EPOCH,
    BeaconClient,
    BeaconError,
)
from validators.models import BeaconNode, MevRelay, Status, Validator, ValidatorGroup
from validators.services.nodes import (  # parse_auth_header: the forms and admin use it from here
    auth_headers,
    chain_constants,
    health_of,
    parse_auth_header,
)

# One paste (page, API or admin) adds at most this many validators: 100,000 pubkeys are 10 MB
# of text and one transaction; larger operators paste in several goes.
MAX_ENTRIES = 100_000
# Indices are stored in a signed 64-bit column on PostgreSQL; no real registry comes near it.
MAX_INDEX = 2**63 - 1
# Rows asked of the database or the node at once (SQLite refuses more than 32,766 parameters).
DB_CHUNK = 5_000
RESOLVE_BATCH = 1_000  # ids per POST
RESOLVE_SLICE = 10_000  # validators asked, then stored, at a time
# Discovery asks for this many consecutive indices per POST: one 10,000-validator answer is a few
# MB of JSON, the memory the walk needs whatever the size of the registry.
DISCOVERY_RANGE = 10_000
NOT_FOUND = "not found on the beacon node (not deposited yet?)"

_SEPARATORS = re.compile(r"[\s,;]+")
_HEX = re.compile(r"[0-9a-fA-F]*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class InvalidEntries(ValueError):
    """The paste is rejected as a whole; `rejected` says which entries and why."""

    def __init__(self, rejected: list[Rejected]):
        self.rejected = rejected
        count = len(rejected)
        super().__init__(
            f"{count} malformed entr{'y' if count == 1 else 'ies'}; nothing was saved."
        )


@dataclass(frozen=True)
class Rejected:
    position: int  # 1-based position in the paste; 0 for the paste as a whole
    entry: str
    reason: str


@dataclass(frozen=True)
class Entry:
    text: str  # as it will be shown: the index in decimal or the lowercase 0x pubkey
    index: int | None = None
    pubkey: str = ""


@dataclass
class Parsed:
    entries: list[Entry]
    duplicates: list[str]


@dataclass
class AddResult:
    created: list[Validator] = field(default_factory=list)
    # (entry, reason): repeated in the paste, or a validator the farm already has.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    group: ValidatorGroup | None = None


# -- parsing --------------------------------------------------------------------------------


def split_entries(raw: str | Iterable[Any]) -> list[Any]:
    if isinstance(raw, str):
        return [token for token in _SEPARATORS.split(raw) if token]
    return list(raw)


def parse_entry(raw: Any) -> Entry:
    """An index (a whole number, from a JSON number or decimal text) or a pubkey (96 hex digits,
    with or without 0x, as deposit_data.json writes them). ValueError says why not."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError("an entry is an index or a pubkey, as text")
    if isinstance(raw, int):
        if raw < 0:
            raise ValueError("an index is a whole number of 0 or more")
        text = str(raw)
    else:
        text = raw.strip()
    if not text:
        raise ValueError("empty entry")
    if text.isdecimal() and text.isascii():
        index = int(text)
        if index > MAX_INDEX:
            raise ValueError("index too large")
        return Entry(text=str(index), index=index)
    digits = text[2:] if text[:2].lower() == "0x" else text
    if text[:1] in "+-" and text[1:].isdecimal():
        raise ValueError("an index is a whole number of 0 or more")
    if text[:2].lower() == "0x" or len(digits) == 96:
        if not _HEX.fullmatch(digits):
            raise ValueError("a pubkey has only hex digits (0-9, a-f) after 0x")
        if len(digits) != 96:
            raise ValueError(f"a pubkey has 96 hex digits after 0x, this one has {len(digits)}")
        pubkey = "0x" + digits.lower()
        return Entry(text=pubkey, pubkey=pubkey)
    raise ValueError("neither an index (a whole number) nor a pubkey (0x and 96 hex digits)")


def parse_entries(raw: str | Iterable[Any]) -> Parsed:
    """The paste's distinct entries in order, plus those repeated in it. InvalidEntries lists
    every malformed entry, or the paste as a whole when it is empty or over MAX_ENTRIES."""
    tokens = split_entries(raw)
    if not tokens:
        raise InvalidEntries([Rejected(0, "", "no index or pubkey given")])
    if len(tokens) > MAX_ENTRIES:
        raise InvalidEntries(
            [
                Rejected(
                    0,
                    "",
                    f"at most {MAX_ENTRIES:,} validators per paste; this one has "
                    f"{len(tokens):,}: add them in several goes",
                )
            ]
        )
    entries: list[Entry] = []
    duplicates: list[str] = []
    rejected: list[Rejected] = []
    seen: set[int | str] = set()
    for position, token in enumerate(tokens, start=1):
        try:
            entry = parse_entry(token)
        except ValueError as exc:
            rejected.append(Rejected(position, str(token)[:120], str(exc)))
            continue
        key = entry.index if entry.index is not None else entry.pubkey
        if key in seen:
            duplicates.append(entry.text)
        else:
            seen.add(key)
            entries.append(entry)
    if rejected:
        raise InvalidEntries(rejected)
    return Parsed(entries=entries, duplicates=duplicates)


def _chunks(items: list, size: int = DB_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def group_for(farm, group: ValidatorGroup | str | None) -> ValidatorGroup | None:
    """A group of the farm: the one given, or the one with that name (created when new)."""
    if group is None or group == "":
        return None
    if isinstance(group, ValidatorGroup):
        if group.farm_id != farm.pk:
            raise ValueError("the group belongs to another farm")
        return group
    name = group.strip()
    if not name:
        return None
    found, _ = ValidatorGroup.objects.get_or_create(farm=farm, name=name[:120])
    return found


def add_validators(farm, entries, group: ValidatorGroup | str | None = None, label: str = ""):
    """Adds the pasted validators to the farm in one transaction and returns AddResult.

    `entries` is the pasted text or a list of entries (strings or ints). Any malformed entry
    raises InvalidEntries and nothing is saved. Entries repeated in the paste and validators the
    farm already has (same index or pubkey) are skipped, not errors. Index and pubkey are filled
    in from the beacon node later (`resolve_validators`)."""
    parsed = parse_entries(entries)
    result = AddResult(skipped=[(text, "repeated in the list") for text in parsed.duplicates])
    indices = [e.index for e in parsed.entries if e.index is not None]
    pubkeys = [e.pubkey for e in parsed.entries if e.pubkey]
    try:
        with transaction.atomic():
            known_indices: set[int] = set()
            for chunk in _chunks(indices):
                known_indices.update(
                    Validator.objects.filter(farm=farm, index__in=chunk).values_list(
                        "index", flat=True
                    )
                )
            known_pubkeys: set[str] = set()
            for chunk in _chunks(pubkeys):
                known_pubkeys.update(
                    Validator.objects.filter(farm=farm, pubkey__in=chunk).values_list(
                        "pubkey", flat=True
                    )
                )
            result.group = group_for(farm, group)
            rows = []
            for entry in parsed.entries:
                if entry.index in known_indices or entry.pubkey in known_pubkeys:
                    result.skipped.append((entry.text, "already in this farm"))
                    continue
                rows.append(
                    Validator(
                        farm=farm,
                        index=entry.index,
                        pubkey=entry.pubkey,
                        label=label.strip()[:120],
                        group=result.group,
                    )
                )
            result.created = Validator.objects.bulk_create(rows, batch_size=1000)
    except IntegrityError:
        # Another paste for the same farm committed the same validators in the meantime.
        raise InvalidEntries(
            [Rejected(0, "", "the farm changed while adding; try again (nothing was saved)")]
        ) from None
    return result


# -- beacon nodes ---------------------------------------------------------------------------


def _is_far_future(epoch):
    return None if epoch is None or epoch >= FAR_FUTURE_EPOCH else epoch


@dataclass(frozen=True)
class NodeInfo:
    """What a beacon node said when tried: its sync state, genesis and chain constants."""

    health: str
    head_slot: int
    sync_distance: int
    is_syncing: bool
    is_optimistic: bool
    el_offline: bool
    genesis_time: int
    seconds_per_slot: float
    slots_per_epoch: int
    epochs_per_sync_period: int | None
    deposit_chain_id: int | None = None
    config_name: str = ""

    def apply_to(self, node: BeaconNode) -> None:
        node.health = self.health
        node.head_slot = self.head_slot
        node.sync_distance = self.sync_distance
        node.el_offline = self.el_offline
        node.genesis_time = self.genesis_time
        node.seconds_per_slot = self.seconds_per_slot
        node.slots_per_epoch = self.slots_per_epoch
        node.epochs_per_sync_period = self.epochs_per_sync_period
        node.deposit_chain_id = self.deposit_chain_id
        node.checked_at = timezone.now()
        node.last_error = ""
        node.last_error_at = None


async def _atry_node(url, headers, timeout, transport) -> NodeInfo:
    async with outbound.async_client(transport=transport) as http:
        # One try, as the user waits for the answer.
        client = BeaconClient(url, headers=headers, timeout=timeout, client=http, retries=0)
        syncing = await client.syncing()
        genesis = await client.genesis()
        spec = await client.spec()
    try:
        constants = chain_constants(genesis, spec)
    except (KeyError, TypeError, ValueError) as exc:
        raise BeaconError(200, f"the spec lacks a constant: {exc}", kind="invalid") from None
    return NodeInfo(
        health=health_of(syncing),
        head_slot=syncing["head_slot"],
        sync_distance=syncing["sync_distance"],
        is_syncing=syncing["is_syncing"],
        is_optimistic=syncing["is_optimistic"],
        el_offline=syncing["el_offline"],
        config_name=str(spec.get("CONFIG_NAME", "")),
        **constants,
    )


def try_node(url: str, auth_header: str = "", *, timeout: float = 10.0, transport=None):
    """(NodeInfo, None) or (None, message): /eth/v1/node/syncing, /eth/v1/beacon/genesis and
    /eth/v1/config/spec asked once, under the outbound policy, as the poller would ask them."""
    try:
        headers = parse_auth_header(auth_header)
        return async_to_sync(_atry_node)(url.rstrip("/"), headers, timeout, transport), None
    except ValueError as exc:
        return None, f"Auth header: {exc}."
    except BeaconError as exc:
        if exc.status is None:  # not reached: refused by the policy, unresolvable, timed out
            return None, f"{exc.kind}: {exc.message}"
        where = f" ({exc.path})" if exc.path else ""
        if exc.status == 404 and exc.path.endswith("/genesis"):
            return None, "The node does not know its genesis yet (still starting?)."
        if exc.status in (401, 403):
            return None, f"The node refused the credentials{where}: {exc.message}"
        problem = exc.status or exc.kind
        return None, f"The node did not answer as a beacon node{where}: {problem}: {exc.message}"


def add_beacon_node(farm, *, name, url, auth_header="", priority=0, info: NodeInfo):
    node = BeaconNode(
        farm=farm,
        name=name.strip() or url,
        url=url.rstrip("/"),
        auth_header=auth_header.strip(),
        priority=priority,
    )
    info.apply_to(node)
    node.save()
    return node


def add_mev_relay(farm, *, url, name=""):
    url = url.rstrip("/")
    return MevRelay.objects.create(farm=farm, url=url, name=name.strip() or urlsplit(url).hostname)


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
        for chunk in _chunks(found_indices):
            for row in Validator.objects.filter(farm=farm, index__in=chunk):
                rows[row.pk] = row
        for chunk in _chunks(found_pubkeys):
            for row in Validator.objects.filter(farm=farm, pubkey__in=chunk):
                rows[row.pk] = row
        for chunk in _chunks(list(matched)):
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
        for chunk in _chunks(drop):
            Validator.objects.filter(pk__in=chunk).delete()
        Validator.objects.bulk_update(keep_rows, [*_FILLED, "label", "group"], batch_size=1000)
        for chunk in _chunks(unknown):
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
        for part in _chunks(pending, RESOLVE_SLICE):
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
