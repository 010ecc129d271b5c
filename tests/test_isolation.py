"""Another farm's user or token gets 404 for every page and endpoint that shows a farm's object.

Every page or endpoint that takes an object of a farm is listed in FARM_OBJECT_URLS; a new one is
added here, so the check is never forgotten.
"""

import pytest

from tests.factories import sample_batch
from validators.models import Validator, ValidatorGroup


def _validator(w):
    """The farm's validator, in a group, made on first use (make_farm builds none)."""
    group, _ = ValidatorGroup.objects.get_or_create(farm=w.farm, name="isolation")
    validator, _ = Validator.objects.get_or_create(farm=w.farm, index=7, defaults={"group": group})
    return validator


def _beacon_node(w):
    from validators.models import BeaconNode

    node, _ = BeaconNode.objects.get_or_create(farm=w.farm, name="isolation", url="http://n:5052")
    return node


def _mev_relay(w):
    from validators.models import MevRelay

    relay, _ = MevRelay.objects.get_or_create(farm=w.farm, name="isolation", url="https://r.x")
    return relay


FARM_OBJECT_URLS = {
    "rig page": lambda w: f"/rigs/{w.rig.pk}/",
    "farm settings page": lambda w: f"/accounts/farms/{w.farm.pk}/",
    "pool account page": lambda w: f"/pools/{w.pool_account.pk}/",
    "pool account api": lambda w: f"/api/v1/pool-accounts/{w.pool_account.pk}/",
    "pool account payouts api": lambda w: f"/api/v1/pool-accounts/{w.pool_account.pk}/payouts/",
    "pool account samples api": lambda w: f"/api/v1/pool-accounts/{w.pool_account.pk}/samples/",
    "rig pool series api": lambda w: f"/api/v1/pool-workers/series/?rig={w.rig.pk}",
    "rig api": lambda w: f"/api/v1/rigs/{w.rig.pk}/",
    "rig samples api": lambda w: f"/api/v1/rigs/{w.rig.pk}/samples/",
    "rig telemetry api": lambda w: f"/api/v1/rigs/{w.rig.pk}/telemetry/",
    "rig series api": lambda w: f"/api/v1/rigs/{w.rig.pk}/series/",
    "gpu page": lambda w: f"/rigs/gpus/{w.gpus[0].pk}/",
    "gpu api": lambda w: f"/api/v1/gpus/{w.gpus[0].pk}/",
    "gpu series api": lambda w: f"/api/v1/gpus/{w.gpus[0].pk}/series/",
    "validator page": lambda w: f"/validators/{_validator(w).pk}/",
    "validator income csv": lambda w: f"/validators/{_validator(w).pk}/income.csv",
    "validator group page": lambda w: f"/validators/groups/{_validator(w).group_id}/",
    "validator group income csv": lambda w: (
        f"/validators/groups/{_validator(w).group_id}/income.csv"
    ),
    "validator api": lambda w: f"/api/v1/validators/{_validator(w).pk}/",
    "validator days api": lambda w: f"/api/v1/validators/{_validator(w).pk}/days/",
    "validator epochs api": lambda w: f"/api/v1/validators/{_validator(w).pk}/epochs/",
    "validator proposals api": lambda w: f"/api/v1/validators/{_validator(w).pk}/proposals/",
    "validator group api": lambda w: f"/api/v1/validator-groups/{_validator(w).group_id}/",
    "beacon nodes page of a farm": lambda w: f"/validators/nodes/?farm={w.farm.pk}",
    "beacon node delete page": lambda w: f"/validators/nodes/{_beacon_node(w).pk}/delete/",
    "mev relay delete page": lambda w: f"/validators/relays/{_mev_relay(w).pk}/delete/",
    "beacon node api": lambda w: f"/api/v1/beacon-nodes/{_beacon_node(w).pk}/",
}
POST_ONLY = {"rig telemetry api"}


@pytest.mark.parametrize("name", list(FARM_OBJECT_URLS))
def test_another_farms_user_gets_404(alpha, intruder_client, name):
    target = FARM_OBJECT_URLS[name](alpha)
    if name in POST_ONLY:
        response = intruder_client.post(target, sample_batch(), content_type="application/json")
    else:
        response = intruder_client.get(target)
    assert response.status_code == 404


@pytest.mark.parametrize("name", [name for name in FARM_OBJECT_URLS if " api" in name])
def test_another_farms_token_gets_404(api, alpha, bravo, name):
    target = FARM_OBJECT_URLS[name](alpha)
    token = bravo.token("read", "write", "telemetry")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    if name in POST_ONLY:
        response = api.post(target, sample_batch(), format="json")
    else:
        response = api.get(target)
    assert response.status_code == 404


def test_lists_show_only_own_farms_rigs(api, alpha, bravo, intruder_client):
    assert alpha.rig.name not in intruder_client.get("/rigs/").content.decode()
    assert alpha.rig.name not in intruder_client.get("/").content.decode()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bravo.token('read')}")
    names = [rig["name"] for rig in api.get("/api/v1/rigs/").json()["results"]]
    assert names == [bravo.rig.name]
    gpu_rigs = {gpu["rig"] for gpu in api.get("/api/v1/gpus/").json()["results"]}
    assert gpu_rigs == {bravo.rig.pk}
    assert alpha.rig.name not in intruder_client.get("/rigs/gpus/").content.decode()
    assert alpha.pool_account.login not in intruder_client.get("/pools/").content.decode()
    logins = [a["login"] for a in api.get("/api/v1/pool-accounts/").json()["results"]]
    assert logins == [bravo.pool_account.login]
