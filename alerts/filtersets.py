"""Filters of the alert list, the same on the page (/alerts/) and in the API (/api/v1/alerts/)."""

import django_filters

from alerts.models import Alert, Severity

# Pending alerts are never listed (alerts.services.actions.visible): not a state to filter by.
LISTED_STATES = [(Alert.State.OPEN, "Open"), (Alert.State.RESOLVED, "Resolved")]


class AlertFilterSet(django_filters.FilterSet):
    kind = django_filters.CharFilter()
    state = django_filters.ChoiceFilter(
        choices=LISTED_STATES, error_messages={"invalid_choice": "open or resolved."}
    )
    severity = django_filters.ChoiceFilter(
        choices=Severity.choices, error_messages={"invalid_choice": "Not a severity."}
    )
    object_type = django_filters.CharFilter()
    object_id = django_filters.NumberFilter()

    class Meta:
        model = Alert
        fields = ["kind", "state", "severity", "object_type", "object_id"]
