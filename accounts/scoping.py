"""The one place that decides which farms a request may see.

Every page, API view and consumer filters its querysets through here, so a user or token of
another farm gets a 404, never someone else's data.
"""

from accounts.models import ApiToken, Membership

WRITE_ROLES = (Membership.Role.OWNER, Membership.Role.MANAGER)


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
