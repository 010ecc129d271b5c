"""Every outside address a user enters is refused where it is entered when it cannot be a
destination (a port out of range, a host that is no host, a scheme we do not speak): the admin of
each model that holds one. The validators pages and API are tested in validators/tests.

The rules are the outbound policy's and only those: an address a LAN uses (a docker-compose
service name, an underscore, a trailing dot, an IPv6 literal) is accepted at every entry point."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from ethdash.models import ExecutionNode
from pools.models import Pool
from tests.factories import FarmFactory, logged_in
from validators.models import BeaconNode, MevRelay

# Shared with validators/tests/test_validator_add.py (the page forms and the API).
ACCEPTED_URLS = [
    "http://beacon:5052",
    "http://my_node.lan:5052",
    "http://[::1]:5052",
    "https://beacon.example.com/path",
    "http://node.example.:5052",
]
REFUSED_URLS = ["http://node.example:99999", "http://not a host!!/", "ftp://x", "beacon"]

BAD_URLS = [
    ("http://node.example:99999", "port 99999 is not between 1 and 65535"),
    ("ftp://node.example/", "must start with http:// or https://"),
]


@pytest.fixture
def admin(db):
    return logged_in(get_user_model().objects.create_superuser("root", "r@example.invalid", "x"))


@pytest.mark.parametrize(
    ("page", "field"),
    [
        ("pools/pool", "base_url"),
        ("validators/beaconnode", "url"),
        ("validators/mevrelay", "url"),
        ("ethdash/executionnode", "url"),
    ],
)
@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_the_admin_refuses_a_malformed_url_with_a_message(admin, page, field, url, message):
    response = admin.post(f"/admin/{page}/add/", {field: url})
    assert response.status_code == 200  # shown again, not saved
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors[field]), errors[field]


def test_the_admin_refuses_a_notifications_url_that_is_no_websocket(admin):
    response = admin.post("/admin/pools/pool/add/", {"notifications_url": "http://pool.example"})
    errors = response.context["adminform"].form.errors
    assert "must start with ws:// or wss://" in " ".join(errors["notifications_url"])


def _websocket(url):
    """The same address for the ws(s) field: http -> ws, https -> wss, anything else as is."""
    return url.replace("http", "ws", 1) if url.startswith("http") else url


FIELDS = [
    (BeaconNode, "url", str),
    (MevRelay, "url", str),
    (Pool, "base_url", str),
    (Pool, "notifications_url", _websocket),
    (ExecutionNode, "url", str),
]


def _full_clean_errors(model, field, value):
    others = [f.name for f in model._meta.get_fields() if f.name != field]
    try:
        model(**{field: value}).full_clean(exclude=others, validate_unique=False)
    except ValidationError as exc:
        return exc.message_dict[field]
    return []


@pytest.mark.parametrize(("model", "field", "spell"), FIELDS)
@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_full_clean_accepts_a_lan_address(model, field, spell, url):
    assert _full_clean_errors(model, field, spell(url)) == []


@pytest.mark.parametrize(("model", "field", "spell"), FIELDS)
@pytest.mark.parametrize("url", REFUSED_URLS)
def test_full_clean_refuses_what_is_no_destination_with_a_message(model, field, spell, url):
    errors = _full_clean_errors(model, field, spell(url))
    assert errors and errors[0].startswith("Not a valid address: "), errors


def _add_beacon_node(admin, url):
    body = {"farm": FarmFactory().pk, "name": "bn", "url": url, "auth_header": "", "priority": 0}
    return admin.post("/admin/validators/beaconnode/add/", body)


@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_the_admin_adds_a_beacon_node_at_a_lan_address(admin, url):
    assert _add_beacon_node(admin, url).status_code == 302
    assert BeaconNode.objects.get().url == url


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_the_admin_refuses_a_beacon_node_address_that_is_no_destination(admin, url):
    response = _add_beacon_node(admin, url)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["url"]
    assert errors and errors[0].startswith("Not a valid address: "), errors
    assert not BeaconNode.objects.exists()
