"""Known pools (pools/known_pools.json, loaded into KnownPool) and the pools a farm user adds:
a known pool becomes one site-wide Pool, created on first use and shared by every farm after; a
custom base URL becomes a Pool of the farm that entered it, seen by no other farm."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from ethdash.outbound import validate_http_url
from pools.formats import FORMATS

KNOWN_POOLS_FILE = Path(__file__).resolve().parent.parent / "known_pools.json"
_FIELDS = ("name", "api_format", "base_url", "pool_id", "coin", "coin_decimals", "chain_id",
           "website", "source")  # fmt: skip


def read_known_pools(path=KNOWN_POOLS_FILE):
    """The entries of the file, checked: a format ethdash reads, an address the outbound policy
    accepts, a rate limit of two positive numbers. A bad entry refuses the whole file."""
    entries = json.loads(Path(path).read_text())["pools"]
    keys = set()
    for entry in entries:
        key = entry.get("key", "")
        if not key or key in keys:
            raise ValueError(f"known pool without a key, or twice: {key!r}")
        keys.add(key)
        if entry.get("api_format") not in FORMATS:
            raise ValueError(f"{key}: unknown format {entry.get('api_format')!r}")
        try:
            validate_http_url(entry.get("base_url", ""))
        except ValidationError as exc:
            raise ValueError(f"{key}: {exc.messages[0]}") from None
        limit = entry.get("rate_limit")
        if limit is not None and not (len(limit) == 2 and all(v > 0 for v in limit)):
            raise ValueError(f"{key}: rate_limit is [requests, seconds], both positive")
    return entries


def load_known_pools(path=KNOWN_POOLS_FILE):
    """Creates or updates a KnownPool per entry of the file, by key, and brings the site-wide
    Pool made from an entry up to date with it (see `follow_known`). Entries no longer in the
    file are kept: a farm's pool may have been made from one. Returns how many were loaded."""
    from pools.models import KnownPool

    entries = read_known_pools(path)
    with transaction.atomic():
        for entry in entries:
            limit = entry.get("rate_limit") or (None, None)
            values = {field: entry.get(field) for field in _FIELDS}
            values |= {
                "pool_id": values["pool_id"] or "",
                "website": values["website"] or "",
                "source": values["source"] or "",
                "coin_decimals": values["coin_decimals"] or 18,
                "rate_limit_requests": limit[0],
                "rate_limit_window_s": limit[1],
            }
            before = KnownPool.objects.filter(key=entry["key"]).values_list("name", flat=True)
            old_name = before.first()
            known, _ = KnownPool.objects.update_or_create(key=entry["key"], defaults=values)
            follow_known(known, old_name=old_name)
    return len(entries)


# What a Pool made from a known entry takes from it. The poll interval and the notifications
# URL are the site admin's own settings, never in the file, so a reload leaves them alone.
_FOLLOWED = ("api_format", "base_url", "pool_id", "coin", "coin_decimals", "chain_id",
             "rate_limit_requests", "rate_limit_window_s")  # fmt: skip
# A change of these points the pool at another endpoint: its breaker and error state were about
# the old one.
_ADDRESS = {"api_format", "base_url", "pool_id"}


def follow_known(known, *, old_name=None):
    """Updates the site-wide Pool made from (or adopted by) `known` to the entry's format,
    address, coin, decimals, chain and rate limit, which `pool_for_known` copied at first use.
    Its name follows the entry's when it still had the entry's old name and the new one is free
    among site-wide pools (a name the admin chose is kept). A new address closes the breaker and
    asks the pool's statistics at once. Returns the names of the fields changed."""
    from pools.models import Pool

    pool = Pool.objects.filter(known_pool=known).first()
    if pool is None:
        return []
    wanted = {field: getattr(known, field) for field in _FOLLOWED}
    wanted["base_url"] = known.base_url.rstrip("/")
    if (
        old_name is not None
        and pool.name == old_name
        and known.name != old_name
        and not Pool.objects.filter(farm__isnull=True, name=known.name).exists()
    ):
        wanted["name"] = known.name
    changed = [field for field, value in wanted.items() if getattr(pool, field) != value]
    for field in changed:
        setattr(pool, field, wanted[field])
    if _ADDRESS & set(changed):
        pool.breaker = Pool.Breaker.CLOSED
        pool.breaker_failures = 0
        pool.breaker_open_until = None
        pool.stats_next_at = None
        changed += ["breaker", "breaker_failures", "breaker_open_until", "stats_next_at"]
    if changed:
        pool.save(update_fields=changed)
    return changed


def pools_for_farms(farm_ids):
    """Pools a user of these farms may pick or see: site-wide ones and the farms' own."""
    from pools.models import Pool

    return Pool.objects.filter(Q(farm__isnull=True) | Q(farm__in=farm_ids))


def _same_endpoint(api_format, base_url, pool_id):
    from pools.models import Pool

    return Pool.objects.filter(
        api_format=api_format, base_url=base_url.rstrip("/"), pool_id=pool_id or ""
    )


class PoolNameTaken(Exception):
    """Another request made a pool of the same name in the same scope between our look and our
    insert (two saves at once): nothing was saved, and saving again picks a free name."""


_NAME_MAX = 120  # Pool.name's max_length
_SUFFIX_MAX = 8  # " (99999)"


def _free_name(name, *, farm=None):
    """`name`, else `name (2)`, `name (3)`, ...: the first that no pool of the same scope has.
    A site-wide pool's scope is the site-wide pools; a farm's pool's is the pools the farm can
    pick (site-wide ones and its own), so its pickers never list two pools of one name, and the
    name chosen depends on nothing another farm entered and so tells nothing of it."""
    from pools.models import Pool

    scope = Pool.objects.filter(farm__isnull=True) if farm is None else pools_for_farms([farm.pk])
    name = name.strip()[:_NAME_MAX]
    if not scope.filter(name=name).exists():
        return name
    stem = name[: _NAME_MAX - _SUFFIX_MAX].rstrip()
    taken = set(scope.filter(name__startswith=stem).values_list("name", flat=True))
    number = 2
    while f"{stem} ({number})" in taken:
        number += 1
    return f"{stem} ({number})"


def custom_pool_name(base_url, pool_id, coin):
    """What names a farm's custom pool: its address, Miningcore pool id and coin, so two pools
    of one farm differ by name wherever they differ by address ("mc.example.org etc2 ETC")."""
    address = base_url.split("://", 1)[-1].rstrip("/")
    return " ".join(part for part in (address, pool_id, coin.upper()) if part)


def pool_for_known(known):
    """The one site-wide Pool of a known pool: made on first use, the same row ever after (a
    site-wide pool made in the admin for the same address is adopted rather than doubled)."""
    from pools.models import Pool

    existing = Pool.objects.filter(known_pool=known).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            pool = (
                _same_endpoint(known.api_format, known.base_url, known.pool_id)
                .filter(farm__isnull=True, known_pool__isnull=True)
                .select_for_update()
                .first()
            )
            if pool is not None:
                pool.known_pool = known
                pool.save(update_fields=["known_pool"])
                return pool
            return Pool.objects.create(
                known_pool=known,
                name=_free_name(known.name),
                api_format=known.api_format,
                base_url=known.base_url.rstrip("/"),
                pool_id=known.pool_id,
                coin=known.coin,
                coin_decimals=known.coin_decimals,
                chain_id=known.chain_id,
                rate_limit_requests=known.rate_limit_requests,
                rate_limit_window_s=known.rate_limit_window_s,
            )
    except IntegrityError:
        # Another request made it between our look and our insert: theirs is the one.
        pool = Pool.objects.filter(known_pool=known).first()
        if pool is None:
            # Not this entry's pool but another site-wide one that took the same free name.
            raise PoolNameTaken(known.name) from None
        return pool


def custom_pool(*, farm, api_format, base_url, pool_id="", coin, coin_decimals=18):
    """The pool at an address a farm entered: a site-wide pool at that address if there is one
    (a known pool, or one from the admin), else the farm's own, made once. Another farm entering
    the same address gets a pool of its own, and neither learns of the other. Raises
    PoolNameTaken when a simultaneous save took the name first (nothing is saved)."""
    from pools.models import Pool

    def existing():
        same = _same_endpoint(api_format, base_url, pool_id)
        return same.filter(farm__isnull=True).first() or same.filter(farm=farm).first()

    pool = existing()
    if pool is not None:
        return pool
    try:
        with transaction.atomic():
            return Pool.objects.create(
                farm=farm,
                name=_free_name(custom_pool_name(base_url, pool_id, coin), farm=farm),
                api_format=api_format,
                base_url=base_url.rstrip("/"),
                pool_id=pool_id or "",
                coin=coin.upper(),
                coin_decimals=coin_decimals,
            )
    except IntegrityError:
        # A save of the same address at the same moment made the pool first: it is this one.
        pool = existing()
        if pool is None:
            raise PoolNameTaken(custom_pool_name(base_url, pool_id, coin)) from None
        return pool


def add_account(*, farm, login, label="", known=None, pool=None):
    """A farm's account on a known pool (its site-wide Pool made on first use) or on `pool`,
    due for its first poll at once. Adding an account the farm already has returns it as is."""
    from django.utils import timezone

    from pools.models import PoolAccount

    with transaction.atomic():
        if known is not None:
            pool = pool_for_known(known)
        account, _ = PoolAccount.objects.get_or_create(
            farm=farm,
            pool=pool,
            login=login.strip(),
            defaults={"label": label, "next_poll_at": timezone.now()},
        )
    return account
