import pytest
from django.contrib.auth import get_user_model

from accounts.models import ApiToken, hash_token
from tests.factories import logged_in


@pytest.fixture
def admin_client_(db):
    user = get_user_model().objects.create_superuser("root", "root@example.invalid", "x")
    return logged_in(user)


@pytest.mark.parametrize(
    "model",
    [
        "accounts/farm",
        "accounts/membership",
        "accounts/apitoken",
        "rigs/rig",
        "rigs/gpu",
        "rigs/gpusample",
        "rigs/rigsample",
        "pools/pool",
        "pools/payout",
        "pools/poolsample",
        "pools/poolblock",
        "pools/poolaccount",
        "validators/beaconnode",
        "ethdash/executionnode",
        "validators/validator",
        "alerts/alertrule",
        "alerts/alert",
        "alerts/notificationchannel",
    ],
)
def test_every_changelist_opens(admin_client_, alpha, model):
    assert admin_client_.get(f"/admin/{model}/").status_code == 200
    assert admin_client_.get(f"/admin/{model}/", {"q": "alpha"}).status_code == 200


def test_rig_admin_filters_by_status(admin_client_, alpha):
    response = admin_client_.get("/admin/rigs/rig/", {"status__exact": "new"})
    assert "alpha-rig-1" in response.content.decode()


def test_token_created_in_admin_is_shown_once_and_hash_never(admin_client_, alpha):
    response = admin_client_.post(
        "/admin/accounts/apitoken/add/",
        {
            "farm": alpha.farm.pk,
            "name": "agent",
            "scopes": ["telemetry"],
            "expires_at_0": "",
            "expires_at_1": "",
        },
        follow=True,
    )
    token = ApiToken.objects.get(name="agent")
    message = next(str(m) for m in response.context["messages"])
    raw = message.rsplit(" ", 1)[-1]
    assert hash_token(raw) == token.key_hash
    change_page = admin_client_.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert token.key_hash not in change_page
    assert raw not in change_page


def test_samples_are_read_only(admin_client_, alpha):
    assert admin_client_.get("/admin/rigs/gpusample/add/").status_code == 403
