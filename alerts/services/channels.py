"""Checking, showing and testing a notification channel.

- channel_problem(kind, target): why a target cannot be used (forms and the API show it as a
  field error, nothing is saved);
- masked(target): the target as pages and the API show it, its secrets hidden;
- send_test(channel): a "test notification" through the same sender delivery uses, recorded as
  a Notification (change "test"); a success clears the channel's failing mark.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from django.db import transaction
from django.utils import timezone

from alerts.channels import DeliveryError, Message, module_for
from alerts.channels import apprise as apprise_channel
from alerts.models import Notification, NotificationChannel
from ethdash import outbound

MASK = "****"
# Query parameters whose values are secrets whatever they look like.
_SECRET_KEYS = re.compile(
    r"(token|secret|pass|pwd|key|auth|sig|signature|credential|session|code|hash)", re.I
)
# A path segment or value that looks generated (long, letters and digits mixed): the token in
# https://hooks.slack.com/services/T0/B0/<token> or https://discord.com/api/webhooks/<id>/<token>.
_TOKEN_LIKE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_\-.~+/=:]{16,}$")


def channel_problem(kind: str, target: str) -> str | None:
    """Why `target` cannot be a destination of a channel of `kind`, or None. A webhook's address
    must be http(s) and, when it is an IP address or a name that resolves now, allowed by the
    outbound policy (the policy is applied again at every connection, so a name that resolves
    elsewhere later is still refused then)."""
    target = (target or "").strip()
    if not target:
        return "A destination is required."
    if kind not in NotificationChannel.Kind.values:
        return f"{kind!r} is not a kind of channel."
    if problem := module_for(kind).problem(target):
        return problem
    if kind == NotificationChannel.Kind.WEBHOOK:
        return _address_problem(target)
    return None


def _address_problem(url: str) -> str | None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        outbound.checked_addresses_sync(parts.hostname, port)
    except outbound.OutboundRefused as refused:
        return f"Not an allowed webhook address: {refused}"
    except outbound.OutboundError:
        # A name that does not resolve now may later; delivery will say so if it still does not.
        return None
    return None


def masked(target: str) -> str:
    """The target with its secrets replaced by ****: a URL's password, the values of query
    parameters named like secrets, and path segments that look like tokens. An Apprise URL is
    masked by Apprise's own privacy mode, which knows each service's secret parts (a Telegram
    bot token is the URL's host). An e-mail address is shown as it is."""
    target = (target or "").strip()
    if "://" not in target:
        return target
    scheme = target.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        private = apprise_channel.masked(target)
        if private is not None:
            return private
    return _masked_url(target)


def _masked_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{_mask_value(user)}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    path = "/".join(_mask_value(segment) for segment in parts.path.split("/"))
    query = "&".join(
        f"{key}={MASK if _SECRET_KEYS.search(key) else _mask_value(value)}"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _mask_value(value: str) -> str:
    return MASK if _TOKEN_LIKE.match(value) and not _is_address(value) else value


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def test_message(channel: NotificationChannel) -> Message:
    now = timezone.now()
    text = (
        f"Test notification from ethdash for the channel {channel.name!r} of the farm "
        f"{channel.farm.name!r}, sent {now:%Y-%m-%d %H:%M:%S} UTC. If you can read this, alerts "
        "will reach you here."
    )
    payload = {
        "ethdash": 1,
        "farm_id": channel.farm_id,
        "digest": None,
        "title": "ethdash: test notification",
        "text": text,
        "notifications": [{"id": None, "change": "test", "alert": None}],
    }
    return Message(subject="ethdash: test notification", text=text, payload=payload)


def send_test(channel: NotificationChannel) -> tuple[bool, str]:
    """Send a test notification now; (True, what happened) or (False, why it failed). Recorded
    as a Notification with change "test". A success clears the channel's failures and failing
    mark (its owner has just shown it works); a failure is recorded on the channel's last error
    but does not count towards marking it failing (a typo being fixed is not an outage)."""
    record = Notification.objects.create(
        farm_id=channel.farm_id, channel=channel, change=Notification.Change.TEST, attempts=1
    )
    try:
        module_for(channel.kind).send(channel, test_message(channel))
    except DeliveryError as exc:
        error = str(exc)[:500]
        now = timezone.now()
        with transaction.atomic():
            Notification.objects.filter(pk=record.pk).update(error=error)
            NotificationChannel.objects.filter(pk=channel.pk).update(
                last_error=error, last_error_at=now
            )
        channel.last_error, channel.last_error_at = error, now
        return False, error
    now = timezone.now()
    with transaction.atomic():
        Notification.objects.filter(pk=record.pk).update(sent_at=now)
        NotificationChannel.objects.filter(pk=channel.pk).update(
            failures=0, failing=False, last_sent_at=now
        )
    channel.failures, channel.failing, channel.last_sent_at = 0, False, now
    return True, f"Test notification sent to {masked(channel.target)}."
