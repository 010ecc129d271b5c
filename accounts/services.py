"""Changes to a farm's memberships, shared by every caller that makes them."""

from django.db import transaction

from accounts.models import Membership

LAST_OWNER = "A farm keeps at least one owner: make another member owner first."


class LastOwnerError(Exception):
    """The change would leave the farm without an owner."""


def _check_another_owner(membership):
    # The farm's owner rows are locked: when two owners demote each other at once, the second
    # waits for the first to commit and then sees the first's change, and is refused (reading
    # without the lock, both would see the other still owner and pass, leaving none).
    owners = Membership.objects.select_for_update().filter(
        farm_id=membership.farm_id, role=Membership.Role.OWNER
    )
    if not [pk for pk in owners.values_list("pk", flat=True) if pk != membership.pk]:
        raise LastOwnerError(LAST_OWNER)


@transaction.atomic
def change_role(*, membership, role):
    """Gives the member `role`. Guarantees the farm still has an owner afterwards: taking the
    owner role from the farm's only owner raises LastOwnerError and changes nothing."""
    if membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER:
        _check_another_owner(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_membership(*, membership):
    """Removes the member from the farm (the user account stays). Guarantees the farm still has
    an owner afterwards: removing its only owner raises LastOwnerError and removes nothing."""
    if membership.role == Membership.Role.OWNER:
        _check_another_owner(membership)
    membership.delete()
