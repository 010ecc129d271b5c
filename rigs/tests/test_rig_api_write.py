"""POST and PATCH /api/v1/rigs/ and POST /api/v1/rigs/test-connection/: a write token of the farm
(or an owner or manager) adds and changes rigs; a read token is 403, another farm's rig 404; bad
input is 400 and saves nothing; the miner's API password never appears in an answer."""

import socket

import pytest
from rest_framework.test import APIClient

from rigs.models import Rig
from simulators import miners_http, miners_tcp
from simulators.rig_agent import SimulatedRig
from tests.factories import logged_in
from tests.loops import loop_thread

SECRET = "psw-never-shown"


@pytest.fixture
def phoenix():
    """A PhoenixMiner (Claymore API) with an API password, on loopback."""
    with loop_thread() as threaded:
        rig = SimulatedRig("api-phoenix", 4, model="rx6800")
        server = threaded.close_on_exit(
            threaded.run(miners_tcp.start_server("claymore", rig, password=SECRET))
        )
        yield server.sockets[0].getsockname()[1]


def client_with(token):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


@pytest.fixture
def writer(alpha):
    return client_with(alpha.token("write"))


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_post_adds_a_polled_rig_tried_first(writer, alpha, phoenix):
    body = {"name": "phoenix-2", "protocol": "claymore", "host": "127.0.0.1", "port": phoenix,
            "api_password": SECRET, "cadence_s": 15}  # fmt: skip
    response = writer.post("/api/v1/rigs/", body, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert SECRET not in response.content.decode()
    assert "api_password" not in data and data["has_api_password"] is True
    assert (data["farm"], data["name"], data["host"], data["port"]) == (
        alpha.farm.pk,
        "phoenix-2",
        "127.0.0.1",
        phoenix,
    )
    connection = data["connection"]
    assert connection["ok"] is True and connection["error_kind"] == ""
    assert len(connection["devices"]) == 4
    assert connection["hashrate_hs"] > 1e6
    rig = Rig.objects.get(pk=data["id"])
    assert (rig.api_password, rig.cadence_s, rig.next_poll_at) == (SECRET, 15, None)


def test_post_saves_an_unreachable_rig_with_the_error(writer, alpha):
    port = closed_port()
    body = {"name": "later", "protocol": "trex", "host": "127.0.0.1", "port": port}
    response = writer.post("/api/v1/rigs/", body, format="json")
    assert response.status_code == 201
    assert response.json()["connection"]["ok"] is False
    assert response.json()["connection"]["error_kind"] == "refused"
    assert Rig.objects.filter(farm=alpha.farm, name="later").exists()


def test_post_a_push_only_rig(writer, alpha):
    response = writer.post("/api/v1/rigs/", {"name": "pushed"}, format="json")
    assert response.status_code == 201
    assert response.json()["connection"] is None
    assert Rig.objects.get(farm=alpha.farm, name="pushed").protocol == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "protocol": "trex", "host": "not a host!!"}, "host"),
        ({"name": "x", "protocol": "trex", "host": "10.0.0.5", "port": 70000}, "port"),
        ({"name": "x", "protocol": "trex", "host": "10.0.0.5", "port": 0}, "port"),
        ({"name": "x", "protocol": "trex"}, "host"),
        ({"name": "x", "protocol": "nope", "host": "10.0.0.5"}, "protocol"),
        ({"name": "x", "cadence_s": 1}, "cadence_s"),
        ({"name": "alpha-rig-1"}, "name"),
        ({}, "name"),
    ],
)
def test_bad_input_is_400_and_saves_nothing(writer, alpha, body, field):
    before = Rig.objects.count()
    response = writer.post("/api/v1/rigs/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert Rig.objects.count() == before


def test_read_and_telemetry_tokens_are_403(alpha):
    for scope in ("read", "telemetry"):
        api = client_with(alpha.token(scope))
        assert api.post("/api/v1/rigs/", {"name": "x"}, format="json").status_code == 403
        response = api.patch(f"/api/v1/rigs/{alpha.rig.pk}/", {"name": "x"}, format="json")
        assert response.status_code == 403
        body = {"protocol": "trex", "host": "127.0.0.1"}
        assert api.post("/api/v1/rigs/test-connection/", body, format="json").status_code == 403
    assert Rig.objects.get(pk=alpha.rig.pk).name == "alpha-rig-1"
    assert not Rig.objects.filter(name="x").exists()


def test_another_farm_is_404(writer, alpha, bravo):
    response = writer.patch(f"/api/v1/rigs/{bravo.rig.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 404
    response = writer.post("/api/v1/rigs/", {"name": "x", "farm": bravo.farm.pk}, format="json")
    assert response.status_code == 404
    body = {"protocol": "trex", "host": "127.0.0.1", "rig": bravo.rig.pk}
    assert writer.post("/api/v1/rigs/test-connection/", body, format="json").status_code == 404
    assert Rig.objects.get(pk=bravo.rig.pk).name == bravo.rig.name
    assert not Rig.objects.filter(name="x").exists()


def test_patch_changes_and_keeps_an_omitted_password(writer, alpha):
    rig = alpha.rig
    Rig.objects.filter(pk=rig.pk).update(protocol="trex", host="10.0.0.5", api_password=SECRET)
    response = writer.patch(f"/api/v1/rigs/{rig.pk}/", {"name": "renamed"}, format="json")
    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    assert response.json()["connection"] is None  # the address did not change: no poll
    rig.refresh_from_db()
    assert (rig.name, rig.api_password) == ("renamed", SECRET)


def test_patch_a_new_address_is_tried_and_due(writer, alpha, phoenix):
    rig = alpha.rig
    Rig.objects.filter(pk=rig.pk).update(next_poll_at="2026-01-01T00:00Z")
    body = {"protocol": "claymore", "host": "127.0.0.1", "port": phoenix, "api_password": SECRET}
    response = writer.patch(f"/api/v1/rigs/{rig.pk}/", body, format="json")
    assert response.status_code == 200
    assert response.json()["connection"]["ok"] is True
    assert SECRET not in response.content.decode()
    assert Rig.objects.get(pk=rig.pk).next_poll_at is None


def test_patch_an_empty_password_removes_it(writer, alpha):
    Rig.objects.filter(pk=alpha.rig.pk).update(api_password=SECRET)
    response = writer.patch(f"/api/v1/rigs/{alpha.rig.pk}/", {"api_password": ""}, format="json")
    assert response.status_code == 200
    assert response.json()["has_api_password"] is False
    assert Rig.objects.get(pk=alpha.rig.pk).api_password == ""


def test_patch_refuses_bad_input_and_another_farm(writer, alpha, bravo):
    other = Rig.objects.create(farm=alpha.farm, name="other")
    url = f"/api/v1/rigs/{other.pk}/"
    assert writer.patch(url, {"name": "alpha-rig-1"}, format="json").status_code == 400
    assert writer.patch(url, {"port": 99999}, format="json").status_code == 400
    assert writer.patch(url, {"farm": bravo.farm.pk}, format="json").status_code == 400
    assert Rig.objects.get(pk=other.pk).farm_id == alpha.farm.pk
    assert writer.put(url, {"name": "x"}, format="json").status_code == 405


def test_no_answer_ever_shows_a_password(alpha, owner_client):
    Rig.objects.filter(pk=alpha.rig.pk).update(api_password=SECRET)
    reader = client_with(alpha.token("read"))
    for url in ("/api/v1/rigs/", f"/api/v1/rigs/{alpha.rig.pk}/"):
        assert SECRET not in reader.get(url).content.decode()
        assert SECRET not in owner_client.get(url).content.decode()


def test_an_owner_logged_in_writes_a_viewer_does_not(alpha):
    owner = logged_in(alpha.owner)
    response = owner.post("/api/v1/rigs/", {"name": "by-owner"}, content_type="application/json")
    assert response.status_code == 201
    viewer = logged_in(alpha.viewer)
    response = viewer.post("/api/v1/rigs/", {"name": "by-viewer"}, content_type="application/json")
    assert response.status_code == 403


def test_test_connection_reports_what_the_miner_says(writer, phoenix):
    body = {"protocol": "claymore", "host": "127.0.0.1", "port": phoenix, "api_password": SECRET}
    response = writer.post("/api/v1/rigs/test-connection/", body, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is True and data["miner"]
    assert [d["index"] for d in data["devices"]] == [0, 1, 2, 3]
    assert [d["kind"] for d in data["devices"]] == ["gpu"] * 4
    assert all(d["hashrate_hs"] > 1e6 for d in data["devices"])
    assert not Rig.objects.filter(port=phoenix).exists()  # nothing stored


def test_test_connection_gives_each_devices_kind(writer):
    with loop_thread() as threaded:
        rig = SimulatedRig("api-xmrig-cpu", 1, model="rtx3070")
        server = threaded.close_on_exit(
            threaded.run(miners_http.start_server("xmrig", rig, cpu_hashrate_hs=5000.0))
        )
        body = {
            "protocol": "xmrig",
            "host": "127.0.0.1",
            "port": server.sockets[0].getsockname()[1],
        }
        response = writer.post("/api/v1/rigs/test-connection/", body, format="json")
    assert response.status_code == 200
    assert [(d["index"], d["kind"]) for d in response.json()["devices"]] == [(0, "gpu"), (1, "cpu")]


def test_test_connection_uses_a_rigs_stored_password(writer, alpha, phoenix):
    Rig.objects.filter(pk=alpha.rig.pk).update(
        protocol="claymore", host="127.0.0.1", port=phoenix, api_password=SECRET
    )
    body = {"protocol": "claymore", "host": "127.0.0.1", "port": phoenix, "rig": alpha.rig.pk}
    assert writer.post("/api/v1/rigs/test-connection/", body, format="json").json()["ok"] is True
    # The stored password is only sent to the rig's own address.
    response = writer.post(
        "/api/v1/rigs/test-connection/", body | {"host": "127.0.0.2"}, format="json"
    )
    assert response.status_code == 400
    assert "enter its password again" in response.json()["errors"]["api_password"][0]


def test_patch_to_a_new_address_needs_the_password_again(writer, alpha):
    Rig.objects.filter(pk=alpha.rig.pk).update(
        protocol="trex", host="10.0.0.5", api_password=SECRET
    )
    response = writer.patch(f"/api/v1/rigs/{alpha.rig.pk}/", {"host": "10.0.0.99"}, format="json")
    assert response.status_code == 400
    assert "api_password" in response.json()["errors"]
    assert Rig.objects.get(pk=alpha.rig.pk).host == "10.0.0.5"
    response = writer.patch(
        f"/api/v1/rigs/{alpha.rig.pk}/", {"host": "10.0.0.99", "api_password": ""}, format="json"
    )
    assert response.status_code == 200
    assert Rig.objects.get(pk=alpha.rig.pk).api_password == ""


def test_test_connection_errors(writer):
    port = closed_port()
    body = {"protocol": "trex", "host": "127.0.0.1", "port": port}
    data = writer.post("/api/v1/rigs/test-connection/", body, format="json").json()
    assert (data["ok"], data["error_kind"]) == (False, "refused")
    bad = writer.post(
        "/api/v1/rigs/test-connection/", {"protocol": "trex", "host": "a b"}, format="json"
    )
    assert bad.status_code == 400 and "host" in bad.json()["errors"]


def test_the_schema_describes_the_new_endpoints(owner_client):
    schema = owner_client.get("/api/schema/", {"format": "json"}).json()
    rigs = schema["paths"]["/api/v1/rigs/"]
    assert "post" in rigs
    request = rigs["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert request["$ref"].endswith("/RigWriteRequest")
    assert "patch" in schema["paths"]["/api/v1/rigs/{id}/"]
    assert "put" not in schema["paths"]["/api/v1/rigs/{id}/"]
    test = schema["paths"]["/api/v1/rigs/test-connection/"]["post"]
    assert test["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ConnectionTrial"
    )
    components = schema["components"]["schemas"]
    write = components["RigWriteRequest"]["properties"]
    assert write["api_password"]["writeOnly"] is True
    assert "host" in write and "port" in write
    assert "api_password" not in components["Rig"]["properties"]
    assert "api_password" not in components["RigSaved"]["properties"]
    assert "connection" in components["RigSaved"]["properties"]


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    from django.core.management import call_command

    # --validate checks the document against the OpenAPI 3 meta-schema; --fail-on-warn refuses
    # what drf-spectacular had to guess, such as a hashed enum name.
    call_command("spectacular", "--validate", "--fail-on-warn", file=str(tmp_path / "s.yaml"))
    assert "/api/v1/rigs/test-connection/" in (tmp_path / "s.yaml").read_text()
