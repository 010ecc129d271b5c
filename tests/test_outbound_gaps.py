"""The outbound policy's gaps found in production review (issue 15): IPv6 forms of private IPv4
addresses, what a refusal tells, a beacon node's auth header, relay URLs at entry, and a pool
login that would walk up the pool's path."""

import asyncio

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Farm
from ethdash import outbound
from pools.api.serializers import LOGIN_VALIDATOR
from pools.formats import ethermine, miningcore, nanopool, open_ethereum_pool
from pools.formats.base import PoolEndpoint, PoolError, path_segment
from pools.forms import AccountForm
from tests.factories import FarmFactory, logged_in
from validators.forms import MevRelayForm
from validators.models import BeaconNode, MevRelay
from validators.services.nodes import auth_headers

# -- IPv6 forms that carry an IPv4 address -----------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 (well-known prefix) of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address 169.254.169.254
        "64:ff9b::c0a8:101",  # NAT64 of 192.168.1.1
        "64:ff9b:1::7f00:1",  # local-use NAT64 (RFC 8215): never global
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:0:127.0.0.1",  # IPv4-translated (RFC 2765), global to Python 3.11
        "::ffff:0:a9fe:a9fe",
        "::ffff:0:a00:1",
    ],
)
def test_an_ipv6_form_of_loopback_metadata_or_private_ipv4_is_refused(settings, address):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_address("node.example", address)


@pytest.mark.parametrize(
    "address", ["224.0.0.1", "239.255.255.250", "ff02::1", "fec0::1", "3fff::1", "5f00::1"]
)
def test_multicast_site_local_and_documentation_addresses_are_refused(settings, address):
    # Python 3.11 calls each of these global.
    settings.ETHDASH_OUTBOUND_ALLOW = []
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_address("node.example", address)


@pytest.mark.parametrize(
    "address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "::ffff:0:808:808"]
)
def test_an_ipv6_form_of_a_public_ipv4_address_passes(settings, address):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    outbound.check_address("node.example", address)


def test_the_connection_itself_is_refused_for_a_nat64_form(settings, monkeypatch):
    """Through the transport, where the policy is applied: a name answering the NAT64 form of
    the metadata address is never connected to."""
    settings.ETHDASH_OUTBOUND_ALLOW = []
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["64:ff9b::a9fe:a9fe"])

    async def go():
        async with outbound.async_client() as client:
            await outbound.send(client, "GET", "http://metadata.example/latest/")

    with pytest.raises(outbound.OutboundRefused) as caught:
        asyncio.run(go())
    assert caught.value.kind == "forbidden_address"


# -- a refusal does not tell what a name resolves to -------------------------------------------


def test_a_refusal_does_not_tell_what_a_name_resolves_to(settings, monkeypatch):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["10.20.30.40"])
    with pytest.raises(outbound.OutboundRefused) as caught:
        outbound.checked_addresses_sync("db.internal", 5432)
    message = str(caught.value)
    assert "10.20.30.40" not in message and "10." not in message
    assert message.startswith("db.internal resolves to a non-public address")


def test_a_refused_literal_address_is_named_as_given(settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    with pytest.raises(outbound.OutboundRefused, match=r"^10\.0\.0\.1 is a non-public address"):
        outbound.checked_addresses_sync("10.0.0.1", 80)


# -- a beacon node's auth header ---------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["Host: 169.254.169.254", "Connection: upgrade", "Transfer-Encoding: chunked"]
)
def test_a_saved_header_that_is_no_auth_header_is_never_sent(db, header):
    # Saved behind the forms' backs (a row written directly): sent as no header at all.
    node = BeaconNode(farm=FarmFactory(), name="bn", url="http://bn.example", auth_header=header)
    assert auth_headers(node) == {}


def test_an_authorization_header_is_sent():
    node = BeaconNode(url="http://bn.example", auth_header="Authorization: Bearer abc")
    assert auth_headers(node) == {"Authorization": "Bearer abc"}


def test_the_node_page_refuses_a_host_header(db):
    from validators.forms import BeaconNodeForm

    farm = FarmFactory()
    form = BeaconNodeForm(
        {"farm": farm.pk, "url": "http://bn.example", "auth_header": "Host: x", "priority": 0},
        farms=Farm.objects.filter(pk=farm.pk),
    )
    assert not form.is_valid()
    assert "not an authentication header" in form.errors["auth_header"][0]


# -- relay URLs at entry -----------------------------------------------------------------------


def _relay_form(farm, url):
    return MevRelayForm(
        {"relay-farm": farm.pk, "relay-name": "", "relay-url": url},
        farms=Farm.objects.filter(pk=farm.pk),
        prefix="relay",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest",
        "http://10.0.0.1:18550",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://relay.internal",  # resolves (below) to a private address
    ],
)
def test_the_relay_form_refuses_a_forbidden_address(db, settings, monkeypatch, url):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["192.168.7.7"])
    form = _relay_form(FarmFactory(), url)
    assert not form.is_valid()
    error = form.errors["url"][0]
    assert error.startswith("Not an allowed address: ") and "192.168.7.7" not in error


def test_the_relay_form_accepts_a_public_or_allowed_address(db, settings, monkeypatch):
    settings.ETHDASH_OUTBOUND_ALLOW = ["10.0.0.0/8"]
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.215.14"])
    farm = FarmFactory()
    for url in ["https://boost-relay.example", "http://10.0.0.1:18550"]:
        form = _relay_form(farm, url)
        assert form.is_valid(), form.errors


def test_the_relay_page_and_admin_save_no_forbidden_relay(db, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    farm = FarmFactory()
    root = logged_in(get_user_model().objects.create_superuser("root", "r@example.invalid", "x"))
    body = {"farm": farm.pk, "name": "meta", "url": "http://169.254.169.254"}
    response = root.post("/admin/validators/mevrelay/add/", body)
    assert response.status_code == 200
    assert "non-public address" in " ".join(response.context["adminform"].form.errors["url"])
    assert not MevRelay.objects.exists()
    body["url"] = "http://127.0.0.1:1"  # allowed once the operator says so
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    assert root.post("/admin/validators/mevrelay/add/", body).status_code == 302
    assert MevRelay.objects.get().url == "http://127.0.0.1:1"


# -- a pool login is one path segment ----------------------------------------------------------


@pytest.mark.parametrize("login", ["..", ".", "...", ""])
def test_a_dot_segment_login_is_refused(login):
    with pytest.raises(PoolError) as caught:
        path_segment(login)
    assert caught.value.kind == "bad_address"


def test_a_login_with_path_characters_stays_one_segment():
    assert path_segment("a/../b?c#d%") == "a%2F..%2Fb%3Fc%23d%25"
    assert miningcore.miner_path("etc1", "../x") == "/api/pools/etc1/miners/..%2Fx"
    assert open_ethereum_pool.account_path("kaspa:qr/x") == "/api/accounts/kaspa:qr%2Fx"
    assert ethermine.miner_id("t1/../x") == "t1%2F..%2Fx"


@pytest.mark.parametrize(
    ("module", "base_url", "coin"),
    [
        (ethermine, "https://api.pool.example", "ETC"),
        (nanopool, "https://api.nanopool.org/v1", "ETC"),
        (miningcore, "https://pool.example", "ETC"),
        (open_ethereum_pool, "https://pool.example", "ETC"),
    ],
)
def test_a_dot_login_asks_the_pool_nothing(module, base_url, coin):
    asked = []

    async def get_json(path, params=None):
        asked.append(path)
        return {}

    endpoint = PoolEndpoint(module.FORMAT, base_url, "..", coin, pool_id="etc1")
    with pytest.raises(PoolError) as caught:
        asyncio.run(module.fetch_account(get_json, endpoint))
    assert caught.value.kind == "bad_address" and asked == []


@pytest.mark.parametrize("login", ["..", ".", "a/b", "a?b", "a#b"])
def test_the_form_and_the_api_refuse_a_login_that_is_no_path_segment(login):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        LOGIN_VALIDATOR(login)
    field = AccountForm.base_fields["login"]
    with pytest.raises(ValidationError):
        field.clean(login)
    LOGIN_VALIDATOR("0x" + "ab" * 20)
    field.clean("kaspa:qr.worker-1")


@pytest.mark.parametrize("header", ["Host: 169.254.169.254", "Connection: keep-alive, Upgrade"])
def test_the_beacon_nodes_api_refuses_a_header_that_is_no_auth_header(api, alpha, header):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('write')}")
    body = {"url": "http://bn.example:5052", "name": "bn", "auth_header": header}
    response = api.post("/api/v1/beacon-nodes/", body, format="json")
    assert response.status_code == 400
    assert "not an authentication header" in str(response.json()["errors"]["auth_header"])
    assert not BeaconNode.objects.exists()
