"""Filters of the validators list, the same on the page (/validators/) and in the API
(/api/v1/validators/)."""

import django_filters

from validators.models import Status, Validator


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
