"""Live pool events from Miningcore's `/notifications` websocket: a block found, a payment run or
a miner's new hashrate makes the affected accounts due at once, so the next poll tick (10 s)
refreshes them instead of waiting out their interval. Polling stays the source of the figures;
the events only say when to look."""

import asyncio
import logging
from datetime import timedelta
from urllib.parse import urlsplit

import websockets
from asgiref.sync import sync_to_async
from django.db import connections
from django.db.models import Q
from django.utils import timezone

from ethdash import outbound, registry
from ethdash.outbound import OutboundError
from pools.formats import PoolError
from pools.formats.miningcore import parse_notification
from pools.models import Pool, PoolAccount, PoolBlock

logger = logging.getLogger(__name__)

# Miningcore sends a hashrate event per miner every few seconds; an account already due within
# this long is left as it is, so events never turn into a request flood against the pool.
COALESCE = timedelta(seconds=15)
MAX_BACKOFF_S = 60


def apply_notification(pool, event, *, now=None):
    """Makes the accounts an event concerns due now; returns their ids."""
    if event is None:
        return []
    now = now or timezone.now()
    accounts = PoolAccount.objects.filter(pool=pool)
    if event["type"] == "hashrate":
        accounts = accounts.filter(login__iexact=event.get("miner") or "")
    elif event["type"] == "block_found" and event.get("height") is not None:
        PoolBlock.objects.bulk_create(
            [PoolBlock(pool=pool, height=event["height"], status="candidate", found_at=now)],
            ignore_conflicts=True,
        )
    due_later = Q(next_poll_at__isnull=True) | Q(next_poll_at__gt=now + COALESCE)
    ids = list(accounts.filter(due_later).values_list("pk", flat=True))
    PoolAccount.objects.filter(pk__in=ids).update(next_poll_at=now)
    return ids


async def listen(pool, *, stop, connect=websockets.connect, sleep=asyncio.sleep):
    """Follows one pool's notifications until `stop` is set, reconnecting with backoff."""
    try:
        await _listen(pool, stop=stop, connect=connect, sleep=sleep)
    finally:
        # Updates ran on asgiref's executor thread; its connection would outlive the listener.
        await sync_to_async(connections.close_all, thread_sensitive=True)()


async def _listen(pool, *, stop, connect, sleep):
    backoff = 1
    apply = sync_to_async(apply_notification, thread_sensitive=True)
    while not stop.is_set():
        try:
            # The socket comes from the outbound transport (address policy at connect time);
            # websockets speaks TLS (with the URL's host name) and the protocol over it.
            sock = await outbound.open_socket(*_host_port(pool.notifications_url), timeout_s=5)
            async with connect(
                pool.notifications_url, sock=sock, open_timeout=5, ping_interval=20
            ) as ws:
                backoff = 1
                async for message in ws:
                    try:
                        event = parse_notification(message, pool.coin_decimals)
                    except PoolError as error:
                        logger.warning("%s: unreadable notification: %s", pool.name, error)
                        continue
                    await apply(pool, event)
                    if stop.is_set():
                        return
        # ValueError: websockets refuses to follow a redirect over a socket it was handed (the
        # transport's); like any other failure it is shown on the pool and retried.
        except (
            OSError,
            TimeoutError,
            ValueError,
            websockets.WebSocketException,
            OutboundError,
        ) as exc:
            logger.warning("%s notifications: %s; reconnecting in %s s", pool.name, exc, backoff)
            await sync_to_async(_record_error, thread_sensitive=True)(pool, exc)
        if not stop.is_set():
            await sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


def _host_port(url):
    parts = urlsplit(url)
    return parts.hostname, parts.port or (443 if parts.scheme == "wss" else 80)


def _record_error(pool, exc):
    shown = exc.shown if isinstance(exc, OutboundError) else str(exc)
    Pool.objects.filter(pk=pool.pk).update(
        last_error=f"Notifications: {shown}"[:500], last_error_at=timezone.now()
    )


def _followable_pools():
    # The outbound policy judges each address when its listener connects; a refused one shows on
    # the pool's row (last_error) like any other failure. The key holds the address, so a pool
    # whose notifications URL changes is followed at its new address.
    return {
        (pool.pk, pool.notifications_url): pool
        for pool in Pool.objects.exclude(notifications_url="")
    }


async def listen_all(*, stop, rescan_s=None):
    """The registered listener (ethdash.registry): follows every pool that has a notifications
    URL until `stop` is set; a pool added, changed or removed is picked up within a rescan
    (ETHDASH_LISTENER_RESCAN_S), and one pool's listener failing leaves the others following."""
    await registry.follow_each(
        sync_to_async(_followable_pools, thread_sensitive=True),
        listen,
        stop=stop,
        rescan_s=rescan_s,
        what="pool notifications",
    )
