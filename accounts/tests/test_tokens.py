import pytest

from accounts.models import ApiToken, hash_token


def test_token_is_stored_hashed_and_shown_once(alpha):
    token, raw = ApiToken.issue(farm=alpha.farm, name="agent", scopes=["telemetry"])

    assert raw.startswith("edt_") and len(raw) > 40
    assert token.key_hash == hash_token(raw) != raw
    assert raw not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.prefix == raw[:12]


@pytest.mark.parametrize("scopes", [[], ["admin"], ["read", "everything"]])
def test_token_scopes_are_checked(alpha, scopes):
    with pytest.raises(ValueError):
        ApiToken.issue(farm=alpha.farm, name="x", scopes=scopes)


def test_token_page_creates_token_and_shows_it_once(owner_client, alpha):
    response = owner_client.post(
        "/accounts/tokens/", {"farm": alpha.farm.pk, "name": "grafana", "scopes": ["read"]}
    )

    assert response.status_code == 200
    raw = response.context["new_token"]
    assert ApiToken.objects.get(name="grafana").key_hash == hash_token(raw)
    assert raw not in owner_client.get("/accounts/tokens/").content.decode()


def test_viewer_cannot_create_or_revoke_tokens(alpha):
    from tests.factories import logged_in

    token, _ = ApiToken.issue(farm=alpha.farm, name="agent", scopes=["telemetry"])
    client = logged_in(alpha.viewer)

    client.post("/accounts/tokens/", {"farm": alpha.farm.pk, "name": "x", "scopes": ["read"]})
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["agent"]


def test_owner_revokes_token(owner_client, alpha, api):
    token, raw = ApiToken.issue(farm=alpha.farm, name="agent", scopes=["read"])

    owner_client.post(f"/accounts/tokens/{token.pk}/revoke/")

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/rigs/").status_code == 401


def test_another_farms_owner_cannot_revoke(intruder_client, alpha):
    token, _ = ApiToken.issue(farm=alpha.farm, name="agent", scopes=["read"])
    assert intruder_client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_telemetry_token_cannot_read(api, alpha):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}")
    assert api.get("/api/v1/rigs/").status_code == 403


def test_owner_sets_the_farms_electricity_price(owner_client, alpha):
    from decimal import Decimal

    response = owner_client.post(
        f"/accounts/farms/{alpha.farm.pk}/",
        {"electricity_price_per_kwh": "0.215", "currency": "EUR"},
    )

    assert response.status_code == 302
    alpha.farm.refresh_from_db()
    assert (alpha.farm.electricity_price_per_kwh, alpha.farm.currency) == (Decimal("0.215"), "EUR")


def test_viewers_and_other_farms_get_404_for_farm_settings(alpha, intruder_client):
    from tests.factories import logged_in

    assert logged_in(alpha.viewer).get(f"/accounts/farms/{alpha.farm.pk}/").status_code == 404
    assert intruder_client.get(f"/accounts/farms/{alpha.farm.pk}/").status_code == 404
