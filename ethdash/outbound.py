"""The one outbound transport: every call ethdash makes to a miner, pool, node or relay goes
through here, over HTTP (httpx), a websocket or a plain TCP socket.

- Address policy, on the address actually connected to: the host is resolved once, every
  address it gives must be public or inside ETHDASH_OUTBOUND_ALLOW, and the socket is opened to
  that checked address (TLS still verifies the host name). A DNS answer that changes between a
  check and the connection therefore cannot slip past: there is no separate check.
- Every request has a timeout (connect 3 s, whole request 10 s by default).
- One retry policy (tenacity): bounded attempts, exponential backoff with jitter, a bounded
  Retry-After (seconds or an HTTP date) honoured.
- One failover over an ordered list of nodes, remembering the dead ones for a run.
- Every failure is an OutboundError whose `kind` is one of KINDS and whose str() is fit to show
  the user on the object that failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import ipaddress
import logging
import random
import re
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
import tenacity
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import ValidationError

from ethdash import metrics

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# Statuses worth asking again after a pause (429 is the rate_limited kind).
RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0
ATTEMPTS = 3
BACKOFF_S = 0.5

KINDS = (
    "dns",
    "refused",
    "timeout",
    "tls",
    "http_status",
    "bad_answer",
    "rate_limited",
    "forbidden_address",
    "bad_address",
)
# Kinds worth asking the same destination again for, after a pause.
TRANSIENT_KINDS = frozenset({"refused", "timeout", "rate_limited"})


class OutboundError(Exception):
    """A call that failed; `kind` is one of KINDS, str() is what the user sees. App errors
    (MinerError, PoolError, BeaconError, RelayError) derive from it and may add kinds of their
    own domain (a wrong password, an account the pool does not know)."""

    KINDS: tuple[str, ...] = KINDS

    def __init__(self, kind, message, *, status=None, retry_after_s=None):
        if kind not in self.KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s

    @property
    def transient(self):
        return self.kind in TRANSIENT_KINDS or self.status in RETRY_STATUSES

    @property
    def shown(self):
        """The kind and the message, for a last_error field that has no kind column."""
        return f"{self.kind}: {self}"

    @classmethod
    def from_outbound(cls, error, message=None, **kwargs):
        """This class's error for a transport failure: same kind, status and Retry-After."""
        kwargs.setdefault("status", error.status)
        kwargs.setdefault("retry_after_s", error.retry_after_s)
        return cls(error.kind, message or str(error), **kwargs)


class OutboundRefused(OutboundError):
    """The policy forbids this destination (or it is no destination at all)."""

    def __init__(self, message, kind="forbidden_address"):
        super().__init__(kind, message)


# -- address policy ----------------------------------------------------------------------------

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def allowed_networks():
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.ETHDASH_OUTBOUND_ALLOW]


def host_problem(host: str) -> str | None:
    """Why `host` is not a host name or an IP address, or None when it is one."""
    host = (host or "").strip()
    if not host:
        return "no host given"
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in name.split(".")):
        return f"{host!r} is not a host name or an IP address"
    return None


def port_problem(port) -> str | None:
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return f"port {port!r} is not between 1 and 65535"
    return None


def url_problem(url: str, schemes=("http", "https")) -> str | None:
    """Why `url` cannot be a destination (scheme, host, port), or None."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc})"
    try:
        port = parts.port
    except ValueError:  # out of range or not a number
        raw = parts.netloc.rpartition(":")[2]
        return port_problem(int(raw) if raw.isdigit() else raw)
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        return f"{url!r} must start with {wanted}"
    if not parts.hostname:
        return f"{url!r} has no host"
    return host_problem(parts.hostname) or port_problem(port)


def validate_host(value):
    """Model and form validator: a host name or an IP address."""
    if problem := host_problem(value):
        raise ValidationError(f"Not a valid host: {problem}.", code="bad_address")


def validate_port(value):
    if problem := port_problem(value):
        raise ValidationError(f"Not a valid port: {problem}.", code="bad_address")


def validate_http_url(value):
    if problem := url_problem(value):
        raise ValidationError(f"Not a valid address: {problem}.", code="bad_address")


def validate_ws_url(value):
    if value and (problem := url_problem(value, ("ws", "wss"))):
        raise ValidationError(f"Not a valid address: {problem}.", code="bad_address")


def destination_problem(url: str) -> str | None:
    """Why the policy refuses `url`'s host now, or None: for a form or serializer to refuse an
    outside URL where it is entered, as connecting would. Resolved within the connect timeout;
    a name that does not resolve (yet) is not refused here, connecting will say so. The URL's
    syntax is url_problem()'s (the field's validator) and is assumed checked."""
    parts = urlsplit((url or "").strip())
    if not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        return None
    try:
        async_to_sync(checked_addresses)(parts.hostname, port, timeout_s=DEFAULT_TIMEOUT.connect)
    except OutboundRefused as refused:
        return str(refused)
    except OutboundError:
        return None
    return None


def validate_destination(value):
    """Form validator: an outside URL the policy lets ethdash connect to (destination_problem)."""
    if problem := destination_problem(value):
        raise ValidationError(f"Not an allowed address: {problem}", code="forbidden_address")


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to. Tests replace this to play a DNS that changes its
    answer; the transport calls it once per connection and connects to what it returned."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def _judged(ip):
    """The address the policy judges: an IPv6 address that carries an IPv4 one reaches that IPv4
    address, and Python 3.11 calls some of these forms global (64:ff9b:1::/48, ::ffff:0:0/96),
    so the IPv4 address inside is what is checked. The forms: IPv4-mapped (::ffff:0:0/96),
    IPv4-translated (::ffff:0:0:0/96, RFC 2765), IPv4-compatible (::/96), 6to4 (2002::/16, the
    address in bits 16-47) and NAT64, well-known (64:ff9b::/96) or local-use (64:ff9b:1::/48,
    RFC 8215, whose prefix length and so the place of the address are the operator's; it is
    not global by definition, so it is judged as the unspecified address: refused unless
    allowed)."""
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if any(ip in network for network in _LAST_32_BITS_ARE_IPV4):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip in _NAT64_LOCAL:
            return ipaddress.IPv4Address(0)
    return ip


_LAST_32_BITS_ARE_IPV4 = (
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64, well-known prefix (RFC 6052)
    ipaddress.ip_network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
    ipaddress.ip_network("::/96"),  # IPv4-compatible (deprecated, RFC 4291)
)
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def check_address(host: str, address: str) -> None:
    """Refuses `address` (what `host` resolved to) unless it is public or allowed. The refusal
    does not name the address of a name: what an internal name resolves to is not for the user
    to learn by trying names (the operator's log has it)."""
    given = ipaddress.ip_address(address.split("%")[0])
    ip = _judged(given)
    allowed = allowed_networks()
    if _public(ip) or any(ip in network or given in network for network in allowed):
        return
    log.info("outbound: refused %s, which resolved to %s (judged as %s)", host, given, ip)
    literal = _is_literal(host)
    where = f"{host} is" if literal else f"{host} resolves to"
    raise OutboundRefused(
        f"{where} a non-public address that ETHDASH_OUTBOUND_ALLOW does not include."
    )


# Not public, though Python 3.11's is_global says so: multicast has no TCP peer, and these
# ranges are site-local (deprecated but still routed in places), documentation (RFC 9637) or
# segment-routing identifiers (RFC 9602).
_NOT_GLOBAL = (
    ipaddress.ip_network("fec0::/10"),
    ipaddress.ip_network("3fff::/20"),
    ipaddress.ip_network("5f00::/16"),
)


def _public(ip) -> bool:
    if not ip.is_global or ip.is_multicast:
        return False
    return not (ip.version == 6 and any(ip in network for network in _NOT_GLOBAL))


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def _literal_or_none(host: str, port) -> list[str] | None:
    """[host] when it is an IP address (nothing to resolve), None for a name; a host or port
    that is no destination at all is refused."""
    if problem := host_problem(host) or port_problem(port):
        raise OutboundRefused(f"Bad address: {problem}.", kind="bad_address")
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return None


def _all_checked(host: str, addresses: list[str]) -> list[str]:
    if not addresses:
        raise OutboundError("dns", f"{host!r} resolves to no address.")
    for address in addresses:
        check_address(host, address)
    return list(dict.fromkeys(addresses))  # getaddrinfo repeats an address per socket type


def _dns_error(host: str, exc: BaseException) -> OutboundError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return OutboundError("dns", f"Cannot resolve {host!r}: {reason}.")


async def checked_addresses(host: str, port: int, *, timeout_s: float | None = None) -> list[str]:
    """The addresses to try for host:port, in the resolver's order: resolved once (within
    `timeout_s`, the connect timeout), every answer checked against the policy (a name that
    answers one public and one private address is refused)."""
    host = host.strip("[]")
    addresses = _literal_or_none(host, port)
    if addresses is None:
        try:
            async with asyncio.timeout(timeout_s):
                addresses = await asyncio.to_thread(resolve, host, port)
        except TimeoutError:
            raise OutboundError("dns", f"Resolving {host!r} took over {timeout_s:g} s.") from None
        except (socket.gaierror, UnicodeError) as exc:
            raise _dns_error(host, exc) from None
    return _all_checked(host, addresses)


def checked_addresses_sync(host: str, port: int) -> list[str]:
    """checked_addresses() for blocking code (the policy of sync_policy() below)."""
    host = host.strip("[]")
    addresses = _literal_or_none(host, port)
    if addresses is None:
        try:
            addresses = resolve(host, port)
        except (socket.gaierror, UnicodeError) as exc:
            raise _dns_error(host, exc) from None
    return _all_checked(host, addresses)


async def connect_each(addresses, connect):
    """connect(address) for each address in turn until one connects, as happy-eyeballs-less
    clients do (a dual-stack name whose IPv6 route is dead still reaches its IPv4 address);
    the last failure is raised when none does."""
    for index, address in enumerate(addresses):
        try:
            return await connect(address)
        except (OSError, TimeoutError, httpcore.ConnectError, httpcore.ConnectTimeout):
            if index == len(addresses) - 1:
                raise
    raise OutboundError("dns", "no address to connect to.")  # checked_addresses never gives none


async def open_socket(host: str, port: int, *, timeout_s: float) -> socket.socket:
    """A connected, non-blocking TCP socket to host:port under the policy, for the protocols that
    are not HTTP (miners' JSON-RPC over TCP, pool websockets); a failure is counted by kind."""
    try:
        return await _open_socket(host, port, timeout_s=timeout_s)
    except OutboundError as exc:
        metrics.OUTBOUND_ERRORS.labels(exc.kind).inc()
        raise


async def _open_socket(host: str, port: int, *, timeout_s: float) -> socket.socket:
    addresses = await checked_addresses(host, port, timeout_s=timeout_s)

    async def connect(address):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.get_running_loop().sock_connect(sock, (address, port))
        except BaseException:
            sock.close()
            raise
        return sock

    try:
        return await connect_each(addresses, connect)
    except TimeoutError:
        message = f"{host}:{port} did not accept within {timeout_s:g} s."
        raise OutboundError("timeout", message) from None
    except OSError as exc:
        raise error_from(exc, host) from None


class PolicyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address policy at connect time: the host is resolved
    here, checked, and the TCP connection made to that checked address. httpcore starts TLS
    with the origin's host name, so certificates and SNI still name the host, not the IP."""

    def __init__(self):
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = await checked_addresses(host, port, timeout_s=timeout)
        return await connect_each(
            addresses,
            lambda address: self._backend.connect_tcp(
                address,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            ),
        )

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise OutboundRefused("Unix sockets are not an outbound destination.")

    async def sleep(self, seconds):
        await self._backend.sleep(seconds)


class PolicyTransport(httpx.AsyncHTTPTransport):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # httpx takes no network backend argument; its pool is the one place to put it.
        self._pool._network_backend = PolicyBackend()


def async_client(*, transport=None, **kwargs):
    """A pooled client under the policy, with its timeout. Redirects are not followed (a
    redirect may point anywhere) and proxies from the environment are not used (the policy
    would then judge the proxy, not the destination). A `transport` given for tests (an
    httpx.MockTransport) opens no connection and needs no policy."""
    limits = kwargs.pop("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20))
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    kwargs.setdefault("follow_redirects", False)
    return httpx.AsyncClient(
        transport=transport or PolicyTransport(limits=limits), trust_env=False, **kwargs
    )


# -- the policy for blocking libraries ---------------------------------------------------------
#
# Some libraries make their own blocking connections: Apprise's plugins use `requests` (urllib3)
# for HTTP and smtplib (socket.create_connection) for e-mail. Inside `with sync_policy():` every
# such connection made by this thread (or by threads started with a copy of its context, as
# Apprise's own thread pools are) is resolved once, every address checked by check_address(),
# and the socket connected to a checked address, with a bounded connect timeout; TLS still
# verifies the host name, since the library keeps using it for SNI and the certificate. Outside
# the context the two functions behave exactly as before. A proxy taken from the environment
# would be what is connected to, and then what is judged; a redirect is a new connection, judged
# again.


@dataclasses.dataclass
class SyncPolicy:
    """One sync_policy() context: its connect timeout, and the refusals made inside it (the
    library that made the connection may swallow the exception and report only "failed")."""

    connect_timeout_s: float
    refusals: list[OutboundRefused] = dataclasses.field(default_factory=list)


_sync_policy: contextvars.ContextVar[SyncPolicy | None] = contextvars.ContextVar(
    "ethdash_sync_policy", default=None
)
_original_urllib3_create_connection = None
_original_socket_create_connection = None
_hooks_lock = threading.Lock()


def _policy_connection(original, address, *args, **kwargs):
    """original(address, timeout, ...) under the context's policy; unchanged outside one."""
    policy = _sync_policy.get()
    if policy is None:
        return original(address, *args, **kwargs)
    given = args[0] if args else kwargs.pop("timeout", None)
    args = args[1:]
    host, port = address[0], address[1]
    try:
        addresses = checked_addresses_sync(str(host), int(port))
    except OutboundRefused as refused:
        policy.refusals.append(refused)
        raise
    # None (block forever) and the libraries' "default" sentinels become bounded timeouts.
    numeric = isinstance(given, int | float) and given > 0
    connect_s = min(given, policy.connect_timeout_s) if numeric else policy.connect_timeout_s
    for index, checked in enumerate(addresses):
        try:
            sock = original((checked, port), connect_s, *args, **kwargs)
        except OSError:
            if index == len(addresses) - 1:
                raise
            continue
        # The connect timeout is the policy's; what the socket then reads with is the caller's
        # (urllib3 sets its read timeout itself; smtplib keeps this one for the session).
        sock.settimeout(given if numeric else DEFAULT_TIMEOUT.read)
        return sock
    raise OutboundError("dns", "no address to connect to.")  # never: addresses is not empty


def _install_sync_hooks():
    global _original_urllib3_create_connection, _original_socket_create_connection
    import urllib3.util.connection as urllib3_connection

    with _hooks_lock:
        if _original_urllib3_create_connection is not None:
            return
        _original_urllib3_create_connection = urllib3_connection.create_connection
        _original_socket_create_connection = socket.create_connection

        def urllib3_create_connection(address, *args, **kwargs):
            return _policy_connection(_original_urllib3_create_connection, address, *args, **kwargs)

        def socket_create_connection(address, *args, **kwargs):
            return _policy_connection(_original_socket_create_connection, address, *args, **kwargs)

        # urllib3.connection calls it as `connection.create_connection`, so the module's
        # attribute is the one place to replace it.
        urllib3_connection.create_connection = urllib3_create_connection
        socket.create_connection = socket_create_connection


@contextlib.contextmanager
def sync_policy(*, connect_timeout_s: float = DEFAULT_TIMEOUT.connect):
    """Apply the address policy (and a connect timeout) to the blocking connections that
    `requests`/urllib3 and socket.create_connection make inside this context. A refused address
    raises OutboundRefused from inside the library, which may wrap or swallow it; the context's
    SyncPolicy (what `as` gives) keeps every refusal, so the caller can say why."""
    _install_sync_hooks()
    policy = SyncPolicy(connect_timeout_s)
    token = _sync_policy.set(policy)
    try:
        yield policy
    finally:
        _sync_policy.reset(token)


# -- error kinds -------------------------------------------------------------------------------


def _in_chain(exc, types):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, types):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def error_from(exc: BaseException, host: str) -> OutboundError:
    """The OutboundError for a failure raised by httpx, a socket or a websocket library."""
    if isinstance(exc, OutboundError):
        return exc
    if _in_chain(exc, (httpx.TimeoutException, TimeoutError)):
        return OutboundError("timeout", f"{host} timed out.")
    if tls := _in_chain(exc, ssl.SSLError):
        return OutboundError("tls", f"TLS with {host} failed: {tls.reason or tls}.")
    if _in_chain(exc, socket.gaierror):
        return OutboundError("dns", f"Cannot resolve {host!r}.")
    if _in_chain(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return OutboundError("refused", f"{host} refused the connection.")
    reason = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
    return OutboundError("refused", f"Cannot reach {host}: {reason}.")


def status_error(response: httpx.Response, host: str, detail: str = "") -> OutboundError:
    """The error for an HTTP answer that is not a success: rate_limited for 429 (with its
    Retry-After), http_status otherwise."""
    status = response.status_code
    if status == 429:
        wait_s = retry_after_s(response)
        return OutboundError(
            "rate_limited",
            f"{host} asked to slow down (429, retry after {wait_s:g} s){detail}.",
            status=status,
            retry_after_s=wait_s,
        )
    # A 503 in maintenance may say how long too; then it is waited out like a 429's.
    wait_s = retry_after_s(response) if response.headers.get("Retry-After") else None
    return OutboundError(
        "http_status",
        f"{host} answered HTTP {status}{detail}.",
        status=status,
        retry_after_s=wait_s,
    )


def retry_after_s(response: httpx.Response | None, default_s: float = 5.0) -> float:
    """Retry-After in seconds (a number or an HTTP date), bounded by MAX_RETRY_AFTER_S."""
    raw = (response.headers.get("Retry-After", "") if response is not None else "").strip()
    if not raw:
        return default_s
    if raw.isdigit():
        return min(float(raw), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return default_s
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


# -- the retry policy --------------------------------------------------------------------------


def backoff_delay(attempt, base_s):
    """Seconds to wait before retry number `attempt` (1-based) when the server named no time:
    exponential with jitter, so many workers do not retry in step."""
    return base_s * (2 ** (attempt - 1)) * (1 + random.random() / 2)


class _Wait(tenacity.wait.wait_base):
    def __init__(self, base_s):
        self.base_s = base_s

    def __call__(self, retry_state):
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(error, OutboundError) and error.retry_after_s is not None:
            return error.retry_after_s
        return backoff_delay(retry_state.attempt_number, self.base_s)


def retrying(
    *,
    attempts: int = ATTEMPTS,
    backoff_s: float = BACKOFF_S,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    retry_if: Callable[[BaseException], bool] = lambda exc: getattr(exc, "transient", False),
) -> tenacity.AsyncRetrying:
    """The one retry policy: `async for attempt in retrying(...): with attempt: ...`. Retries
    the errors `retry_if` accepts (transient OutboundErrors by default) at most `attempts`
    times in all, waiting Retry-After or an exponential, jittered backoff; the last error is
    raised as it is."""
    return tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(max(1, attempts)),
        wait=_Wait(backoff_s),
        retry=tenacity.retry_if_exception(retry_if),
        sleep=sleep,
        reraise=True,
    )


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    attempts: int = ATTEMPTS,
    backoff_s: float = BACKOFF_S,
    sleep=asyncio.sleep,
    ok_statuses=(),
    **kwargs,
) -> httpx.Response:
    """One HTTP call under the policy, retried under the retry policy. Returns a 2xx response
    (or one of `ok_statuses`); raises OutboundError otherwise, after the retries for the
    transient failures (timeouts, refused connections, 429, 5xx)."""
    host = urlsplit(url).hostname or url
    try:
        async for attempt in retrying(attempts=attempts, backoff_s=backoff_s, sleep=sleep):
            with attempt:
                response = await send(client, method, url, **kwargs)
                if not (response.is_success or response.status_code in ok_statuses):
                    error = status_error(response, host)
                    metrics.OUTBOUND_ERRORS.labels(error.kind).inc()
                    raise error
    except OutboundError as exc:
        if exc.transient and attempts > 1:  # retried until the attempts ran out
            exc.message = f"{exc.message.rstrip('.')} after {attempts} attempts."
            exc.args = (exc.message,)
        raise
    return response


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs) -> httpx.Response:
    """One try, every transport failure an OutboundError (counted by kind for /metrics)."""
    try:
        try:
            return await client.request(method, url, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise OutboundError("bad_address", f"Bad address {url!r}: {exc}.") from None
        except httpx.HTTPError as exc:
            raise error_from(exc, urlsplit(url).hostname or url) from None
    except OutboundError as exc:
        metrics.OUTBOUND_ERRORS.labels(exc.kind).inc()
        raise


# -- failover ----------------------------------------------------------------------------------


class AllNodesFailed(OutboundError):
    """Every node failed; str() lists each one's failure."""

    def __init__(self, failures: list[str], what: str = "node", kind: str = "refused"):
        self.failures = failures
        super().__init__(
            kind,
            f"No {what} answered: " + "; ".join(failures) if failures else f"No {what} to ask.",
        )


class Failover:
    """Nodes in priority order, for one run of work. A call goes to the first node not known to
    be dead; a node that fails as a node (unreachable, refused by policy, another chain) is
    remembered as dead for the rest of the run, so a batch of work fails over once instead of
    waiting out the dead node for every item."""

    def __init__(self, nodes, *, name=lambda node: node.name, key=lambda node: node.pk):
        self.nodes = list(nodes)
        self.name = name
        self.key = key
        self.dead: dict[Any, tuple[Any, str]] = {}  # key -> (node, why)
        self.answered_by = None

    def alive(self) -> Iterator[Any]:
        for node in self.nodes:
            if self.key(node) not in self.dead:
                yield node

    def mark_dead(self, node, problem) -> str:
        message = f"{self.name(node)}: {problem}"
        self.dead[self.key(node)] = (node, message)
        return message

    async def call(
        self,
        work: Callable[[Any], Awaitable[Any]],
        *,
        failures: type[BaseException] | tuple[type[BaseException], ...] = OutboundError,
        node_is_down: Callable[[BaseException], bool] = lambda exc: True,
        what: str = "node",
    ):
        """work(node) on the first live node that can do it. An error in `failures` for which
        `node_is_down` says no (the node answered, but not for this item) moves to the next node
        without burying this one. Raises AllNodesFailed when no node could."""
        answers, kind = [], "refused"
        for node in self.alive():
            try:
                result = await work(node)
            except failures as exc:
                kind = getattr(exc, "kind", kind)  # the last failure's, for the whole
                if node_is_down(exc):
                    self.mark_dead(node, exc)
                else:
                    answers.append(f"{self.name(node)}: {exc}")
                continue
            self.answered_by = node
            return result
        raise AllNodesFailed(answers + [m for _, m in self.dead.values()], what, kind)
