"""/api/v1/ lists every app's endpoints, though each app includes its own router by string."""


def test_api_root_links_every_apps_list_endpoints(owner_client):
    answer = owner_client.get("/api/v1/", HTTP_ACCEPT="application/json")
    assert answer.status_code == 200
    assert answer.json() == {
        "rigs": "http://testserver/api/v1/rigs/",
        "gpus": "http://testserver/api/v1/gpus/",
        "pool-accounts": "http://testserver/api/v1/pool-accounts/",
        "pools": "http://testserver/api/v1/pools/",
        "known-pools": "http://testserver/api/v1/known-pools/",
        "validators": "http://testserver/api/v1/validators/",
        "validator-groups": "http://testserver/api/v1/validator-groups/",
        "beacon-nodes": "http://testserver/api/v1/beacon-nodes/",
        "mev-relays": "http://testserver/api/v1/mev-relays/",
        "alerts": "http://testserver/api/v1/alerts/",
        "alert-rules": "http://testserver/api/v1/alert-rules/",
        "notification-channels": "http://testserver/api/v1/notification-channels/",
        "farms": "http://testserver/api/v1/farms/",
        "memberships": "http://testserver/api/v1/memberships/",
        "tokens": "http://testserver/api/v1/tokens/",
    }


def test_api_root_needs_a_login(client):
    assert client.get("/api/v1/", HTTP_ACCEPT="application/json").status_code in (401, 403)
