"""/api/v1/farms/, /api/v1/memberships/ and /api/v1/tokens/: who may read and change what, bad
input refused without a change, a farm never without an owner, and no token ever shown."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, Membership
from tests.factories import MembershipFactory

ANONYMOUS = (401, 403)


@pytest.fixture
def people(alpha, bravo):
    """A client for every kind of caller, against Alpha's objects."""
    manager = MembershipFactory(
        farm=alpha.farm, user__username="alpha-manager", role=Membership.Role.MANAGER
    ).user

    def session(user):
        client = APIClient()
        client.force_login(user)
        return client

    def bearer(raw):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return {
        "owner": session(alpha.owner),
        "manager": session(manager),
        "viewer": session(alpha.viewer),
        "read_token": bearer(alpha.token("read")),
        "write_token": bearer(alpha.token("read", "write")),
        "other_owner": session(bravo.owner),
        "other_token": bearer(bravo.token("read", "write")),
        "anonymous": APIClient(),
    }


def _membership(world, user):
    return Membership.objects.get(farm=world.farm, user=user)


# farms


FARM_PATCH = {"currency": "EUR", "electricity_price_per_kwh": "0.2150"}


@pytest.mark.parametrize(
    ("who", "role", "scopes", "can_write"),
    [
        ("owner", "owner", None, True),
        ("manager", "manager", None, True),
        ("viewer", "viewer", None, False),
        ("read_token", None, ["read"], False),
        ("write_token", None, ["read", "write"], True),
    ],
)
def test_farm_list_shows_the_callers_farm_and_access(people, alpha, who, role, scopes, can_write):
    alpha.farm.electricity_price_per_kwh = Decimal("0.1")
    alpha.farm.save()

    answer = people[who].get("/api/v1/farms/")

    assert answer.status_code == 200
    [farm] = answer.json()["results"]
    assert farm["id"] == alpha.farm.pk
    assert (farm["name"], farm["currency"], farm["electricity_price_per_kwh"]) == (
        "Alpha",
        "USD",
        "0.1000",
    )
    assert (farm["role"], farm["scopes"], farm["can_write"]) == (role, scopes, can_write)
    assert farm["created_at"]


def test_farm_list_of_a_member_of_two_farms_is_ordered_by_name(people, alpha, bravo):
    MembershipFactory(farm=bravo.farm, user=alpha.owner, role=Membership.Role.VIEWER)

    names = [f["name"] for f in people["owner"].get("/api/v1/farms/").json()["results"]]
    newest_first = people["owner"].get("/api/v1/farms/?ordering=-name").json()["results"]

    assert names == ["Alpha", "Bravo"]
    assert [f["name"] for f in newest_first] == ["Bravo", "Alpha"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("owner", 200),
        ("viewer", 200),
        ("read_token", 200),
        ("other_owner", 404),
        ("other_token", 404),
        ("anonymous", ANONYMOUS),
    ],
)
def test_farm_detail(people, alpha, who, status):
    answer = people[who].get(f"/api/v1/farms/{alpha.farm.pk}/")

    assert answer.status_code in (status if isinstance(status, tuple) else (status,))


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("owner", 200),
        ("manager", 200),
        ("write_token", 200),
        ("viewer", 403),
        ("read_token", 403),
        ("other_owner", 404),
        ("other_token", 404),
        ("anonymous", ANONYMOUS),
    ],
)
def test_farm_settings_change_needs_write_access(people, alpha, who, status):
    answer = people[who].patch(f"/api/v1/farms/{alpha.farm.pk}/", FARM_PATCH, format="json")

    alpha.farm.refresh_from_db()
    assert answer.status_code in (status if isinstance(status, tuple) else (status,))
    changed = (alpha.farm.currency, alpha.farm.electricity_price_per_kwh)
    if status == 200:
        assert answer.json()["electricity_price_per_kwh"] == "0.2150"
        assert changed == ("EUR", Decimal("0.215"))
    else:
        assert changed == ("USD", None)


def test_read_only_caller_gets_403_even_for_bad_input(people, alpha):
    answer = people["viewer"].patch(
        f"/api/v1/farms/{alpha.farm.pk}/", {"currency": "XXXX"}, format="json"
    )

    assert answer.status_code == 403
    assert "write token" in answer.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"currency": "XXXX"},
        {"currency": "eur"},
        {"currency": ""},
        {"electricity_price_per_kwh": "-0.01"},
        {"electricity_price_per_kwh": "cheap"},
        {"electricity_price_per_kwh": "NaN"},
        {"electricity_price_per_kwh": "0.12345"},
        {"electricity_price_per_kwh": "100000"},
        {"currency": "EUR", "electricity_price_per_kwh": "-1"},
    ],
)
def test_bad_farm_settings_are_400_and_change_nothing(people, alpha, body):
    answer = people["owner"].patch(f"/api/v1/farms/{alpha.farm.pk}/", body, format="json")

    alpha.farm.refresh_from_db()
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert set(answer.json()["errors"]) <= set(body)
    assert (alpha.farm.currency, alpha.farm.electricity_price_per_kwh) == ("USD", None)


def test_the_settings_page_refuses_what_the_api_refuses(owner_client, alpha):
    response = owner_client.post(
        f"/accounts/farms/{alpha.farm.pk}/",
        {"electricity_price_per_kwh": "-1", "currency": "XXX"},
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"electricity_price_per_kwh"}
    alpha.farm.refresh_from_db()
    assert alpha.farm.electricity_price_per_kwh is None


def test_price_can_be_cleared(people, alpha):
    alpha.farm.electricity_price_per_kwh = Decimal("0.1")
    alpha.farm.save()

    answer = people["owner"].patch(
        f"/api/v1/farms/{alpha.farm.pk}/", {"electricity_price_per_kwh": None}, format="json"
    )

    assert answer.status_code == 200
    alpha.farm.refresh_from_db()
    assert alpha.farm.electricity_price_per_kwh is None


def test_name_is_read_only(people, alpha):
    people["owner"].patch(f"/api/v1/farms/{alpha.farm.pk}/", {"name": "Renamed"}, format="json")

    alpha.farm.refresh_from_db()
    assert alpha.farm.name == "Alpha"


def test_farms_are_not_created_or_deleted_through_the_api(people, alpha):
    owner = people["owner"]

    assert owner.post("/api/v1/farms/", {"name": "New"}, format="json").status_code == 405
    assert owner.delete(f"/api/v1/farms/{alpha.farm.pk}/").status_code == 405
    assert people["write_token"].delete(f"/api/v1/farms/{alpha.farm.pk}/").status_code == 405


# memberships


@pytest.mark.parametrize(
    ("who", "usernames"),
    [
        ("owner", ["alpha-manager", "alpha-owner", "alpha-viewer"]),
        ("write_token", ["alpha-manager", "alpha-owner", "alpha-viewer"]),
        ("manager", ["alpha-manager"]),
        ("viewer", ["alpha-viewer"]),
        ("other_owner", ["bravo-owner", "bravo-viewer"]),
        ("other_token", ["bravo-owner", "bravo-viewer"]),
    ],
)
def test_membership_list(people, who, usernames):
    answer = people[who].get("/api/v1/memberships/")

    assert answer.status_code == 200
    assert [m["username"] for m in answer.json()["results"]] == usernames


@pytest.mark.parametrize(("who", "status"), [("read_token", 403), ("anonymous", ANONYMOUS)])
def test_membership_list_refused(people, who, status):
    answer = people[who].get("/api/v1/memberships/")

    assert answer.status_code in (status if isinstance(status, tuple) else (status,))


def test_membership_fields_filters_and_ordering(people, alpha):
    owner = people["owner"]

    [viewer] = owner.get("/api/v1/memberships/?role=viewer").json()["results"]
    by_name_desc = owner.get(f"/api/v1/memberships/?farm={alpha.farm.pk}&ordering=-username")

    assert viewer == {
        "id": _membership(alpha, alpha.viewer).pk,
        "farm": alpha.farm.pk,
        "username": "alpha-viewer",
        "role": "viewer",
        "created_at": viewer["created_at"],
    }
    assert [m["username"] for m in by_name_desc.json()["results"]] == [
        "alpha-viewer",
        "alpha-owner",
        "alpha-manager",
    ]
    for bad in ("role=god", "farm=1.5", "farm=-8.4e153", "farm=0"):
        assert owner.get(f"/api/v1/memberships/?{bad}").status_code == 400, bad


@pytest.mark.parametrize(
    ("who", "get", "patch", "delete"),
    [
        ("owner", 200, 200, 204),
        ("write_token", 200, 403, 403),
        ("read_token", 403, 403, 403),
        ("viewer", 200, 403, 403),  # its own membership
        ("manager", 404, 404, 404),
        ("other_owner", 404, 404, 404),
        ("other_token", 404, 404, 404),
        ("anonymous", ANONYMOUS, ANONYMOUS, ANONYMOUS),
    ],
)
def test_membership_detail_change_and_removal(people, alpha, who, get, patch, delete):
    client = people[who]
    url = f"/api/v1/memberships/{_membership(alpha, alpha.viewer).pk}/"

    def status_in(answer, expected):
        return answer.status_code in (expected if isinstance(expected, tuple) else (expected,))

    assert status_in(client.get(url), get)
    assert status_in(client.patch(url, {"role": "manager"}, format="json"), patch)
    role = Membership.objects.get(farm=alpha.farm, user=alpha.viewer).role
    assert role == ("manager" if patch == 200 else "viewer")
    assert status_in(client.delete(url), delete)
    still_member = Membership.objects.filter(farm=alpha.farm, user=alpha.viewer).exists()
    assert still_member is (delete != 204)


def test_token_refusal_says_why(people, alpha):
    url = f"/api/v1/memberships/{_membership(alpha, alpha.viewer).pk}/"

    answer = people["write_token"].patch(url, {"role": "owner"}, format="json")

    assert answer.status_code == 403
    assert "a token cannot change them" in answer.json()["detail"]


@pytest.mark.parametrize("role", ["god", "", None, "OWNER"])
def test_unknown_role_is_400_and_changes_nothing(people, alpha, role):
    url = f"/api/v1/memberships/{_membership(alpha, alpha.viewer).pk}/"

    answer = people["owner"].patch(url, {"role": role}, format="json")

    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["role"]
    assert _membership(alpha, alpha.viewer).role == "viewer"


def test_the_last_owner_can_be_neither_demoted_nor_removed(people, alpha):
    url = f"/api/v1/memberships/{_membership(alpha, alpha.owner).pk}/"
    owner = people["owner"]

    demoted = owner.patch(url, {"role": "viewer"}, format="json")
    removed = owner.delete(url)

    assert demoted.status_code == removed.status_code == 400
    assert demoted.json()["errors"] == {
        "role": ["A farm keeps at least one owner: make another member owner first."]
    }
    assert "at least one owner" in removed.json()["errors"]["non_field_errors"][0]
    assert _membership(alpha, alpha.owner).role == "owner"


def test_with_a_second_owner_the_first_may_step_down(people, alpha):
    owner = people["owner"]
    viewer_url = f"/api/v1/memberships/{_membership(alpha, alpha.viewer).pk}/"
    own_url = f"/api/v1/memberships/{_membership(alpha, alpha.owner).pk}/"

    assert owner.patch(viewer_url, {"role": "owner"}, format="json").status_code == 200
    assert owner.patch(own_url, {"role": "manager"}, format="json").status_code == 200

    # No longer an owner: it sees only its own membership and changes nothing.
    assert owner.get(viewer_url).status_code == 404
    assert owner.patch(own_url, {"role": "owner"}, format="json").status_code == 403
    assert _membership(alpha, alpha.owner).role == "manager"


def test_an_owner_removes_another_owner(people, alpha):
    second = MembershipFactory(farm=alpha.farm, role=Membership.Role.OWNER)

    answer = people["owner"].delete(f"/api/v1/memberships/{second.pk}/")

    assert answer.status_code == 204
    assert not Membership.objects.filter(pk=second.pk).exists()
    assert second.user.__class__.objects.filter(pk=second.user.pk).exists()


# tokens


@pytest.fixture
def alpha_token(alpha):
    return ApiToken.issue(farm=alpha.farm, name="grafana", scopes=["read"], created_by=alpha.owner)


@pytest.mark.parametrize(
    ("who", "status", "names"),
    [
        ("owner", 200, ["grafana", "read", "read-write"]),
        ("manager", 200, ["grafana", "read", "read-write"]),
        ("viewer", 200, []),
        ("other_owner", 200, ["read-write"]),
        ("read_token", 403, None),
        ("write_token", 403, None),
        ("other_token", 403, None),
        ("anonymous", ANONYMOUS, None),
    ],
)
def test_token_list(people, alpha_token, who, status, names):
    answer = people[who].get("/api/v1/tokens/")

    assert answer.status_code in (status if isinstance(status, tuple) else (status,))
    if names is not None:
        assert [t["name"] for t in answer.json()["results"]] == names
    if who.endswith("_token"):
        assert "a token cannot list, read or revoke tokens" in answer.json()["detail"]


def test_token_fields_filters_and_ordering(people, alpha, alpha_token):
    token, raw = alpha_token
    owner = people["owner"]

    [grafana] = owner.get("/api/v1/tokens/?ordering=-created_at").json()["results"][:1]
    writers = owner.get(f"/api/v1/tokens/?farm={alpha.farm.pk}&scope=write").json()["results"]
    newest_first = owner.get("/api/v1/tokens/?ordering=-name").json()["results"]

    assert grafana == {
        "id": token.pk,
        "farm": alpha.farm.pk,
        "name": "grafana",
        "prefix": raw[:12],
        "scopes": ["read"],
        "created_at": grafana["created_at"],
        "created_by": "alpha-owner",
        "last_used_at": None,
        "expires_at": None,
        "expired": False,
    }
    assert [t["name"] for t in writers] == ["read-write"]
    assert [t["name"] for t in newest_first] == ["read-write", "read", "grafana"]
    for bad in ("scope=admin", "farm=1.5", "farm=99999999999999999999"):
        assert owner.get(f"/api/v1/tokens/?{bad}").status_code == 400, bad


@pytest.mark.parametrize(
    ("who", "get", "delete"),
    [
        ("owner", 200, 204),
        ("manager", 200, 204),
        ("viewer", 404, 404),
        ("read_token", 403, 403),
        ("write_token", 403, 403),
        ("other_owner", 404, 404),
        ("other_token", 404, 404),
        ("anonymous", ANONYMOUS, ANONYMOUS),
    ],
)
def test_token_detail_and_revoke(people, alpha_token, who, get, delete):
    token, raw = alpha_token
    client, url = people[who], f"/api/v1/tokens/{token.pk}/"

    def status_in(answer, expected):
        return answer.status_code in (expected if isinstance(expected, tuple) else (expected,))

    assert status_in(client.get(url), get)
    assert status_in(client.delete(url), delete)
    revoked = not ApiToken.objects.filter(pk=token.pk).exists()
    assert revoked is (delete == 204)
    used = APIClient().get("/api/v1/farms/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert used.status_code == (401 if revoked else 200)


def test_tokens_are_created_in_the_browser_only(people, alpha):
    body = {"farm": alpha.farm.pk, "name": "new", "scopes": ["read"]}

    for who in ("owner", "write_token"):
        answer = people[who].post("/api/v1/tokens/", body, format="json")
        assert answer.status_code == 405
        assert "created in the browser" in answer.json()["detail"]
    assert not ApiToken.objects.filter(name="new").exists()


def test_no_answer_carries_a_token_or_its_hash(people, alpha, alpha_token):
    tokens = list(ApiToken.objects.all())
    secrets = {t.key_hash for t in tokens} | {alpha_token[1]}
    urls = ["/api/v1/farms/", "/api/v1/memberships/", "/api/v1/tokens/"]
    urls += [f"/api/v1/tokens/{t.pk}/" for t in tokens]
    urls += [f"/api/v1/farms/{alpha.farm.pk}/"]

    for client in people.values():
        for url in urls:
            body = client.get(url).content.decode()
            assert not any(secret in body for secret in secrets), url
            assert not any(secret[12:20] in body for secret in secrets if secret.startswith("edt_"))
