"""E-mail through Django's configured mail backend (EMAIL_BACKEND and EMAIL_* settings; tests use
the locmem backend). The SMTP server is the site's own, set by its admin, so it is not an
outbound destination a farm chooses and needs no address policy."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email

from alerts.channels import DeliveryError, Message


def problem(target: str) -> str | None:
    try:
        validate_email((target or "").strip())
    except ValidationError:
        return f"{target!r} is not a valid e-mail address."
    return None


def send(channel, message: Message) -> None:
    mail = EmailMessage(
        subject=message.subject,
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[channel.target.strip()],
    )
    try:
        sent = mail.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"The mail server did not take the message: {exc}.") from None
    if not sent:
        raise DeliveryError("The mail server did not take the message.")
