"""Adding validators (pasted lists, the API, discovery by withdrawal address), resolving them
against the farm's beacon node, and adding beacon nodes and MEV relays."""

import pytest
from django.core.cache import cache

from accounts.models import Farm
from simulators.beacon_node import start_beacon_node, stop_beacon_node
from tests.factories import BeaconNodeFactory, MevRelayFactory, logged_in
from tests.loops import loop_thread
from tests.test_address_entry import ACCEPTED_URLS, REFUSED_URLS
from validators import tasks
from validators.formats.client import BeaconClient
from validators.forms import BeaconNodeForm, MevRelayForm
from validators.models import BeaconNode, MevRelay, Validator, ValidatorGroup
from validators.services import adding, nodes, resolution

PUBKEY = "0x" + "ab" * 48
DEAD_URL = "http://127.0.0.1:9"  # discard port: connection refused


@pytest.fixture
def beacon(settings):
    """A simulated beacon node of 1,000 validators, in a thread of its own; yields (url, server)."""
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    with loop_thread() as threaded:
        server = threaded.run(
            start_beacon_node(seconds_per_slot=1.0, slots_per_epoch=8, registry_size=1000)
        )
        port = server.sockets[0].getsockname()[1]
        server.ask = lambda ids: threaded.run(_ask(f"http://127.0.0.1:{port}", ids))
        try:
            yield f"http://127.0.0.1:{port}", server
        finally:
            threaded.run(stop_beacon_node(server))


async def _ask(url, ids):
    async with BeaconClient(url) as client:
        return {v["index"]: v for v in (await client.validators("head", ids=ids)).data}


def _node(world, url, **extra):
    return BeaconNodeFactory(farm=world.farm, name=extra.pop("name", "bn"), url=url, **extra)


# -- parsing and adding ---------------------------------------------------------------------


def test_a_malformed_entry_rejects_the_paste_with_each_reason(alpha):
    paste = f"1, 2\n0x{'zz' * 48}\n-3 0x1234 abc {PUBKEY}"
    with pytest.raises(adding.InvalidEntries) as caught:
        adding.add_validators(alpha.farm, paste)
    reasons = {r.entry: (r.position, r.reason) for r in caught.value.rejected}
    assert reasons == {
        "0x" + "zz" * 48: (3, "a pubkey has only hex digits (0-9, a-f) after 0x"),
        "-3": (4, "an index is a whole number of 0 or more"),
        "0x1234": (5, "a pubkey has 96 hex digits after 0x, this one has 4"),
        "abc": (6, "neither an index (a whole number) nor a pubkey (0x and 96 hex digits)"),
    }
    assert not Validator.objects.exists()


def test_pubkeys_are_stored_lowercase_with_or_without_0x(alpha):
    result = adding.add_validators(alpha.farm, ["0x" + "AB" * 48, "cd" * 48, 7, "0008"])
    stored = set(Validator.objects.values_list("pubkey", "index"))
    assert stored == {(PUBKEY, None), ("0x" + "cd" * 48, None), ("", 7), ("", 8)}
    assert len(result.created) == 4


def test_repeats_and_known_validators_are_skipped_and_a_new_group_is_created(alpha):
    adding.add_validators(alpha.farm, "5")
    result = adding.add_validators(
        alpha.farm, f"5 6 6 {PUBKEY} {PUBKEY.upper()[2:]}", group="Rack A", label="home"
    )
    assert [str(v) for v in result.created] == ["home", "home"]
    assert set(result.skipped) == {
        ("5", "already in this farm"),
        ("6", "repeated in the list"),
        (PUBKEY, "repeated in the list"),
    }
    group = ValidatorGroup.objects.get(farm=alpha.farm, name="Rack A")
    assert set(group.validators.values_list("index", flat=True)) == {6, None}


def test_the_same_validators_may_belong_to_another_farm(alpha, bravo):
    adding.add_validators(alpha.farm, "5")
    assert len(adding.add_validators(bravo.farm, "5").created) == 1


def test_a_paste_over_the_limit_is_refused_as_a_whole(alpha, monkeypatch):
    monkeypatch.setattr(adding, "MAX_ENTRIES", 3)
    with pytest.raises(adding.InvalidEntries) as caught:
        adding.add_validators(alpha.farm, "1 2 3 4")
    assert "at most 3 validators per paste; this one has 4" in caught.value.rejected[0].reason
    assert not Validator.objects.exists()


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Authorization: Bearer abc", True),
        ("X-Api-Key:k", True),
        ("", True),
        ("Bearer abc", False),
        ("Bad Name: x", False),
        ("X-Key: a\nb", False),
        ("X-Key:", False),
        # Only an authentication header: nothing that routes or frames the request.
        ("X-API-Key: k", True),
        ("api-key: k", True),
        ("X-Auth-Token: t", True),
        ("Host: metadata.google.internal", False),
        ("host: 169.254.169.254", False),
        ("Connection: close", False),
        ("Transfer-Encoding: chunked", False),
        ("Content-Length: 0", False),
        ("X-Forwarded-For: 127.0.0.1", False),
        ("Proxy-Authorization: Basic eA==", False),
        ("X-Key: secret", False),
    ],
)
def test_auth_headers_are_validated(header, ok):
    if ok:
        nodes.parse_auth_header(header)
    else:
        with pytest.raises(ValueError):
            nodes.parse_auth_header(header)


# -- resolving against the beacon node ------------------------------------------------------


def test_resolution_fills_index_pubkey_and_status_from_the_node(alpha, beacon):
    url, server = beacon
    known = server.ask([3, 9, 20])
    unknown_pubkey = "0x" + "11" * 48
    _node(alpha, url)
    adding.add_validators(alpha.farm, ["3", known[9]["validator"]["pubkey"].upper(), "5000"])
    adding.add_validators(alpha.farm, [unknown_pubkey])

    result = resolution.resolve_validators(alpha.farm)

    assert (result.resolved, result.not_found, result.node, result.error) == (2, 2, "bn", "")
    three = Validator.objects.get(farm=alpha.farm, index=3)
    assert three.pubkey == known[3]["validator"]["pubkey"]
    assert three.status == known[3]["status"]
    assert three.withdrawal_credentials == known[3]["validator"]["withdrawal_credentials"]
    assert three.last_error == ""
    nine = Validator.objects.get(farm=alpha.farm, pubkey=known[9]["validator"]["pubkey"])
    assert nine.index == 9 and nine.withdrawal_address.startswith("0x")
    for missing in (
        Validator.objects.get(index=5000),
        Validator.objects.get(pubkey=unknown_pubkey),
    ):
        assert missing.last_error == resolution.NOT_FOUND
    # Unknown ones are asked again next time; resolved ones are not.
    again = resolution.resolve_validators(alpha.farm)
    assert (again.resolved, again.not_found) == (0, 2)


def test_a_validator_added_by_index_and_by_pubkey_becomes_one_row(alpha, beacon):
    url, server = beacon
    pubkey = server.ask([20])[20]["validator"]["pubkey"]
    _node(alpha, url)
    adding.add_validators(alpha.farm, "20", group="old", label="first")
    adding.add_validators(alpha.farm, [pubkey])

    result = resolution.resolve_validators(alpha.farm)

    assert result.merged == 1
    row = Validator.objects.get(farm=alpha.farm)
    assert (row.index, row.pubkey, row.label, row.group.name) == (20, pubkey, "first", "old")


def test_resolution_goes_in_slices_each_stored_before_the_next(alpha, beacon, monkeypatch):
    url, server = beacon
    monkeypatch.setattr(resolution, "RESOLVE_SLICE", 2)
    _node(alpha, url)
    adding.add_validators(alpha.farm, "1 2 3 4 5")
    server.stats.reset()
    result = resolution.resolve_validators(alpha.farm, batch_size=1000)
    assert result.resolved == 5
    assert server.stats["POST /eth/v1/beacon/states/{state_id}/validators"] == 3
    assert not Validator.objects.filter(pubkey="").exists()


def test_the_next_node_answers_when_the_first_is_down(alpha, beacon):
    url, _ = beacon
    _node(alpha, DEAD_URL, name="dead", priority=0)
    _node(alpha, url, name="backup", priority=1)
    adding.add_validators(alpha.farm, "4")
    result = resolution.resolve_validators(alpha.farm)
    assert (result.resolved, result.node) == (1, "backup")


def test_nothing_changes_when_no_node_answers(alpha, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    adding.add_validators(alpha.farm, "4")
    assert resolution.resolve_validators(alpha.farm).error == "the farm has no beacon node"
    _node(alpha, DEAD_URL)
    result = resolution.resolve_validators(alpha.farm)
    assert result.error.startswith("no beacon node answered: bn:")
    assert Validator.objects.get().last_error == ""


# -- discovery by withdrawal address --------------------------------------------------------


def _address_of(server, index):
    return "0x" + server.ask([index])[index]["validator"]["withdrawal_credentials"][-40:]


def test_discovery_walks_the_registry_in_ranges_until_an_empty_one(alpha, beacon):
    url, server = beacon
    _node(alpha, url)
    address = _address_of(server, 42)
    seen = []
    server.stats.reset()

    found = resolution.discover_by_withdrawal_address(
        alpha.farm, address.upper().replace("0X", "0x"), progress=lambda *p: seen.append(p),
        range_size=300,
    )  # fmt: skip

    assert found == [42]
    # 1,000 validators in ranges of 300: four ranges with validators, then an empty one.
    assert server.stats["POST /eth/v1/beacon/states/{state_id}/validators"] == 5
    assert server.stats.max_ids["POST /eth/v1/beacon/states/{state_id}/validators"] == 300
    assert seen == [(300, 1), (600, 1), (900, 1), (1000, 1)]
    with pytest.raises(ValueError):
        resolution.discover_by_withdrawal_address(alpha.farm, "0x1234")


def test_the_discovery_task_adds_what_it_finds_and_reports(alpha, beacon):
    url, server = beacon
    _node(alpha, url)
    address = _address_of(server, 11)  # the simulator's 0x02 validator
    tasks.discover_validators(alpha.farm.pk, address, "found", "")
    state = resolution.discovery_state(alpha.farm.pk)
    assert (state["state"], state["found"], state["added"], state["scanned"]) == (
        "done", 1, 1, 1000
    )  # fmt: skip
    assert Validator.objects.get(farm=alpha.farm).group.name == "found"


def test_the_discovery_task_reports_a_farm_without_nodes(alpha):
    tasks.discover_validators(alpha.farm.pk, "0x" + "12" * 20)
    state = resolution.discovery_state(alpha.farm.pk)
    assert (state["state"], state["error"]) == ("failed", "the farm has no beacon node")


# -- the add page ---------------------------------------------------------------------------


def _add(world, entries, **extra):
    return {"action": "add", "add-farm": world.farm.pk, "add-entries": entries, **extra}


def test_the_add_page_adds_and_shows_what_was_skipped(owner_client, alpha):
    adding.add_validators(alpha.farm, "1")
    response = owner_client.post("/validators/add/", _add(alpha, "1 2 2 3", **{"add-group": "g"}))
    html = response.content.decode()
    assert response.status_code == 200
    assert "2 validators added</strong> to the group g, 2 skipped" in html
    assert "already in this farm" in html and "repeated in the list" in html
    assert set(Validator.objects.values_list("index", flat=True)) == {1, 2, 3}


def test_the_add_page_lists_malformed_entries_and_saves_nothing(owner_client, alpha):
    response = owner_client.post("/validators/add/", _add(alpha, "1\n0xabc\n2"))
    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved." in html
    assert "0xabc" in html and "this one has 3" in html
    assert not Validator.objects.exists()


def test_viewers_cannot_add_validators(alpha):
    viewer = logged_in(alpha.viewer)
    assert viewer.get("/validators/add/").status_code == 404
    assert viewer.post("/validators/add/", _add(alpha, "1")).status_code == 404
    assert not Validator.objects.exists()


def test_a_farm_the_user_does_not_manage_is_refused(intruder_client, alpha):
    response = intruder_client.post("/validators/add/", _add(alpha, "1"))
    assert response.status_code == 400
    assert "farm" in response.context["add_form"].errors
    assert not Validator.objects.exists()


def test_the_page_starts_a_discovery_and_shows_its_progress(
    owner_client, alpha, beacon, django_capture_on_commit_callbacks
):
    url, server = beacon
    _node(alpha, url)
    address = _address_of(server, 42)
    form = {"action": "discover", "discover-farm": alpha.farm.pk, "discover-address": address}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post("/validators/add/", form)
    assert response.status_code == 302
    queued = owner_client.get("/validators/add/").content.decode()
    assert "queued" in queued and "js/refresh.js" in queued
    assert owner_client.post("/validators/add/", form).status_code == 409  # one at a time
    # What the worker would do with the queued task:
    tasks.discover_validators(alpha.farm.pk, address)
    assert len(callbacks) == 1
    html = owner_client.get("/validators/add/").content.decode()
    assert address in html and ">done<" in html and "js/refresh.js" not in html
    assert Validator.objects.get(farm=alpha.farm).index == 42


# -- beacon nodes and relays page -----------------------------------------------------------


def _node_form(world, url, action="node-try", **extra):
    return {
        "action": action,
        "node-farm": world.farm.pk,
        "node-name": "lighthouse",
        "node-url": url,
        "node-auth_header": "",
        "node-priority": 0,
        **extra,
    }


def test_trying_a_node_shows_its_answer_and_saves_nothing(owner_client, alpha, beacon):
    url, _ = beacon
    response = owner_client.post("/validators/nodes/", _node_form(alpha, url))
    html = response.content.decode()
    assert "The node answered." in html
    assert "<dt>Slots per epoch</dt><dd>8</dd>" in html
    assert "<dt>Seconds per slot</dt><dd>1.0</dd>" in html
    assert 'value="node-save"' in html
    assert not BeaconNode.objects.exists()


def test_saving_a_node_stores_its_genesis_and_constants(owner_client, alpha, beacon):
    url, server = beacon
    form = _node_form(alpha, url + "/", "node-save", **{"node-auth_header": "X-API-Key: secret"})
    assert owner_client.post("/validators/nodes/", form).status_code == 302
    node = BeaconNode.objects.get(farm=alpha.farm)
    assert node.url == url and node.auth_header == "X-API-Key: secret"
    assert node.genesis_time == int(server.chain.genesis_time)
    assert (node.seconds_per_slot, node.slots_per_epoch, node.epochs_per_sync_period) == (1, 8, 256)
    assert node.health == BeaconNode.Health.READY and node.head_slot is not None
    assert isinstance(node.deposit_chain_id, int)
    html = owner_client.get("/validators/nodes/").content.decode()
    assert "lighthouse" in html and "with auth header" in html and "secret" not in html


def test_a_node_that_does_not_answer_is_not_saved(owner_client, alpha, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["127.0.0.0/8"]
    response = owner_client.post("/validators/nodes/", _node_form(alpha, DEAD_URL, "node-save"))
    html = response.content.decode()
    assert "The node did not answer as expected" in html
    assert 'value="node-save"' not in html
    assert not BeaconNode.objects.exists()


def test_a_private_node_address_needs_the_outbound_allow_list(owner_client, alpha, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    html = owner_client.post("/validators/nodes/", _node_form(alpha, DEAD_URL)).content.decode()
    assert "ETHDASH_OUTBOUND_ALLOW" in html


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("node-url", "ftp://10.0.0.5/"),
        ("node-url", "not a url"),
        ("node-url", "http://10.0.0.5:99999"),
        ("node-auth_header", "token"),
    ],
)
def test_a_bad_node_url_or_header_is_refused(owner_client, alpha, field, value):
    form = _node_form(alpha, "http://10.0.0.5:5052", **{field: value})
    response = owner_client.post("/validators/nodes/", form)
    assert response.status_code == 400
    assert field.removeprefix("node-") in response.context["node_form"].errors


def _page_forms(world, url):
    farms = Farm.objects.filter(pk=world.farm.pk)
    node = {"farm": world.farm.pk, "name": "bn", "url": url, "auth_header": "", "priority": 0}
    relay = {"farm": world.farm.pk, "name": "", "url": url}
    return BeaconNodeForm(node, farms=farms), MevRelayForm(relay, farms=farms)


@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_the_node_and_relay_forms_accept_a_lan_address(alpha, url):
    for form in _page_forms(alpha, url):
        assert form.is_valid(), form.errors
        assert form.cleaned_data["url"] == url.rstrip("/")


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_the_node_and_relay_forms_refuse_what_is_no_destination_with_a_message(alpha, url):
    for form in _page_forms(alpha, url):
        assert not form.is_valid()
        assert form.errors["url"][0].startswith("Not a valid address: "), form.errors


def test_viewers_see_nodes_read_only(alpha):
    _node(alpha, "http://10.0.0.5:5052", name="alpha-bn")
    viewer = logged_in(alpha.viewer)
    html = viewer.get("/validators/nodes/").content.decode()
    assert "alpha-bn" in html and "Remove" not in html and 'id="node-form"' not in html
    assert viewer.post("/validators/nodes/", _node_form(alpha, DEAD_URL)).status_code == 403
    node = BeaconNode.objects.get()
    assert viewer.post(f"/validators/nodes/{node.pk}/delete/").status_code == 403
    assert BeaconNode.objects.exists()


def test_another_farm_sees_none_of_the_nodes_and_cannot_remove_them(intruder_client, alpha):
    node = _node(alpha, "http://10.0.0.5:5052", name="alpha-bn")
    relay = MevRelayFactory(farm=alpha.farm, name="alpha-relay")
    html = intruder_client.get("/validators/nodes/").content.decode()
    assert "alpha-bn" not in html and "alpha-relay" not in html
    assert intruder_client.get(f"/validators/nodes/?farm={alpha.farm.pk}").status_code == 404
    assert intruder_client.post(f"/validators/nodes/{node.pk}/delete/").status_code == 404
    assert intruder_client.post(f"/validators/relays/{relay.pk}/delete/").status_code == 404
    assert BeaconNode.objects.exists() and MevRelay.objects.exists()


def _relay_form(world, url):
    return {"action": "relay-add", "relay-farm": world.farm.pk, "relay-name": "", "relay-url": url}


def test_relays_are_added_once_and_removed(owner_client, alpha):
    form = _relay_form(alpha, "https://boost-relay.flashbots.net/")
    assert owner_client.post("/validators/nodes/", form).status_code == 302
    relay = MevRelay.objects.get()
    assert (relay.name, relay.url) == ("boost-relay.flashbots.net", form["relay-url"][:-1])
    duplicate = owner_client.post("/validators/nodes/", form)
    assert duplicate.status_code == 400
    assert "already has this relay" in duplicate.content.decode()
    assert owner_client.get(f"/validators/relays/{relay.pk}/delete/").status_code == 405
    assert owner_client.post(f"/validators/relays/{relay.pk}/delete/").status_code == 302
    assert not MevRelay.objects.exists()


# -- API ------------------------------------------------------------------------------------


def test_the_api_adds_validators_with_a_write_token(api, alpha):
    adding.add_validators(alpha.farm, "1")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('write')}")
    response = api.post(
        "/api/v1/validators/add/",
        {"ids": [1, "2", "2", PUBKEY.upper()], "group": "api", "label": "x"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["farm"], body["group"]) == (alpha.farm.pk, "api")
    assert [(v["index"], v["pubkey"]) for v in body["created"]] == [(2, ""), (None, PUBKEY)]
    assert body["skipped"] == [
        {"entry": "2", "reason": "repeated in the list"},
        {"entry": "1", "reason": "already in this farm"},
    ]


def test_the_api_rejects_a_malformed_entry_and_saves_nothing(api, alpha):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('write')}")
    response = api.post("/api/v1/validators/add/", {"ids": ["1", "0xnope", 2, True]}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]["ids"]
    assert set(errors) == {"1", "3"}
    assert errors["1"] == ["'0xnope': a pubkey has only hex digits (0-9, a-f) after 0x"]
    assert errors["3"] == ["'True': an entry is an index or a pubkey, as text"]
    assert not Validator.objects.exists()


def test_the_api_needs_the_write_scope_and_the_callers_farm(api, alpha, bravo):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    assert api.post("/api/v1/validators/add/", {"ids": ["1"]}, format="json").status_code == 403
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bravo.token('write')}")
    body = {"farm": alpha.farm.pk, "ids": ["1"]}
    assert api.post("/api/v1/validators/add/", body, format="json").status_code == 404
    viewer = logged_in(alpha.viewer)
    response = viewer.post("/api/v1/validators/add/", body, content_type="application/json")
    assert response.status_code == 403
    assert not Validator.objects.exists()


def test_the_beacon_nodes_api_creates_a_node_that_answers(api, alpha, bravo, beacon):
    url, _ = beacon
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read', 'write')}")
    body = {"url": url, "name": "api-bn", "auth_header": "Authorization: Bearer x"}
    created = api.post("/api/v1/beacon-nodes/", body, format="json")
    assert created.status_code == 201
    node = created.json()
    assert node["has_auth_header"] and "auth_header" not in node
    assert (node["farm"], node["slots_per_epoch"], node["health"]) == (alpha.farm.pk, 8, "ready")
    dead = api.post("/api/v1/beacon-nodes/", {"url": DEAD_URL}, format="json")
    assert dead.status_code == 400 and "url" in dead.json()["errors"]
    listed = api.get("/api/v1/beacon-nodes/").json()["results"]
    assert [n["name"] for n in listed] == ["api-bn"]

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bravo.token('read', 'write')}")
    assert api.get("/api/v1/beacon-nodes/").json()["results"] == []
    assert api.delete(f"/api/v1/beacon-nodes/{node['id']}/").status_code == 404
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read')}")
    assert api.delete(f"/api/v1/beacon-nodes/{node['id']}/").status_code == 403
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read', 'write')}")
    assert api.delete(f"/api/v1/beacon-nodes/{node['id']}/").status_code == 204


def test_the_openapi_schema_still_builds(owner_client):
    schema = owner_client.get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/validators/add/" in schema["paths"]
    assert "/api/v1/beacon-nodes/" in schema["paths"]


@pytest.mark.django_db(transaction=True)
def test_the_in_process_worker_runs_a_discovery_started_on_the_page(alpha, beacon):
    """The embedded demo: Celery's own worker, a thread of this process, runs the discovery and
    then the resolution it queues."""
    import time

    from ethdash.embedded import InProcessCelery

    url, server = beacon
    _node(alpha, url)
    address = _address_of(server, 42)
    form = {"action": "discover", "discover-farm": alpha.farm.pk, "discover-address": address}
    celery = InProcessCelery()
    celery.start()
    try:
        assert logged_in(alpha.owner).post("/validators/add/", form).status_code == 302
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = Validator.objects.filter(farm=alpha.farm, index=42).exclude(pubkey="")
            if found.exists():
                break
            time.sleep(0.1)
    finally:
        celery.stop()
    assert resolution.discovery_state(alpha.farm.pk)["state"] == "done"
    assert Validator.objects.get(farm=alpha.farm).pubkey.endswith(f"{42:016x}")


def test_a_relay_url_with_a_port_out_of_range_is_refused_with_a_message(owner_client, alpha):
    form = _relay_form(alpha, "https://relay.example:99999")
    response = owner_client.post("/validators/nodes/", form)
    assert response.status_code == 400
    assert not MevRelay.objects.exists()
    assert "between 1 and 65535" in response.content.decode()


def test_the_beacon_nodes_api_refuses_a_port_out_of_range_with_a_message(api, alpha):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read', 'write')}")
    response = api.post("/api/v1/beacon-nodes/", {"url": "http://10.0.0.5:99999"}, format="json")
    assert response.status_code == 400
    assert "between 1 and 65535" in str(response.json()["errors"]["url"])
    assert not BeaconNode.objects.exists()


def test_start_discovery_queues_once_per_farm(
    alpha, monkeypatch, django_capture_on_commit_callbacks
):
    from validators.services import resolution

    queued = []
    monkeypatch.setattr(tasks.discover_validators, "delay", lambda *args: queued.append(args))
    address = "0x" + "ab" * 20
    with django_capture_on_commit_callbacks(execute=True):
        assert resolution.start_discovery(alpha.farm, address, group="g", label="l")
        assert not resolution.start_discovery(alpha.farm, address)  # already queued
    assert queued == [(alpha.farm.pk, address, "g", "l")]
    assert resolution.discovery_state(alpha.farm.pk)["state"] == "queued"
    cache.delete(resolution.discovery_key(alpha.farm.pk))  # the cache outlives the test's database


@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_the_beacon_nodes_api_tries_a_lan_address(api, alpha, monkeypatch, url):
    """The address passes validation and goes on to the trial, which here answers nothing (a
    test asks no DNS): the 400 is the trial's, not the address's."""
    tried = []

    def try_node(url, auth_header=""):
        tried.append(url)
        return nodes.Check(health=BeaconNode.Health.DOWN, error="no answer (test)")

    monkeypatch.setattr(nodes, "try_node", try_node)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read', 'write')}")
    response = api.post("/api/v1/beacon-nodes/", {"url": url}, format="json")
    assert tried == [url.rstrip("/")]
    assert response.json()["errors"]["url"] == ["no answer (test)"]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_the_beacon_nodes_api_refuses_what_is_no_destination_with_a_message(api, alpha, url):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('read', 'write')}")
    response = api.post("/api/v1/beacon-nodes/", {"url": url}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]["url"]
    assert errors[0].startswith("Not a valid address: "), errors
    assert not BeaconNode.objects.exists()
