"""Filters of the rigs API's lists (/api/v1/rigs/, /api/v1/gpus/). The lists are scoped to the
caller's farms first, so a filter naming another farm's rig finds nothing."""

import django_filters
from django.db.models import Q
from django.utils import timezone

from ethdash.filters import IdFilter
from rigs.models import Gpu, Rig


class RigFilterSet(django_filters.FilterSet):
    """`status`: one of the rig statuses as the API shows it (Rig.current_status: an online or
    degraded rig past its stale_at is offline), a 400 for another value."""

    status = django_filters.ChoiceFilter(
        choices=Rig.Status.choices,
        method="filter_status",
        error_messages={"invalid_choice": "Not a rig status."},
    )
    farm = IdFilter(field_name="farm_id", help_text="A farm's id")

    class Meta:
        model = Rig
        fields = ["status", "farm"]

    def filter_status(self, queryset, name, value):
        now = timezone.now()
        reporting = Q(status__in=[Rig.Status.ONLINE, Rig.Status.DEGRADED])
        silent = reporting & Q(stale_at__lt=now)
        if value == Rig.Status.OFFLINE:
            return queryset.filter(Q(status=Rig.Status.OFFLINE) | silent)
        if value in (Rig.Status.ONLINE, Rig.Status.DEGRADED):
            return queryset.filter(status=value).exclude(silent)
        return queryset.filter(status=value)


class GpuFilterSet(django_filters.FilterSet):
    """`rig`: the GPUs of one rig (its id); `kind`: gpu or cpu."""

    rig = IdFilter(field_name="rig_id", help_text="A rig's id")
    kind = django_filters.ChoiceFilter(
        choices=Gpu.Kind.choices, error_messages={"invalid_choice": "Not a device kind."}
    )

    class Meta:
        model = Gpu
        fields = ["rig", "kind"]
