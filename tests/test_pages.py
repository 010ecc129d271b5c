import pytest
from django.utils import timezone

from rigs.models import Rig
from tests.factories import make_farm


@pytest.mark.parametrize(
    "path", ["/", "/rigs/", "/pools/", "/validators/", "/alerts/", "/accounts/tokens/"]
)
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_with_the_form_reaches_the_overview(client, alpha):
    from tests.factories import PASSWORD

    response = client.post(
        "/accounts/login/", {"username": "alpha-owner", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
    assert b"alpha-rig-1" in response.content


def test_logout_is_a_post(owner_client):
    assert owner_client.post("/accounts/logout/").status_code == 302
    assert owner_client.get("/").status_code == 302


def test_overview_totals_only_online_rigs(owner_client, alpha):
    Rig.objects.filter(pk=alpha.rig.pk).update(
        status=Rig.Status.ONLINE, hashrate_hs=240e6, power_w=480, last_seen_at=timezone.now()
    )
    Rig.objects.create(farm=alpha.farm, name="spare", status=Rig.Status.OFFLINE, hashrate_hs=99e6)

    response = owner_client.get("/")

    assert response.context["totals"]["hashrate_hs"] == 240e6
    assert response.context["totals"]["online"] == 1
    assert response.context["totals"]["rigs"] == 2
    html = response.content.decode()
    assert "240.00 MH/s" in html
    assert "spare" in html


def test_rig_list_shows_status_and_figures(owner_client, alpha):
    Rig.objects.filter(pk=alpha.rig.pk).update(
        status=Rig.Status.ONLINE, hashrate_hs=1.5e9, temperature_max_c=71.4, gpus_reporting=4
    )
    html = owner_client.get("/rigs/").content.decode()
    assert "1.50 GH/s" in html
    assert "71 °C" in html
    assert "4 / 4" in html
    assert 'class="status status-online"' in html


def test_farm_column_only_for_users_of_several_farms(owner_client, alpha):
    from accounts.models import Membership

    assert not owner_client.get("/rigs/").context["show_farm"]
    other = make_farm("Charlie")
    Membership.objects.create(user=alpha.owner, farm=other.farm, role="viewer")
    response = owner_client.get("/rigs/")
    assert response.context["show_farm"]
    assert "charlie-rig-1" in response.content.decode()


def test_rig_page_embeds_the_last_hour_for_the_charts(owner_client, alpha, api):
    from tests.factories import sample_batch

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha.token('telemetry')}")
    api.post(f"/api/v1/rigs/{alpha.rig.pk}/telemetry/", sample_batch(ticks=3), format="json")

    response = owner_client.get(f"/rigs/{alpha.rig.pk}/")

    data = response.context["chart_data"]
    assert data["rig"] == alpha.rig.pk
    assert [len(gpu["ts"]) for gpu in data["gpus"]] == [3, 3, 3, 3]
    assert data["gpus"][0]["ts"][0].endswith("Z")
    assert len(data["totals"]["hashrate_hs"]) == 3
    html = response.content.decode()
    assert f'id="gpu-chart-{alpha.gpus[0].pk}"' in html
    assert "/static/vendor/plotly/plotly.min.js" in html


def test_every_section_is_a_real_page_inside_the_layout(owner_client):
    for path, element in [("/validators/", "epoch"), ("/alerts/", 'id="open-alerts"')]:
        html = owner_client.get(path).content.decode()
        assert element in html
        assert 'href="/rigs/"' in html  # the real nav
        assert 'id="open-alert-count"' in html


def test_plotly_is_served_from_the_wheel_not_a_cdn(owner_client, alpha):
    response = owner_client.get("/static/vendor/plotly/plotly.min.js")
    assert response.status_code == 200
    assert b"plotly" in b"".join(response.streaming_content)[:2000].lower()
    html = owner_client.get(f"/rigs/{alpha.rig.pk}/").content.decode()
    assert "cdn" not in html.lower()


def test_header_links_the_farms_the_user_manages(
    owner_client, alpha, django_assert_max_num_queries
):
    html = owner_client.get("/pools/").content.decode()
    assert f'href="/accounts/farms/{alpha.farm.pk}/"' in html
    from tests.factories import logged_in

    assert "settings</a>" not in logged_in(alpha.viewer).get("/pools/").content.decode()
