"""Where alert messages go: one module per channel kind (NotificationChannel.Kind), each with the
same two functions:

- `send(channel, message)`: deliver one Message to the channel's target, or raise DeliveryError
  with a reason fit to show the channel's owner;
- `problem(target)`: why `target` cannot be this kind's destination, or None.

The delivery service (alerts.services.delivery) chooses the module by the channel's kind and
never needs to know the format behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import ModuleType


@dataclass(frozen=True)
class Message:
    """One message: `subject` (a title or an e-mail subject), `text` (plain text, one change a
    line for a digest) and `payload` (the JSON body a webhook receives, docs/alerts.md)."""

    subject: str
    text: str
    payload: dict


class DeliveryError(Exception):
    """A message that did not reach its channel; str() is what the channel's owner sees."""


KINDS = ("email", "webhook", "apprise")


def module_for(kind: str) -> ModuleType:
    if kind not in KINDS:
        raise DeliveryError(f"No sender for channels of kind {kind!r}.")
    return import_module(f"alerts.channels.{kind}")
