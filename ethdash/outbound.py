"""Outbound HTTP policy: every call ethdash makes to a miner, pool or node goes through here.

- Every request has a timeout (connect 3 s, whole request 10 s by default).
- Retries are bounded, with exponential backoff and jitter, honouring a bounded Retry-After.
- A URL whose host resolves to a loopback, private, link-local or otherwise non-public address is
  refused unless the address is inside ETHDASH_OUTBOUND_ALLOW, so a user-given URL cannot make the
  server probe its own network.
- Failures raise OutboundError with a message fit to show the user on the object that failed.
"""

import asyncio
import ipaddress
import random
import socket
from urllib.parse import urlsplit

import httpx
from django.conf import settings

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


class OutboundError(Exception):
    """A call that failed for good; str() is what the user sees."""


class OutboundRefused(OutboundError):
    """The policy forbids this destination."""


def allowed_networks():
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.ETHDASH_OUTBOUND_ALLOW]


def check_destination(url):
    """Raises OutboundRefused unless every address the URL's host resolves to may be reached."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss", "tcp"):
        raise OutboundRefused(f"Unsupported URL scheme {parts.scheme!r} in {url!r}.")
    if not parts.hostname:
        raise OutboundRefused(f"No host in {url!r}.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 0, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise OutboundError(f"Cannot resolve {parts.hostname!r}: {exc.strerror}.") from None
    allowed = allowed_networks()
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_global or any(address in network for network in allowed):
            continue
        raise OutboundRefused(
            f"{parts.hostname} resolves to {address}, a non-public address that "
            "ETHDASH_OUTBOUND_ALLOW does not include."
        )


def async_client(**kwargs):
    """A pooled client with the policy's timeout; redirects are not followed (a redirect could
    lead to a refused address)."""
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    kwargs.setdefault("follow_redirects", False)
    return httpx.AsyncClient(**kwargs)


def backoff_delay(attempt, base_s, response=None):
    """Seconds to wait before retry number `attempt` (1-based): Retry-After when the server
    gives one (bounded), else exponential with jitter so many workers do not retry in step."""
    if response is not None:
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.strip().isdigit():
            return min(float(retry_after), MAX_RETRY_AFTER_S)
    return base_s * (2 ** (attempt - 1)) * (1 + random.random() / 2)


async def request(client, method, url, *, attempts=3, backoff_s=0.5, sleep=asyncio.sleep, **kw):
    """One HTTP call under the policy. Returns the response (2xx-4xx other than 429); raises
    OutboundError after `attempts` tries of timeouts, connection errors, 429 or 5xx."""
    check_destination(url)
    last_problem = "no attempt made"
    for attempt in range(1, attempts + 1):
        response = None
        try:
            response = await client.request(method, url, **kw)
        except httpx.TimeoutException:
            last_problem = "timed out"
        except httpx.TransportError as exc:
            last_problem = f"connection failed ({exc.__class__.__name__})"
        else:
            if response.status_code not in RETRY_STATUSES:
                return response
            last_problem = f"answered HTTP {response.status_code}"
        if attempt < attempts:
            await sleep(backoff_delay(attempt, backoff_s, response))
    host = urlsplit(url).hostname
    raise OutboundError(f"{host} {last_problem} after {attempts} attempts.")
