"""A JSON POST to the channel's URL, through the one outbound transport (ethdash.outbound).

The body is the message's payload as compact UTF-8 JSON. When the channel has a secret, the
header `X-Ethdash-Signature: sha256=<hex>` carries HMAC-SHA256(secret, body) over those exact
bytes, so the receiver can check the message is ours and whole (docs/alerts.md shows how).

Redirects: the transport follows none, because a redirect may point anywhere. Here up to
MAX_REDIRECTS are followed by hand, each hop a new request through the same transport, so its
connection is judged by the same address policy: a redirect to a forbidden address fails as a
direct call would. The same body is POSTed again on every hop (a webhook moved from http to
https answers 301, and a GET would lose the message).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from urllib.parse import urljoin, urlsplit

from alerts.channels import DeliveryError, Message
from ethdash import outbound

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SIGNATURE_HEADER = "X-Ethdash-Signature"


def problem(target: str) -> str | None:
    if problem := outbound.url_problem(target):
        return f"Not a valid webhook address: {problem}."
    return None


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """The header's value: "sha256=" and the hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(channel, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "ethdash-alerts"}
    if channel.secret:
        headers[SIGNATURE_HEADER] = signature(channel.secret, body)
    return headers


async def post(url: str, body: bytes, headers: dict[str, str]) -> None:
    """POST body to url, following redirects under the policy; OutboundError on failure."""
    async with outbound.async_client() as http:
        for _hop in range(MAX_REDIRECTS + 1):
            if bad := outbound.url_problem(url):
                raise outbound.OutboundError("bad_address", f"Bad address: {bad}.")
            response = await outbound.send(http, "POST", url, content=body, headers=headers)
            location = response.headers.get("Location")
            if response.status_code in REDIRECT_STATUSES and location:
                url = urljoin(url, location)
                continue
            if not response.is_success:
                raise outbound.status_error(response, urlsplit(url).hostname or url)
            return
    raise outbound.OutboundError("bad_answer", f"More than {MAX_REDIRECTS} redirects.")


def send(channel, message: Message) -> None:
    body = body_of(message.payload)
    try:
        asyncio.run(post(channel.target.strip(), body, headers_for(channel, body)))
    except outbound.OutboundError as exc:
        raise DeliveryError(str(exc)) from exc
