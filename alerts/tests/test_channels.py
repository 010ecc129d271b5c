"""Channels: each sender (e-mail, webhook, Apprise), the address policy on every connection they
make, validation of targets, masking of secrets and the test notification."""

import hashlib
import hmac

import pytest
import requests
from django.core import mail

from alerts.channels import DeliveryError, Message, webhook
from alerts.channels import apprise as apprise_channel
from alerts.models import Notification
from alerts.services.channels import channel_problem, masked, send_test
from alerts.tests.helpers import Receiver, make_channel
from ethdash import outbound
from tests.factories import FarmFactory

pytestmark = pytest.mark.django_db

MESSAGE = Message(subject="Hot GPU", text="GPU 3 at 91 °C", payload={"ethdash": 1, "n": 3})


@pytest.fixture
def farm():
    return FarmFactory(name="Alpha")


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def no_loopback(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []


# -- webhook -----------------------------------------------------------------------------------


def test_webhook_posts_the_payload_as_json_signed_with_the_secret(farm, receiver):
    channel = make_channel(farm, "webhook", f"{receiver.url}/hook", secret="s3cret")
    webhook.send(channel, MESSAGE)

    sent = receiver.requests[0]
    assert sent["path"] == "/hook"
    assert receiver.json() == {"ethdash": 1, "n": 3}
    assert sent["headers"]["Content-Type"] == "application/json"
    expected = hmac.new(b"s3cret", sent["body"], hashlib.sha256).hexdigest()
    assert sent["headers"]["X-Ethdash-Signature"] == f"sha256={expected}"


def test_webhook_without_secret_sends_no_signature(farm, receiver):
    webhook.send(make_channel(farm, "webhook", f"{receiver.url}/hook"), MESSAGE)
    assert "X-Ethdash-Signature" not in receiver.requests[0]["headers"]


def test_webhook_error_status_is_a_delivery_error(farm, receiver):
    receiver.status = 500
    with pytest.raises(DeliveryError, match="HTTP 500"):
        webhook.send(make_channel(farm, "webhook", f"{receiver.url}/hook"), MESSAGE)


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.0.0.1"])
def test_webhook_to_a_forbidden_address_is_refused(farm, no_loopback, address):
    channel = make_channel(farm, "webhook", f"http://{address}:9/hook")
    with pytest.raises(DeliveryError, match="non-public address"):
        webhook.send(channel, MESSAGE)


def test_webhook_to_loopback_goes_when_the_setting_allows_it(farm, settings, receiver):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.1/32"]
    webhook.send(make_channel(farm, "webhook", f"{receiver.url}/hook"), MESSAGE)
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "forbidden", ["http://169.254.169.254/latest/", "http://127.0.0.2:{port}/"]
)
def test_webhook_redirect_to_a_forbidden_address_is_refused(farm, settings, receiver, forbidden):
    # Only 127.0.0.1 is allowed: the first hop (the receiver) goes, the redirect's does not.
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.1/32"]
    receiver.redirect_to = forbidden.format(port=receiver.port)
    with pytest.raises(DeliveryError, match="non-public address"):
        webhook.send(make_channel(farm, "webhook", f"{receiver.url}/hook"), MESSAGE)
    assert [r["path"] for r in receiver.requests] == ["/hook"]


def test_webhook_follows_an_allowed_redirect_with_the_same_body(farm, receiver):
    receiver.redirect_to = f"{receiver.url}/moved"
    webhook.send(make_channel(farm, "webhook", f"{receiver.url}/hook", secret="k"), MESSAGE)
    assert [r["path"] for r in receiver.requests] == ["/hook", "/moved"]
    assert receiver.requests[1]["body"] == receiver.requests[0]["body"]


# -- Apprise -----------------------------------------------------------------------------------


def test_apprise_json_url_reaches_the_receiver(farm, receiver):
    channel = make_channel(farm, "apprise", f"json://127.0.0.1:{receiver.port}/apprise")
    apprise_channel.send(channel, MESSAGE)
    body = receiver.json()
    assert receiver.requests[0]["path"] == "/apprise"
    assert body["title"] == "Hot GPU"
    assert body["message"] == "GPU 3 at 91 °C"


def test_apprise_to_a_forbidden_address_is_refused(farm, no_loopback, receiver):
    channel = make_channel(farm, "apprise", f"json://127.0.0.1:{receiver.port}/apprise")
    with pytest.raises(DeliveryError, match="non-public address"):
        apprise_channel.send(channel, MESSAGE)
    assert receiver.requests == []


def test_apprise_failure_is_a_delivery_error(farm, receiver):
    receiver.status = 500
    channel = make_channel(farm, "apprise", f"json://127.0.0.1:{receiver.port}/apprise")
    with pytest.raises(DeliveryError, match="Apprise could not deliver"):
        apprise_channel.send(channel, MESSAGE)


def test_sync_policy_refuses_requests_inside_and_only_inside(no_loopback, receiver):
    with outbound.sync_policy() as policy, pytest.raises(outbound.OutboundRefused):
        requests.post(f"{receiver.url}/x", timeout=2)
    assert len(policy.refusals) == 1
    assert requests.post(f"{receiver.url}/x", timeout=2).status_code == 200


# -- e-mail ------------------------------------------------------------------------------------


def test_email_goes_through_the_mail_backend(farm):
    from alerts.channels import email

    email.send(make_channel(farm, "email", "ops@example.com"), MESSAGE)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert mail.outbox[0].subject == "Hot GPU"
    assert mail.outbox[0].body == "GPU 3 at 91 °C"


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "target", "says"),
    [
        ("email", "not-an-address", "not a valid e-mail address"),
        ("email", "", "required"),
        ("apprise", "nope://x", "Apprise cannot read"),
        ("apprise", "tgram://", "Apprise cannot read"),
        ("webhook", "ftp://example.com/hook", "must start with http:// or https://"),
        ("webhook", "http:///nohost", "has no host"),
        ("webhook", "http://127.0.0.1/hook", "non-public address"),
        ("webhook", "http://169.254.169.254/latest/meta-data", "non-public address"),
        ("webhook", "http://10.0.0.1/hook", "non-public address"),
        ("webhook", "http://[::1]:8080/hook", "non-public address"),
        ("sms", "+3312345678", "not a kind of channel"),
    ],
)
def test_channel_problem_names_each_bad_target(no_loopback, kind, target, says):
    assert says in channel_problem(kind, target)


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("email", "ops@example.com"),
        ("apprise", "ntfy://ntfy.sh/my-farm-alerts"),
        ("apprise", "tgram://123456789:ABCdefGhIJKlmnOPQRstuVWXyz/12345"),
        ("webhook", "https://93.184.215.14/hook"),
    ],
)
def test_channel_problem_accepts_good_targets(no_loopback, kind, target):
    assert channel_problem(kind, target) is None


def test_channel_problem_allows_what_the_setting_allows(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["10.0.0.0/8"]
    assert channel_problem("webhook", "http://10.0.0.1/hook") is None


# -- masking -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "secret", "shown"),
    [
        ("https://bob:hunter2@hooks.example.com/x", "hunter2", "hooks.example.com"),
        (
            "https://hooks.slack.com/services/T0ABC/B0DEF/aZ9xK2mQ7rT4vW8yB1nC3dE5",
            "aZ9xK2mQ7rT4vW8yB1nC3dE5",
            "hooks.slack.com/services/T0ABC/B0DEF/",
        ),
        ("https://example.com/hook?token=abc&farm=alpha", "abc", "farm=alpha"),
        ("https://example.com/hook?api_key=xyz", "xyz", "example.com/hook"),
        ("json://user:secretpw@127.0.0.1:8080/path", "secretpw", "127.0.0.1:8080/path"),
        (
            "tgram://123456789:ABCdefGhIJKlmnOPQRstuVWXyz/12345",
            "ABCdefGhIJKlmnOPQRstuVWXyz",
            "tgram://",
        ),
        (
            "discord://1234567890/abcdefghijklmnopqrstuvwxyz0123",
            "abcdefghijklmnopqrstuvwxyz0123",
            "discord://",
        ),
    ],
)
def test_masked_hides_secrets(target, secret, shown):
    result = masked(target)
    assert secret not in result
    assert shown in result


def test_masked_shows_an_email_address_as_it_is():
    assert masked("ops@example.com") == "ops@example.com"


# -- test notification -------------------------------------------------------------------------


def test_send_test_succeeds_records_and_clears_failing(farm):
    channel = make_channel(farm, "email", "ops@example.com", failures=7, failing=True)
    ok, message = send_test(channel)

    assert ok, message
    assert "ops@example.com" in message
    assert len(mail.outbox) == 1 and "test notification" in mail.outbox[0].subject
    record = Notification.objects.get(channel=channel)
    assert record.change == "test" and record.sent_at is not None
    channel.refresh_from_db()
    assert (channel.failures, channel.failing, channel.last_sent_at is not None) == (0, False, True)


def test_send_test_failure_is_reported_and_recorded(farm, no_loopback, receiver):
    channel = make_channel(farm, "webhook", f"{receiver.url}/hook", failing=True)
    ok, message = send_test(channel)

    assert not ok
    assert "non-public address" in message
    record = Notification.objects.get(channel=channel)
    assert (record.change, record.sent_at, record.error) == ("test", None, message)
    channel.refresh_from_db()
    assert channel.failing and channel.last_error == message
    assert receiver.requests == []
