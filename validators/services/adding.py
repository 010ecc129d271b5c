"""How validators, beacon nodes and MEV relays get into a farm.

- `parse_entries` / `add_validators`: a pasted list of indices and pubkeys (the page, the API,
  the admin's bulk import, discovery) becomes Validator rows, all or nothing: one malformed entry
  rejects the whole paste, each malformed entry with its reason. What the user did not give (the
  index of a pubkey, the pubkey of an index) is resolved after the commit
  (validators.services.resolution).
- `add_beacon_node` / `add_mev_relay`: a node stored with what its check found, a relay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from validators.models import BeaconNode, MevRelay, Validator, ValidatorGroup
from validators.services.nodes import Check, save_check

# One paste (page, API or admin) adds at most this many validators: 100,000 pubkeys are 10 MB
# of text and one transaction; larger operators paste in several goes.
MAX_ENTRIES = 100_000
# Indices are stored in a signed 64-bit column on PostgreSQL; no real registry comes near it.
MAX_INDEX = 2**63 - 1
# Rows asked of the database or the node at once (SQLite refuses more than 32,766 parameters).
DB_CHUNK = 5_000

_SEPARATORS = re.compile(r"[\s,;]+")
_HEX = re.compile(r"[0-9a-fA-F]*")


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


def chunks(items: list, size: int = DB_CHUNK) -> Iterator[list]:
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
    in from the farm's beacon nodes once the transaction commits (`resolve_validators` in a
    task), so every caller gets them resolved without asking."""
    parsed = parse_entries(entries)
    result = AddResult(skipped=[(text, "repeated in the list") for text in parsed.duplicates])
    indices = [e.index for e in parsed.entries if e.index is not None]
    pubkeys = [e.pubkey for e in parsed.entries if e.pubkey]
    try:
        with transaction.atomic():
            known_indices: set[int] = set()
            for chunk in chunks(indices):
                known_indices.update(
                    Validator.objects.filter(farm=farm, index__in=chunk).values_list(
                        "index", flat=True
                    )
                )
            known_pubkeys: set[str] = set()
            for chunk in chunks(pubkeys):
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
            if result.created:
                _resolve_after_commit(farm.pk)
    except IntegrityError:
        # Another paste for the same farm committed the same validators in the meantime.
        raise InvalidEntries(
            [Rejected(0, "", "the farm changed while adding; try again (nothing was saved)")]
        ) from None
    return result


def add_beacon_node(farm, *, name, url, auth_header="", priority=0, check: Check) -> BeaconNode:
    """Stores a node that was tried (nodes.try_node), with the health and chain constants its
    check found."""
    node = BeaconNode(
        farm=farm,
        name=name.strip() or url,
        url=url.rstrip("/"),
        auth_header=auth_header.strip(),
        priority=priority,
    )
    save_check(node, check)
    return node


def add_mev_relay(farm, *, url, name=""):
    url = url.rstrip("/")
    return MevRelay.objects.create(farm=farm, url=url, name=name.strip() or urlsplit(url).hostname)


def _resolve_after_commit(farm_id: int) -> None:
    # Lazily: tasks sit above the services and call them; only this side effect reaches back up.
    from validators.tasks import resolve_farm_validators

    transaction.on_commit(lambda: resolve_farm_validators.delay(farm_id))
