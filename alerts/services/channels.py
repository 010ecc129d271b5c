"""Checking, showing and testing a notification channel's target."""

import re
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from alerts.models import Notification, NotificationChannel
from ethdash.outbound import url_problem

# A path or query segment this long of letters, digits, "-" and "_" is taken for a token
# (Discord and Slack webhooks, Telegram bot tokens carry theirs in the path).
_TOKEN = re.compile(r"[A-Za-z0-9_\-:]{16,}")


def channel_problem(kind: str, target: str) -> str | None:
    """Why `target` cannot be a channel of `kind`, or None."""
    target = (target or "").strip()
    if not target:
        return "A target is required."
    if kind == NotificationChannel.Kind.EMAIL:
        try:
            validate_email(target)
        except ValidationError:
            return f"{target!r} is not an e-mail address."
        return None
    if kind == NotificationChannel.Kind.WEBHOOK:
        return url_problem(target)
    if kind == NotificationChannel.Kind.APPRISE:
        if "://" not in target:
            return (
                "An Apprise URL starts with its service's scheme, such as tgram:// or discord://."
            )
        return None
    return f"Unknown channel kind {kind!r}."


def _mask_part(text: str, sep: str) -> str:
    return sep.join("•••" if _TOKEN.fullmatch(part) else part for part in text.split(sep))


def masked(target: str) -> str:
    """The target as pages and the API show it: a URL's password and token-like path or query
    segments replaced by •••; an e-mail address as it is."""
    if "://" not in (target or ""):
        return target
    parts = urlsplit(target)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        user = "•••" if _TOKEN.fullmatch(user) else user
        netloc = f"{user}{':•••' if has_password else ''}@{host}"
    elif _TOKEN.fullmatch(netloc):  # tgram://<bot token>/<chat>
        netloc = "•••"
    query = "&".join(
        f"{key}={_mask_part(value, ',')}" if sep else _mask_part(key, ",")
        for key, sep, value in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, _mask_part(parts.path, "/"), query, ""))


def send_test(channel: NotificationChannel) -> tuple[bool, str]:
    """Queues a test message to the channel for the delivery task."""
    Notification.objects.create(
        farm_id=channel.farm_id, channel=channel, change=Notification.Change.TEST
    )
    return True, "queued"
