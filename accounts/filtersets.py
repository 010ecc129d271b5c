"""Filters of the accounts API's lists (/api/v1/memberships/, /api/v1/tokens/)."""

import django_filters

from accounts.models import ApiToken, Membership
from ethdash.filters import IdFilter


class MembershipFilterSet(django_filters.FilterSet):
    farm = IdFilter(field_name="farm_id", help_text="A farm's id")
    role = django_filters.ChoiceFilter(
        choices=Membership.Role.choices, error_messages={"invalid_choice": "Not a role."}
    )

    class Meta:
        model = Membership
        fields = ["farm", "role"]


class ApiTokenFilterSet(django_filters.FilterSet):
    farm = IdFilter(field_name="farm_id", help_text="A farm's id")
    scope = django_filters.ChoiceFilter(
        choices=ApiToken.Scope.choices,
        method="filter_scope",
        error_messages={"invalid_choice": "read, write or telemetry."},
    )

    class Meta:
        model = ApiToken
        fields = ["farm", "scope"]

    def filter_scope(self, queryset, name, value):
        # `scopes` is a JSON list, and SQLite has no JSON containment: its text holds the scope
        # quoted, and no scope's name is part of another's.
        return queryset.filter(scopes__icontains=f'"{value}"')
