"""accounts.scoping.writable_farm: where an API write goes, for every app's write views."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from accounts.models import ApiToken, Membership
from accounts.scoping import writable_farm


def _token_request(world, *scopes):
    token, _ = ApiToken.issue(farm=world.farm, name="-".join(scopes), scopes=list(scopes))
    return SimpleNamespace(auth=token, user=AnonymousUser())


def _user_request(user):
    return SimpleNamespace(auth=None, user=user)


@pytest.mark.django_db
def test_a_write_token_writes_to_its_own_farm_named_or_not(alpha):
    request = _token_request(alpha, "read", "write")
    assert writable_farm(request, None) == alpha.farm
    assert writable_farm(request, alpha.farm.pk) == alpha.farm


@pytest.mark.django_db
def test_another_farm_is_404_and_a_read_only_caller_403(alpha, bravo):
    with pytest.raises(NotFound):
        writable_farm(_token_request(alpha, "read", "write"), bravo.farm.pk)
    with pytest.raises(PermissionDenied, match="write token"):
        writable_farm(_token_request(alpha, "read"), alpha.farm.pk)
    with pytest.raises(PermissionDenied, match="rigs"):
        writable_farm(_user_request(alpha.viewer), None, denied="Changing a farm's rigs ...")
    with pytest.raises(PermissionDenied):
        writable_farm(_user_request(alpha.viewer), alpha.farm.pk)


@pytest.mark.django_db
def test_a_user_who_can_change_several_farms_names_one(alpha, bravo):
    Membership.objects.create(farm=bravo.farm, user=alpha.owner, role=Membership.Role.MANAGER)
    request = _user_request(alpha.owner)
    with pytest.raises(ValidationError) as raised:
        writable_farm(request, None)
    assert "farm" in raised.value.detail
    assert writable_farm(request, bravo.farm.pk) == bravo.farm
    # Viewer of one farm, owner of another: the one it may change is the default.
    assert writable_farm(_user_request(bravo.owner), None) == bravo.farm
