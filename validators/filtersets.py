"""Filters of the validators list, the same on the page (/validators/) and in the API
(/api/v1/validators/), and of the API's groups, beacon nodes and MEV relays. The lists are
scoped to the caller's farms first, so a filter naming another farm finds nothing."""

import django_filters

from ethdash.filters import IdFilter
from validators.models import BeaconNode, MevRelay, Status, Validator, ValidatorGroup


class ValidatorFilterSet(django_filters.FilterSet):
    """`group`: a group's id, or "none" for the validators in no group (anything else filters
    nothing). `status`: a beacon status; the API refuses another value with 400, the page
    ignores it."""

    group = django_filters.CharFilter(method="filter_group", help_text='A group\'s id, or "none"')
    status = django_filters.ChoiceFilter(
        choices=Status.choices, error_messages={"invalid_choice": "Not a validator status."}
    )

    class Meta:
        model = Validator
        fields = ["group", "status"]

    def filter_group(self, queryset, name, value):
        if value == "none":
            return queryset.filter(group__isnull=True)
        if value.isdigit():
            return queryset.filter(group_id=int(value))
        return queryset


class FarmFilterSet(django_filters.FilterSet):
    """`farm`: a farm's id (400 when it is not a whole number)."""

    farm = IdFilter(field_name="farm_id", help_text="A farm's id")


class ValidatorGroupFilterSet(FarmFilterSet):
    class Meta:
        model = ValidatorGroup
        fields = ["farm"]


class BeaconNodeFilterSet(FarmFilterSet):
    class Meta:
        model = BeaconNode
        fields = ["farm"]


class MevRelayFilterSet(FarmFilterSet):
    class Meta:
        model = MevRelay
        fields = ["farm"]
