"""Every service Apprise supports (Telegram, Discord, Slack, ntfy, Pushover, Matrix, e-mail, a
JSON or form POST, ...) through one Apprise URL a channel (https://github.com/caronc/apprise/wiki
lists the URL of each service).

Apprise makes its own blocking connections (requests, smtplib), so each notify() runs inside
ethdash.outbound.sync_policy(): every connection it opens is judged by the same address policy
as the rest of ethdash, with a bounded connect timeout, and the whole call by SEND_TIMEOUT_S.
"""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import apprise

from alerts.channels import DeliveryError, Message
from ethdash import outbound

SEND_TIMEOUT_S = 20.0


def _service(target: str):
    """Apprise's plugin for the URL, or None when Apprise cannot read it."""
    try:
        return apprise.Apprise.instantiate((target or "").strip())
    except Exception:  # a plugin may raise anything on a malformed URL; to us it is unreadable
        return None


def problem(target: str) -> str | None:
    if _service(target) is None:
        return (
            f"Apprise cannot read {target!r}: not a URL of a service it supports, or a part "
            "of it is missing or malformed."
        )
    return None


def masked(target: str) -> str | None:
    """The URL as Apprise prints it in privacy mode (each plugin knows which parts are tokens
    and passwords), keeping only the query options that were in the original; None when Apprise
    cannot read it."""
    service = _service(target)
    if service is None:
        return None
    private = urlsplit(service.url(privacy=True))
    given = {key for key, _ in parse_qsl(urlsplit(target.strip()).query)}
    query = urlencode([(k, v) for k, v in parse_qsl(private.query) if k in given], safe="*.")
    return urlunsplit((private.scheme, private.netloc, private.path, query, ""))


def send(channel, message: Message) -> None:
    notifier = apprise.Apprise()
    if not notifier.add(channel.target.strip()):
        raise DeliveryError(problem(channel.target) or "Apprise cannot read this URL.")
    with outbound.sync_policy() as policy:
        result = notifier.notify(
            body=message.text,
            title=message.subject,
            timeout=SEND_TIMEOUT_S,
            log_level=logging.WARNING,
        )
    if policy.refusals:
        raise DeliveryError(str(policy.refusals[0]))
    if not result:
        raise DeliveryError(f"Apprise could not deliver: {_reason(result)}")


def _reason(result) -> str:
    lines = []
    # The logs are only the explanation; the failure stands without them.
    with contextlib.suppress(Exception):
        lines = [str(getattr(entry, "message", entry)) for entry in result.logs()]
    return "; ".join(lines[-3:]) or str(getattr(result, "status", "failed"))
