"""The one place that decides which farms a request may see.

Every page, API view and consumer filters its querysets through here, so a user or token of
another farm gets a 404, never someone else's data.
"""

from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied

from accounts.models import ApiToken, Farm, Membership
from ethdash import logs

WRITE_ROLES = (Membership.Role.OWNER, Membership.Role.MANAGER)
WRITE_DENIED = "Changing a farm needs a write token of the farm, or an owner or manager."


def farm_ids_for_user(user, *, roles=None):
    """The farms the user belongs to, or only those where the user has one of `roles`."""
    if user is None or not user.is_authenticated:
        return []
    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return list(memberships.values_list("farm_id", flat=True))


def farm_ids_for_request(request):
    """The farms of a Bearer token (exactly its own farm) or of the logged-in user."""
    cached = getattr(request, "_ethdash_farm_ids", None)
    if cached is not None:
        return cached
    auth = getattr(request, "auth", None)
    farm_ids = [auth.farm_id] if isinstance(auth, ApiToken) else farm_ids_for_user(request.user)
    request._ethdash_farm_ids = farm_ids
    # The request's later log lines name the farm (one) or farms it reads.
    logs.bind(**({"farm_id": farm_ids[0]} if len(farm_ids) == 1 else {"farm_ids": farm_ids}))
    return farm_ids


def scope_to_farms(queryset, request, farm_field="farm"):
    return queryset.filter(**{f"{farm_field}__in": farm_ids_for_request(request)})


def can_write(request, farm_id, token_scopes=(ApiToken.Scope.WRITE,)):
    """Whether the request may change the farm: a token with one of the scopes, or an owner or
    manager logged in."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiToken):
        return auth.farm_id == farm_id and any(auth.has_scope(s) for s in token_scopes)
    return farm_id in farm_ids_for_user(request.user, roles=WRITE_ROLES)


def writable_farm(request, farm_id, *, denied=WRITE_DENIED):
    """The farm an API write goes to: the one named (`farm_id`), else the only one the caller
    may change. A farm the caller cannot see is 404 (it is not told the farm exists), one it may
    only read 403 with `denied`; naming none while able to change several is a 400."""
    visible = farm_ids_for_request(request)
    if farm_id is None:
        writable = [pk for pk in visible if can_write(request, pk)]
        if len(writable) > 1:
            raise serializers.ValidationError({"farm": ["Name the farm: you can change several."]})
        if not writable:
            raise PermissionDenied(denied)
        farm_id = writable[0]
    if farm_id not in visible:
        raise NotFound("No such farm.")
    if not can_write(request, farm_id):
        raise PermissionDenied(denied)
    return Farm.objects.get(pk=farm_id)
