"""The validators API's writes (a validator's label and group, removing it, groups, discovery,
MEV relays) for each kind of caller, bad input that changes nothing, and the lists' ordering."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership
from tests.factories import (
    BeaconNodeFactory,
    MembershipFactory,
    MevRelayFactory,
    ProposalFactory,
    ValidatorDayFactory,
    ValidatorEpochFactory,
    ValidatorFactory,
    ValidatorGroupFactory,
)
from validators import tasks
from validators.models import (
    MevRelay,
    Proposal,
    Validator,
    ValidatorDay,
    ValidatorEpoch,
    ValidatorGroup,
)
from validators.services import resolution

ADDRESS = "0x" + "ab" * 20
PUBLIC_RELAY = "https://93.184.215.14"  # a global address: no DNS, allowed by the policy


def _token_client(world, *scopes):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.token(*scopes)}")
    return client


def _session(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def callers(alpha, bravo):
    """Who asks, and the status a write to one of Alpha's objects answers them."""
    manager = MembershipFactory(
        farm=alpha.farm, user__username="alpha-manager", role=Membership.Role.MANAGER
    ).user
    return {
        "write token": (_token_client(alpha, "read", "write"), True),
        "manager session": (_session(manager), True),
        "owner session": (_session(alpha.owner), True),
        "read token": (_token_client(alpha, "read"), 403),
        "viewer session": (_session(alpha.viewer), 403),
        "other farm's write token": (_token_client(bravo, "read", "write"), 404),
        "other farm's owner": (_session(bravo.owner), 404),
    }


CALLERS = [
    "write token",
    "manager session",
    "owner session",
    "read token",
    "viewer session",
    "other farm's write token",
    "other farm's owner",
]


def _expect(expected, ok_status):
    return ok_status if expected is True else expected


@pytest.fixture
def writer(alpha):
    return _token_client(alpha, "read", "write")


# -- validators: label and group -----------------------------------------------------------


@pytest.mark.parametrize("who", CALLERS)
def test_changing_a_validators_label_and_group(alpha, callers, who):
    client, expected = callers[who]
    validator = ValidatorFactory(farm=alpha.farm, index=7, label="old")
    body = {"label": "rack 3", "group": "Rack A"}
    answer = client.patch(f"/api/v1/validators/{validator.pk}/", body, format="json")
    assert answer.status_code == _expect(expected, 200), answer.content
    validator.refresh_from_db()
    if expected is True:
        group = ValidatorGroup.objects.get(farm=alpha.farm, name="Rack A")  # created: new name
        assert (validator.label, validator.group) == ("rack 3", group)
        data = answer.json()
        assert (data["label"], data["group"], data["group_name"]) == ("rack 3", group.pk, "Rack A")
        assert "figures" in data
    else:
        assert (validator.label, validator.group) == ("old", None)
        assert not ValidatorGroup.objects.exists()


def test_a_group_by_id_or_name_and_null_to_ungroup(alpha, writer):
    group = ValidatorGroupFactory(farm=alpha.farm, name="A")
    validator = ValidatorFactory(farm=alpha.farm, label="keep")
    url = f"/api/v1/validators/{validator.pk}/"
    assert writer.patch(url, {"group": group.pk}, format="json").json()["group"] == group.pk
    assert writer.patch(url, {"group": "A"}, format="json").json()["group"] == group.pk
    assert ValidatorGroup.objects.count() == 1  # the existing group, by its name
    answer = writer.patch(url, {"group": None}, format="json").json()
    assert (answer["group"], answer["group_name"], answer["label"]) == (None, None, "keep")
    assert writer.patch(url, {"label": ""}, format="json").json()["label"] == ""
    assert ValidatorGroup.objects.filter(pk=group.pk).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"label": "x" * 121},
        {"group": "g" * 121},
        {"group": True},
        {"group": 1.5},
        {"group": ["A"]},
        {"group": -1},
        {"label": None},
    ],
)
def test_bad_changes_are_refused_and_change_nothing(alpha, writer, body):
    validator = ValidatorFactory(farm=alpha.farm, label="old")
    answer = writer.patch(f"/api/v1/validators/{validator.pk}/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == "invalid"
    validator.refresh_from_db()
    assert (validator.label, validator.group) == ("old", None)
    assert not ValidatorGroup.objects.exists()


def test_a_group_of_another_farm_is_refused(alpha, bravo, writer):
    theirs = ValidatorGroupFactory(farm=bravo.farm, name="theirs")
    validator = ValidatorFactory(farm=alpha.farm, label="old")
    answer = writer.patch(
        f"/api/v1/validators/{validator.pk}/", {"group": theirs.pk, "label": "new"}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"group": ["No such group in the validator's farm."]}
    validator.refresh_from_db()
    assert (validator.label, validator.group) == ("old", None)  # the label neither


# -- validators: removing --------------------------------------------------------------------


@pytest.mark.parametrize("who", CALLERS)
def test_removing_a_validator(alpha, callers, who):
    client, expected = callers[who]
    validator = ValidatorFactory(farm=alpha.farm)
    answer = client.delete(f"/api/v1/validators/{validator.pk}/")
    assert answer.status_code == _expect(expected, 204), answer.content
    assert Validator.objects.filter(pk=validator.pk).exists() is (expected is not True)


def test_a_removed_validators_history_goes_and_the_same_validator_elsewhere_stays(
    alpha, bravo, writer
):
    group = ValidatorGroupFactory(farm=alpha.farm)
    ours = ValidatorFactory(farm=alpha.farm, index=5, group=group)
    theirs = ValidatorFactory(farm=bravo.farm, index=5)
    for validator in (ours, theirs):
        ValidatorDayFactory(validator=validator)
        ValidatorEpochFactory(validator=validator, epoch=10, flags=1)
        ProposalFactory(validator=validator, epoch=10, slot=320)
    assert writer.delete(f"/api/v1/validators/{ours.pk}/").status_code == 204
    for model in (ValidatorDay, ValidatorEpoch, Proposal):
        assert list(model.objects.values_list("validator_id", flat=True)) == [theirs.pk]
    assert ValidatorGroup.objects.filter(pk=group.pk).exists()  # the group stays
    assert writer.get(f"/api/v1/validators/{ours.pk}/").status_code == 404


# -- groups ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", CALLERS)
def test_creating_renaming_and_deleting_a_group(alpha, callers, who):
    client, expected = callers[who]
    created = client.post(
        "/api/v1/validator-groups/", {"name": "new", "farm": alpha.farm.pk}, format="json"
    )
    assert created.status_code == _expect(expected, 201), created.content
    group = ValidatorGroupFactory(farm=alpha.farm, name="old")
    member = ValidatorFactory(farm=alpha.farm, group=group)
    url = f"/api/v1/validator-groups/{group.pk}/"
    renamed = client.patch(url, {"name": "renamed"}, format="json")
    assert renamed.status_code == _expect(expected, 200), renamed.content
    group.refresh_from_db()
    assert group.name == ("renamed" if expected is True else "old")
    deleted = client.delete(url)
    assert deleted.status_code == _expect(expected, 204)
    member.refresh_from_db()
    if expected is True:
        assert created.json()["validators"] == 0
        assert renamed.json()["validators"] == 1
        assert not ValidatorGroup.objects.filter(pk=group.pk).exists()
        assert member.group is None  # ungrouped, not deleted
    else:
        assert set(ValidatorGroup.objects.values_list("name", flat=True)) == {"old"}
        assert member.group == group


def test_a_group_name_is_unique_per_farm(alpha, bravo, writer):
    ValidatorGroupFactory(farm=alpha.farm, name="A")
    other = ValidatorGroupFactory(farm=alpha.farm, name="B")
    ValidatorGroupFactory(farm=bravo.farm, name="C")
    taken = writer.post("/api/v1/validator-groups/", {"name": " A "}, format="json")
    assert taken.status_code == 400
    assert taken.json()["errors"] == {"name": ["The farm already has a group of this name."]}
    renamed = writer.patch(f"/api/v1/validator-groups/{other.pk}/", {"name": "A"}, format="json")
    assert renamed.status_code == 400
    other.refresh_from_db()
    assert other.name == "B"
    # Another farm's name is free.
    assert writer.post("/api/v1/validator-groups/", {"name": "C"}, format="json").status_code == 201
    assert ValidatorGroup.objects.filter(farm=alpha.farm).count() == 3


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x" * 121}, {}, {"name": None}])
def test_a_bad_group_name_is_refused(alpha, writer, body):
    assert writer.post("/api/v1/validator-groups/", body, format="json").status_code == 400
    assert not ValidatorGroup.objects.exists()


def test_a_group_stays_in_its_farm_and_is_created_only_in_a_writable_one(alpha, bravo, writer):
    group = ValidatorGroupFactory(farm=alpha.farm, name="A")
    moved = writer.patch(
        f"/api/v1/validator-groups/{group.pk}/", {"farm": bravo.farm.pk}, format="json"
    )
    assert moved.status_code == 400
    group.refresh_from_db()
    assert group.farm == alpha.farm
    elsewhere = writer.post(
        "/api/v1/validator-groups/", {"name": "x", "farm": bravo.farm.pk}, format="json"
    )
    assert elsewhere.status_code == 404
    assert not ValidatorGroup.objects.filter(farm=bravo.farm).exists()


# -- discovery -------------------------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.discover_validators, "delay", lambda *args: queued.append(args))
    return queued


@pytest.mark.parametrize("who", CALLERS)
def test_starting_a_discovery(alpha, callers, who, queued, django_capture_on_commit_callbacks):
    client, expected = callers[who]
    body = {"address": ADDRESS.upper().replace("0X", "0x"), "group": "found", "farm": alpha.farm.pk}
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/api/v1/validators/discover/", body, format="json")
    assert answer.status_code == _expect(expected, 202), answer.content
    if expected is True:
        assert queued == [(alpha.farm.pk, ADDRESS, "found", "")]  # what the page queues
        state = answer.json()
        assert (state["farm"], state["state"], state["address"]) == (
            alpha.farm.pk,
            "queued",
            ADDRESS,
        )
    else:
        assert queued == []
        assert resolution.discovery_state(alpha.farm.pk) is None


def test_one_discovery_at_a_time_and_its_progress_is_readable(
    alpha, bravo, writer, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = writer.post("/api/v1/validators/discover/", {"address": ADDRESS}, format="json")
        again = writer.post("/api/v1/validators/discover/", {"address": ADDRESS}, format="json")
    assert (first.status_code, again.status_code) == (202, 409)
    assert again.json() == {
        "detail": "A discovery is already running for this farm.",
        "code": "conflict",
    }
    assert len(queued) == 1
    states = _token_client(alpha, "read").get("/api/v1/validators/discover/").json()
    assert [(s["farm"], s["state"]) for s in states] == [(alpha.farm.pk, "queued")]
    assert _token_client(bravo, "read").get("/api/v1/validators/discover/").json() == []


@pytest.mark.parametrize("address", ["", "0x1234", "ab" * 20, "0x" + "zz" * 20])
def test_a_bad_address_starts_nothing(alpha, writer, queued, address):
    answer = writer.post("/api/v1/validators/discover/", {"address": address}, format="json")
    assert answer.status_code == 400
    assert "address" in answer.json()["errors"]
    assert resolution.discovery_state(alpha.farm.pk) is None


# -- MEV relays ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", CALLERS)
def test_adding_and_removing_a_relay(alpha, callers, who, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    client, expected = callers[who]
    body = {"url": PUBLIC_RELAY + "/", "farm": alpha.farm.pk}
    created = client.post("/api/v1/mev-relays/", body, format="json")
    assert created.status_code == _expect(expected, 201), created.content
    relay = MevRelayFactory(farm=alpha.farm)
    removed = client.delete(f"/api/v1/mev-relays/{relay.pk}/")
    assert removed.status_code == _expect(expected, 204)
    if expected is True:
        # As the page adds one: no trailing slash, named after its host when unnamed.
        stored = MevRelay.objects.get(pk=created.json()["id"])
        assert (stored.url, stored.name) == (PUBLIC_RELAY, "93.184.215.14")
        assert list(MevRelay.objects.all()) == [stored]
    else:
        assert list(MevRelay.objects.all()) == [relay]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:18550",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://10.0.0.5:18550",
        "ftp://relay.example",
        "http://relay.example:99999",
        "relay",
    ],
)
def test_a_relay_the_outbound_policy_refuses_is_not_saved(alpha, writer, settings, url):
    settings.ETHDASH_OUTBOUND_ALLOW = []
    answer = writer.post("/api/v1/mev-relays/", {"url": url}, format="json")
    assert answer.status_code == 400, answer.content
    assert "url" in answer.json()["errors"]
    assert not MevRelay.objects.exists()


def test_a_relay_on_an_allowed_network_and_once_per_farm(alpha, bravo, writer, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = ["10.0.0.0/8"]
    body = {"url": "http://10.0.0.5:18550", "name": "lan relay"}
    assert writer.post("/api/v1/mev-relays/", body, format="json").status_code == 201
    again = writer.post("/api/v1/mev-relays/", body, format="json")
    assert again.status_code == 400
    assert again.json()["errors"] == {"url": ["This farm already has this relay."]}
    MevRelayFactory(farm=bravo.farm, url="http://10.0.0.5:18550")
    assert MevRelay.objects.filter(farm=alpha.farm).count() == 1


def test_relays_are_read_with_a_read_token_and_only_the_callers(alpha, bravo):
    ours = MevRelayFactory(farm=alpha.farm, name="ours")
    theirs = MevRelayFactory(farm=bravo.farm, name="theirs")
    reader = _token_client(alpha, "read")
    assert [r["name"] for r in reader.get("/api/v1/mev-relays/").json()["results"]] == ["ours"]
    assert reader.get(f"/api/v1/mev-relays/{ours.pk}/").json()["url"] == ours.url
    assert reader.get(f"/api/v1/mev-relays/{theirs.pk}/").status_code == 404


# -- filters and ordering --------------------------------------------------------------------


def _ids(client, path):
    answer = client.get(path)
    assert answer.status_code == 200, answer.content
    return [row["id"] for row in answer.json()["results"]]


def test_validators_are_ordered_by_an_allowed_field_and_pages_are_stable(alpha):
    reader = _token_client(alpha, "read")
    a = ValidatorFactory(farm=alpha.farm, index=3, balance=32_000_000_000, status="active_ongoing")
    b = ValidatorFactory(farm=alpha.farm, index=1, balance=31_000_000_000, status="active_ongoing")
    c = ValidatorFactory(farm=alpha.farm, index=2, balance=None, status="pending_queued")
    assert _ids(reader, "/api/v1/validators/") == [a.pk, b.pk, c.pk]  # the default: id
    assert _ids(reader, "/api/v1/validators/?ordering=index") == [b.pk, c.pk, a.pk]
    assert _ids(reader, "/api/v1/validators/?ordering=-index") == [a.pk, c.pk, b.pk]
    # Ties broken by id, so a page never repeats or loses a validator.
    assert _ids(reader, "/api/v1/validators/?ordering=status") == [a.pk, b.pk, c.pk]
    assert _ids(reader, "/api/v1/validators/?ordering=status&page_size=1&page=2") == [b.pk]
    assert _ids(reader, "/api/v1/validators/?ordering=-balance,index&status=active_ongoing") == [
        a.pk,
        b.pk,
    ]


@pytest.mark.parametrize(
    "ordering", ["pubkey__foo", "farm__name", "withdrawal_credentials", "figures", "-", ",", "?"]
)
def test_an_unknown_ordering_is_ignored(alpha, ordering):
    reader = _token_client(alpha, "read")
    a, b = ValidatorFactory(farm=alpha.farm, index=9), ValidatorFactory(farm=alpha.farm, index=8)
    group = ValidatorGroupFactory(farm=alpha.farm)
    for path in (
        "/api/v1/validators/",
        "/api/v1/validator-groups/",
        "/api/v1/beacon-nodes/",
        "/api/v1/mev-relays/",
    ):
        answer = reader.get(path, {"ordering": ordering})
        assert answer.status_code == 200, (path, answer.content)
    assert _ids(reader, f"/api/v1/validators/?ordering={ordering}") == [a.pk, b.pk]
    assert _ids(reader, f"/api/v1/validator-groups/?ordering={ordering}") == [group.pk]


def test_groups_nodes_and_relays_filter_by_farm_and_order(alpha, bravo):
    MembershipFactory(farm=bravo.farm, user=alpha.owner, role=Membership.Role.VIEWER)
    session = _session(alpha.owner)  # a member of both farms
    small = ValidatorGroupFactory(farm=alpha.farm, name="z-small")
    big = ValidatorGroupFactory(farm=alpha.farm, name="a-big")
    ValidatorFactory.create_batch(2, farm=alpha.farm, group=big)
    ValidatorFactory(farm=alpha.farm, group=small)
    theirs = ValidatorGroupFactory(farm=bravo.farm, name="m-theirs")
    groups = "/api/v1/validator-groups/"
    assert _ids(session, groups) == [small.pk, big.pk, theirs.pk]
    assert _ids(session, f"{groups}?farm={alpha.farm.pk}") == [small.pk, big.pk]
    assert _ids(session, f"{groups}?ordering=name") == [big.pk, theirs.pk, small.pk]
    assert _ids(session, f"{groups}?ordering=-validators") == [big.pk, small.pk, theirs.pk]
    assert session.get(f"{groups}?farm=x").status_code == 400
    first = BeaconNodeFactory(farm=alpha.farm, name="b", priority=1)
    second = BeaconNodeFactory(farm=alpha.farm, name="a", priority=0)
    other = BeaconNodeFactory(farm=bravo.farm, name="c", priority=2)
    nodes = "/api/v1/beacon-nodes/"
    assert _ids(session, nodes) == [first.pk, second.pk, other.pk]
    assert _ids(session, f"{nodes}?ordering=priority") == [second.pk, first.pk, other.pk]
    assert _ids(session, f"{nodes}?farm={bravo.farm.pk}&ordering=name") == [other.pk]
    r1 = MevRelayFactory(farm=alpha.farm, name="y")
    r2 = MevRelayFactory(farm=alpha.farm, name="x")
    relays = "/api/v1/mev-relays/"
    assert _ids(session, f"{relays}?ordering=name") == [r2.pk, r1.pk]
    assert _ids(session, f"{relays}?farm={bravo.farm.pk}") == []


def test_a_validators_own_lists_keep_their_order_whatever_ordering_says(alpha):
    reader = _token_client(alpha, "read")
    validator = ValidatorFactory(farm=alpha.farm)
    older, newer = (ValidatorDayFactory(validator=validator) for _ in range(2))
    ValidatorEpochFactory(validator=validator, epoch=10, flags=1)
    ProposalFactory(validator=validator, epoch=10, slot=320)
    for action in ("days", "epochs", "proposals"):
        for query in ("ordering=index", "ordering=-id", "status=nope&group=x"):
            answer = reader.get(f"/api/v1/validators/{validator.pk}/{action}/?{query}")
            assert answer.status_code == 200, (action, query, answer.content)
    days = reader.get(f"/api/v1/validators/{validator.pk}/days/?ordering=day").json()["results"]
    assert [d["day"] for d in days] == [newer.day.isoformat(), older.day.isoformat()]
