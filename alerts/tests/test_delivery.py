"""Delivery: one message per notification or one digest for a burst, failures recorded and
retried within bounds, failing channels, and nothing sent twice."""

import threading

import pytest
from django.core import mail
from django.db import connection, transaction

from alerts.channels import DeliveryError
from alerts.channels import email as email_channel
from alerts.models import Notification, NotificationChannel
from alerts.services.delivery import deliver_farm
from alerts.tasks import deliver_notifications
from alerts.tests.helpers import Receiver, make_channel, make_rule, open_alert
from tests.factories import FarmFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def farm():
    return FarmFactory(name="Alpha")


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def test_one_notification_is_one_email_saying_what_opened(farm):
    channel = make_channel(farm, "email", "ops@example.com")
    alert = open_alert(make_rule(farm, channel, name="GPU too hot"), 3, value=91.5)

    outcome = deliver_farm(farm.pk)

    assert (outcome.sent, outcome.messages) == (1, 1)
    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert "CRITICAL" in message.subject and alert.message in message.subject
    for expected in ("Opened: ", "gpu rig-1 GPU 3", "Value: 91.5", "Severity: critical",
                     "Rule: GPU too hot", "Link: /rigs/1/#gpu-3"):  # fmt: skip
        assert expected in message.body
    row = Notification.objects.get(alert=alert)
    assert row.sent_at is not None and row.digest is None and row.attempts == 1
    channel.refresh_from_db()
    assert channel.last_sent_at is not None


def test_a_few_notifications_go_one_message_each(farm, settings):
    settings.ETHDASH_ALERT_DIGEST_MIN = 3
    rule = make_rule(farm, make_channel(farm))
    open_alert(rule, 1)
    open_alert(rule, 2)

    assert deliver_farm(farm.pk).messages == 2
    assert len(mail.outbox) == 2


def test_forty_notifications_for_one_channel_are_one_digest(farm, receiver):
    channel = make_channel(farm, "webhook", f"{receiver.url}/hook", secret="k")
    rule = make_rule(farm, channel)
    alerts = [open_alert(rule, gpu) for gpu in range(40)]

    outcome = deliver_farm(farm.pk)

    assert (outcome.sent, outcome.messages) == (40, 1)
    assert len(receiver.requests) == 1
    body = receiver.json()
    assert body["digest"] is not None
    assert [n["alert"]["id"] for n in body["notifications"]] == [a.pk for a in alerts]
    assert body["notifications"][0]["change"] == "opened"
    assert body["notifications"][0]["alert"]["value"] == 81.5
    assert "40 alert changes" in body["title"] and "40 opened" in body["title"]
    assert all(f"rig-1 GPU {gpu}:" in body["text"] for gpu in range(40))
    rows = Notification.objects.filter(channel=channel)
    assert {str(row.digest) for row in rows} == {body["digest"]}
    assert all(row.sent_at for row in rows)


def test_digest_by_email_names_every_alert(farm):
    rule = make_rule(farm, make_channel(farm))
    for gpu in range(5):
        open_alert(rule, gpu)
    deliver_farm(farm.pk)
    [message] = mail.outbox
    assert all(f"rig-1 GPU {gpu}:" in message.body for gpu in range(5))


def test_a_retried_delivery_sends_nothing_twice(farm):
    rule = make_rule(farm, make_channel(farm))
    open_alert(rule, 1)
    deliver_farm(farm.pk)
    open_alert(rule, 2)

    again = deliver_farm(farm.pk)
    once_more = deliver_farm(farm.pk)

    assert (again.sent, once_more.sent) == (1, 0)
    assert [m.body.splitlines()[1] for m in mail.outbox] == [
        "Object: gpu rig-1 GPU 1 (#1)",
        "Object: gpu rig-1 GPU 2 (#2)",
    ]


def test_what_went_before_a_failure_is_not_sent_again(farm, monkeypatch):
    channel = make_channel(farm)
    rule = make_rule(farm, channel)
    first, second = open_alert(rule, 1), open_alert(rule, 2)
    real_send = email_channel.send
    calls = []

    def second_fails(channel, message):
        calls.append(message)
        if len(calls) == 2:
            raise DeliveryError("mail server down")
        real_send(channel, message)

    monkeypatch.setattr(email_channel, "send", second_fails)
    outcome = deliver_farm(farm.pk)
    assert (outcome.sent, outcome.failed) == (1, [channel.pk])
    failed = Notification.objects.get(alert=second)
    assert (failed.sent_at, failed.attempts, failed.error) == (None, 1, "mail server down")
    channel.refresh_from_db()
    assert (channel.failures, channel.last_error) == (1, "mail server down")
    assert channel.last_error_at is not None

    monkeypatch.setattr(email_channel, "send", real_send)
    assert deliver_farm(farm.pk).sent == 1
    assert len(mail.outbox) == 2  # the first once, the second once
    assert Notification.objects.get(alert=first).attempts == 1
    assert Notification.objects.get(alert=second).attempts == 2
    channel.refresh_from_db()
    assert channel.failures == 0  # a success resets the count


def test_a_failing_channel_is_marked_after_n_failures_and_not_retried_forever(
    farm, settings, receiver
):
    settings.ETHDASH_ALERT_CHANNEL_MAX_FAILURES = 3
    receiver.status = 500
    channel = make_channel(farm, "webhook", f"{receiver.url}/hook")
    alert = open_alert(make_rule(farm, channel), 1)

    # Eager: each retry runs at once (its countdown is not waited), until the bound.
    deliver_notifications.apply((farm.pk,))

    assert len(receiver.requests) == 3
    channel.refresh_from_db()
    assert channel.failing and channel.failures == 3
    assert "HTTP 500" in channel.last_error
    row = Notification.objects.get(alert=alert)
    assert (row.sent_at, row.attempts, row.suppressed) == (None, 3, "channel failing")

    # Nothing more is tried for it, and what is queued for it later is suppressed.
    later = open_alert(make_rule(farm, channel, kind="other"), 2)
    deliver_notifications.apply((farm.pk,))
    assert len(receiver.requests) == 3
    assert Notification.objects.get(alert=later).suppressed == "channel failing"


def test_a_failure_on_one_channel_does_not_hold_back_another(farm, receiver):
    receiver.status = 503
    broken = make_channel(farm, "webhook", f"{receiver.url}/hook")
    working = make_channel(farm, "email", "ops@example.com")
    rule = make_rule(farm, broken)
    rule.channels.add(working)
    open_alert(rule, 1)

    outcome = deliver_farm(farm.pk)

    assert outcome.failed == [broken.pk]
    assert outcome.sent == 1 and len(mail.outbox) == 1


def test_disabled_channel_rows_are_suppressed_not_sent(farm):
    channel = make_channel(farm)
    alert = open_alert(make_rule(farm, channel), 1)
    channel.enabled = False
    channel.save()

    assert deliver_farm(farm.pk).suppressed == 1
    assert mail.outbox == []
    assert Notification.objects.get(alert=alert).suppressed == "channel disabled"


def test_webhook_delivery_to_a_forbidden_address_fails_with_the_reason(farm, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    channel = make_channel(farm, "webhook", "http://169.254.169.254/latest/")
    alert = open_alert(make_rule(farm, channel), 1)

    deliver_farm(farm.pk)

    assert "non-public address" in Notification.objects.get(alert=alert).error


@pytest.mark.django_db(transaction=True)
def test_a_channel_being_delivered_to_is_skipped_by_a_second_worker(farm):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers instead")
    channel = make_channel(farm)
    open_alert(make_rule(farm, channel), 1)
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            NotificationChannel.objects.select_for_update().get(pk=channel.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=other_worker)
    holder.start()
    assert locked.wait(10)
    try:
        skipped = deliver_farm(farm.pk)
    finally:
        release.set()
        holder.join()

    assert (skipped.sent, mail.outbox) == (0, [])
    assert deliver_farm(farm.pk).sent == 1
    assert len(mail.outbox) == 1


def test_a_resolution_says_where_the_value_stands_now_and_what_tripped_it(farm):
    from django.utils import timezone

    from alerts.models import Alert
    from alerts.services import notify

    rule = make_rule(farm, make_channel(farm))
    hot, gone = open_alert(rule, 1, value=96.5), open_alert(rule, 2, value=91.0)
    deliver_farm(farm.pk)
    mail.outbox.clear()
    now = timezone.now()
    Alert.objects.filter(pk=hot.pk).update(
        state=Alert.State.RESOLVED, resolved_at=now, resolved_value=79.0, dedupe=None
    )
    # GPU 2 was removed: nothing observed it any more.
    Alert.objects.filter(pk=gone.pk).update(
        state=Alert.State.RESOLVED, resolved_at=now, dedupe=None
    )
    notify.queue(Alert.objects.get(pk=hot.pk), "resolved")
    deliver_farm(farm.pk)
    notify.queue(Alert.objects.get(pk=gone.pk), "resolved")
    deliver_farm(farm.pk)

    first, second = mail.outbox
    assert "Value: 79, was 96.5" in first.body
    assert "Value: no longer observed, was 91" in second.body
