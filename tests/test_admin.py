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


def test_stale_accounts_and_silent_nodes_are_found_by_the_admin_filters(admin_client_, alpha):
    """Stale and silent are never stored, only read past stale_at: the filters find them there,
    and leave them out of the value their column still holds."""
    from datetime import timedelta

    from django.utils import timezone

    from pools.models import PoolAccount
    from tests.factories import BeaconNodeFactory, PoolAccountFactory

    past, future = timezone.now() - timedelta(minutes=5), timezone.now() + timedelta(minutes=5)
    PoolAccount.objects.filter(pk=alpha.pool_account.pk).update(
        status="ok", stale_at=past, label="gone-quiet"
    )
    PoolAccountFactory(farm=alpha.farm, status="ok", stale_at=future, label="fresh-one")
    BeaconNodeFactory(farm=alpha.farm, name="quiet-node", health="ready", stale_at=past)
    BeaconNodeFactory(farm=alpha.farm, name="checked-node", health="ready", stale_at=future)

    def listed(url, value):
        return admin_client_.get(url, {value[0]: value[1]}).content.decode()

    stale = listed("/admin/pools/poolaccount/", ("status", "stale"))
    assert "gone-quiet" in stale and "fresh-one" not in stale
    ok = listed("/admin/pools/poolaccount/", ("status", "ok"))
    assert "fresh-one" in ok and "gone-quiet" not in ok
    silent = listed("/admin/validators/beaconnode/", ("health", "silent"))
    assert "quiet-node" in silent and "checked-node" not in silent
    healthy = listed("/admin/validators/beaconnode/", ("health", "ready"))
    assert "checked-node" in healthy and "quiet-node" not in healthy
    assert "Not checked lately" in silent  # the list shows the health as read
