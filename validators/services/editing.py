"""Changing what a farm follows once it is in: a validator's label and group, the groups
themselves, and removing validators, groups and relays. The API calls these; adding is
validators.services.adding.

Every function takes objects already scoped to the caller's farm and keeps them there: a group
is only ever one of the validator's own farm.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from validators.models import MevRelay, Validator, ValidatorGroup
from validators.services.adding import group_for

MAX_NAME = 120  # ValidatorGroup.name, Validator.label


class GroupNameTaken(ValueError):
    def __init__(self):
        super().__init__("The farm already has a group of this name.")


class NoSuchGroup(ValueError):
    def __init__(self):
        super().__init__("No such group in the validator's farm.")


def resolve_group(farm, group: int | str | None) -> ValidatorGroup | None:
    """The validator's group from what a caller gave: an id (a group of `farm`, else
    NoSuchGroup), a name (the farm's group of that name, created when new, as adding does), or
    None or "" for no group."""
    if isinstance(group, int) and not isinstance(group, bool):
        found = ValidatorGroup.objects.filter(farm=farm, pk=group).first()
        if found is None:
            raise NoSuchGroup()
        return found
    return group_for(farm, group)


@transaction.atomic
def change_validator(validator: Validator, **changes) -> Validator:
    """Sets the validator's `label` and/or `group` (as resolve_group reads it), whichever are
    given; the rest of the row is the beacon node's and is left alone."""
    fields = []
    if "label" in changes:
        validator.label = changes["label"].strip()[:MAX_NAME]
        fields.append("label")
    if "group" in changes:
        validator.group = resolve_group(validator.farm, changes["group"])
        fields.append("group")
    if fields:
        validator.save(update_fields=fields)
    return validator


def remove_validator(validator: Validator) -> None:
    """Removes the validator from its farm with its whole history (day and epoch rows,
    proposals, sync duties, withdrawals, status changes, deposits: all cascade). The farm's
    per-epoch totals (EpochSummary) keep what it contributed, as they were when stored; its open
    alerts resolve at their next evaluation, the validator being no longer observed. The same
    validator in another farm is another row and is untouched."""
    validator.delete()


def create_group(farm, name: str) -> ValidatorGroup:
    """A new group of the farm; GroupNameTaken when the farm has one of that name."""
    try:
        with transaction.atomic():
            return ValidatorGroup.objects.create(farm=farm, name=name.strip()[:MAX_NAME])
    except IntegrityError:
        raise GroupNameTaken() from None


def rename_group(group: ValidatorGroup, name: str) -> ValidatorGroup:
    """GroupNameTaken when another group of the farm has the name; the members stay."""
    group.name = name.strip()[:MAX_NAME]
    try:
        with transaction.atomic():
            group.save(update_fields=["name"])
    except IntegrityError:
        raise GroupNameTaken() from None
    return group


def delete_group(group: ValidatorGroup) -> None:
    """Removes the group; its members stay in the farm, in no group (Validator.group is
    SET_NULL)."""
    group.delete()


def delete_mev_relay(relay: MevRelay) -> None:
    """The relay is no longer asked; what it claimed for past proposals stays on them."""
    relay.delete()
