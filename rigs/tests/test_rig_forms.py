"""Adding and editing rigs on the pages (/rigs/add/, /rigs/<id>/edit/) and in the admin: what is
saved, what is refused with a form error (and saves nothing), and that a miner's API password is
never rendered back."""

import socket

import pytest
from django.contrib.auth import get_user_model

from rigs.models import Rig
from simulators import miners_http
from simulators.rig_agent import SimulatedRig
from tests.factories import logged_in
from tests.loops import loop_thread

SECRET = "hunter2-miner-psw"


@pytest.fixture
def trex():
    with loop_thread() as threaded:
        rig = SimulatedRig("form-trex", 3, model="rtx3080")
        server = threaded.close_on_exit(threaded.run(miners_http.start_server("trex", rig)))
        yield server.sockets[0].getsockname()[1]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def form_data(farm, **changes):
    data = {"farm": farm.pk, "name": "rig-new", "protocol": "trex", "host": "127.0.0.1",
            "port": "4067", "api_password": "", "cadence_s": "30"}  # fmt: skip
    return data | changes


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_owner_adds_a_polled_rig_that_answers(alpha, owner_client, trex):
    response = owner_client.post("/rigs/add/", form_data(alpha.farm, port=str(trex)), follow=True)
    rig = Rig.objects.get(farm=alpha.farm, name="rig-new")
    assert response.redirect_chain[-1][0] == f"/rigs/{rig.pk}/"
    assert (rig.protocol, rig.host, rig.port, rig.cadence_s) == ("trex", "127.0.0.1", trex, 30)
    assert rig.next_poll_at is None  # due at once
    [message] = messages_of(response)
    assert "answered with 3 devices" in message


def test_an_unreachable_rig_is_saved_and_its_page_shows_the_warning(alpha, owner_client):
    port = closed_port()
    response = owner_client.post("/rigs/add/", form_data(alpha.farm, port=str(port)), follow=True)
    rig = Rig.objects.get(farm=alpha.farm, name="rig-new")
    assert response.redirect_chain[-1][0] == f"/rigs/{rig.pk}/"
    [message] = messages_of(response)
    assert "did not answer" in message and "(refused)" in message
    assert "did not answer" in response.content.decode()
    assert 'class="warning"' in response.content.decode()


def test_a_push_only_rig_needs_no_address(alpha, owner_client):
    data = form_data(alpha.farm, protocol="", host="", port="")
    response = owner_client.post("/rigs/add/", data, follow=True)
    rig = Rig.objects.get(farm=alpha.farm, name="rig-new")
    assert (rig.protocol, rig.host, rig.port) == ("", "", None)
    assert messages_of(response) == ["Rig rig-new added."]


def test_the_password_is_stored_and_never_rendered_back(alpha, owner_client):
    owner_client.post(
        "/rigs/add/", form_data(alpha.farm, api_password=SECRET, port=str(closed_port()))
    )
    rig = Rig.objects.get(farm=alpha.farm, name="rig-new")
    assert rig.api_password == SECRET
    page = owner_client.get(f"/rigs/{rig.pk}/edit/").content.decode()
    assert SECRET not in page
    assert 'type="password"' in page
    assert "leave blank to keep it" in page


def test_editing_with_a_blank_password_keeps_the_stored_one(alpha, owner_client):
    rig = alpha.rig
    Rig.objects.filter(pk=rig.pk).update(protocol="trex", host="10.0.0.5", api_password=SECRET)
    data = form_data(alpha.farm, name="renamed", host="10.0.0.5", port="")
    data.pop("farm")
    response = owner_client.post(f"/rigs/{rig.pk}/edit/", data)
    assert response.status_code == 302
    rig.refresh_from_db()
    assert (rig.name, rig.api_password) == ("renamed", SECRET)


def test_the_box_removes_the_stored_password(alpha, owner_client, settings):
    settings.ETHDASH_OUTBOUND_ALLOW = []  # the trial made on the change fails at once
    rig = alpha.rig
    Rig.objects.filter(pk=rig.pk).update(protocol="trex", host="10.0.0.5", api_password=SECRET)
    data = form_data(alpha.farm, name=rig.name, host="10.0.0.5", port="", clear_api_password="on")
    response = owner_client.post(f"/rigs/{rig.pk}/edit/", data)
    assert response.status_code == 302
    rig.refresh_from_db()
    assert rig.api_password == ""


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"host": "not a host!!"}, "host", "is not a host name or an IP address"),
        ({"port": "99999"}, "port", "Not a valid port"),
        ({"port": "0"}, "port", "Not a valid port"),
        ({"host": ""}, "host", "A polled rig needs the miner API's host"),
        ({"cadence_s": "0"}, "cadence_s", "greater than or equal to 5"),
        ({"protocol": "cgminer-9000"}, "protocol", "not one of the available choices"),
    ],
)
def test_bad_input_is_a_form_error_and_saves_nothing(alpha, owner_client, change, field, message):
    response = owner_client.post("/rigs/add/", form_data(alpha.farm, **change))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field]), errors
    assert not Rig.objects.filter(name="rig-new").exists()


def test_a_duplicate_name_is_a_form_error(alpha, owner_client):
    response = owner_client.post("/rigs/add/", form_data(alpha.farm, name=alpha.rig.name))
    assert response.status_code == 200
    assert "already has a rig named" in " ".join(response.context["form"].errors["name"])
    assert Rig.objects.filter(farm=alpha.farm).count() == 1


def test_renaming_to_another_rigs_name_is_a_form_error(alpha, owner_client):
    other = Rig.objects.create(farm=alpha.farm, name="other")
    data = form_data(alpha.farm, name=alpha.rig.name, protocol="", host="", port="")
    response = owner_client.post(f"/rigs/{other.pk}/edit/", data)
    assert response.status_code == 200
    assert "already has a rig named" in " ".join(response.context["form"].errors["name"])
    assert Rig.objects.get(pk=other.pk).name == "other"


def test_another_farm_is_no_choice(alpha, bravo, owner_client):
    response = owner_client.post("/rigs/add/", form_data(bravo.farm, protocol="", host=""))
    assert "farm" in response.context["form"].errors
    assert not Rig.objects.filter(name="rig-new").exists()


def test_viewers_may_not_add_or_edit(alpha):
    client = logged_in(alpha.viewer)
    assert client.get("/rigs/add/").status_code == 403
    assert client.get(f"/rigs/{alpha.rig.pk}/edit/").status_code == 403
    response = client.post(f"/rigs/{alpha.rig.pk}/edit/", {"name": "x", "cadence_s": "30"})
    assert response.status_code == 403
    assert Rig.objects.get(pk=alpha.rig.pk).name == alpha.rig.name


def test_another_farms_rig_edit_is_404(alpha, bravo, owner_client):
    assert owner_client.get(f"/rigs/{bravo.rig.pk}/edit/").status_code == 404
    response = owner_client.post(f"/rigs/{bravo.rig.pk}/edit/", {"name": "x", "cadence_s": "30"})
    assert response.status_code == 404
    assert Rig.objects.get(pk=bravo.rig.pk).name == bravo.rig.name


def test_links_only_for_users_with_write_rights(alpha, owner_client):
    assert 'href="/rigs/add/"' in owner_client.get("/rigs/").content.decode()
    edit = f'href="/rigs/{alpha.rig.pk}/edit/"'
    assert edit in owner_client.get(f"/rigs/{alpha.rig.pk}/").content.decode()
    viewer = logged_in(alpha.viewer)
    assert 'href="/rigs/add/"' not in viewer.get("/rigs/").content.decode()
    assert edit not in viewer.get(f"/rigs/{alpha.rig.pk}/").content.decode()


# -- the admin --------------------------------------------------------------------------------


@pytest.fixture
def admin_client(db):
    user = get_user_model().objects.create_superuser("root", "root@example.invalid", "x")
    return logged_in(user)


def admin_data(alpha, **changes):
    data = {"farm": alpha.farm.pk, "name": alpha.rig.name, "cadence_s": 30, "protocol": "trex",
            "host": "10.0.0.5", "port": "", "api_password": "", "status": "new",
            "gpus-TOTAL_FORMS": 0, "gpus-INITIAL_FORMS": 0}  # fmt: skip
    return data | changes


def test_the_admin_never_renders_the_password(alpha, admin_client):
    Rig.objects.filter(pk=alpha.rig.pk).update(
        protocol="trex", host="10.0.0.5", api_password=SECRET
    )
    page = admin_client.get(f"/admin/rigs/rig/{alpha.rig.pk}/change/").content.decode()
    assert SECRET not in page
    assert 'name="api_password"' in page and 'type="password"' in page
    assert 'name="clear_api_password"' in page


def test_the_admin_keeps_a_blank_password_and_makes_a_new_address_due(alpha, admin_client):
    Rig.objects.filter(pk=alpha.rig.pk).update(
        protocol="trex", host="10.0.0.5", api_password=SECRET, next_poll_at="2026-01-01T00:00Z"
    )
    url = f"/admin/rigs/rig/{alpha.rig.pk}/change/"
    response = admin_client.post(url, admin_data(alpha, host="10.0.0.5", name="renamed"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Rig.objects.get(pk=alpha.rig.pk).api_password == SECRET
    response = admin_client.post(url, admin_data(alpha, host="10.0.0.6", api_password=SECRET))
    assert response.status_code == 302, response.context["adminform"].form.errors
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert (rig.host, rig.api_password, rig.next_poll_at) == ("10.0.0.6", SECRET, None)


@pytest.mark.parametrize(
    "change", [{"host": "10.0.0.99"}, {"port": "4068"}, {"protocol": "gminer"}]
)
def test_a_stored_password_never_follows_the_rig_to_a_new_address(alpha, owner_client, change):
    """Whoever may edit a rig must not be able to make ethdash send its miner's password to a
    host of their choosing: a new address needs the password again (or its removal)."""
    Rig.objects.filter(pk=alpha.rig.pk).update(
        protocol="trex", host="10.0.0.5", port=4067, api_password=SECRET
    )
    data = form_data(alpha.farm, host="10.0.0.5", port="4067") | change
    data.pop("farm")
    response = owner_client.post(f"/rigs/{alpha.rig.pk}/edit/", data)
    assert response.status_code == 200
    assert "enter its password again" in response.content.decode()
    rig = Rig.objects.get(pk=alpha.rig.pk)
    assert (rig.host, rig.port, rig.protocol) == ("10.0.0.5", 4067, "trex")
    response = owner_client.post(f"/rigs/{alpha.rig.pk}/edit/", data | {"clear_api_password": "on"})
    assert response.status_code == 302
    assert Rig.objects.get(pk=alpha.rig.pk).api_password == ""


def test_the_admin_sets_and_removes_a_password(alpha, admin_client):
    url = f"/admin/rigs/rig/{alpha.rig.pk}/change/"
    admin_client.post(url, admin_data(alpha, api_password=SECRET))
    assert Rig.objects.get(pk=alpha.rig.pk).api_password == SECRET
    admin_client.post(url, admin_data(alpha, clear_api_password="on"))
    assert Rig.objects.get(pk=alpha.rig.pk).api_password == ""
