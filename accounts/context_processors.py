from accounts.models import Membership


def managed_farms(request):
    """The farms whose settings the user may change, for the header: one query per page."""
    user = getattr(request, "user", None)
    # A token whose creator was deleted authenticates as a stand-in with no pk: it manages nothing.
    if user is None or not user.is_authenticated or user.pk is None:
        return {}
    memberships = Membership.objects.filter(
        user=user, role__in=[Membership.Role.OWNER, Membership.Role.MANAGER]
    ).select_related("farm")
    return {"managed_farms": [m.farm for m in memberships]}
