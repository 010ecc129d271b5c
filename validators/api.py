"""Read API of validators and groups, scoped to the caller's farms (another farm's object is a
404). Adding and managing validators is validators.api_manage."""

from django.db.models import Count, F
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination

from accounts.scoping import scope_to_farms
from ethdash.api import ListPagination
from validators.models import Status, Validator, ValidatorDay, ValidatorEpoch, ValidatorGroup
from validators.serializers import (
    ProposalSerializer,
    ValidatorDaySerializer,
    ValidatorEpochSerializer,
    ValidatorGroupSerializer,
    ValidatorSerializer,
)
from validators.services.figures import figures_by, parse_day_range


class DayPagination(CursorPagination):
    ordering = "-day"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class EpochPagination(CursorPagination):
    ordering = "-epoch"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ProposalPagination(ListPagination):
    page_size = 50


class _FiguresMixin:
    """Computes the figures of a whole page in one go and hands them to the serializer."""

    figures_key = "validator_id"

    def figures_source(self, objects):
        raise NotImplementedError

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "figures": getattr(self, "_figures", {})}

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self._figures = figures_by(self.figures_source(page), self.figures_key) if page else {}
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        self._figures = figures_by(self.figures_source([instance]), self.figures_key)
        return super().retrieve(request, *args, **kwargs)

    def get_object(self):
        cached = getattr(self, "_object", None)
        if cached is None:
            cached = self._object = super().get_object()
        return cached


@extend_schema(
    tags=["validators"],
    parameters=[
        OpenApiParameter("group", OpenApiTypes.INT, description="Only the group's members"),
        OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values),
    ],
)
class ValidatorViewSet(_FiguresMixin, viewsets.ReadOnlyModelViewSet):
    """The validators of the farms the caller can see, with their current figures from the
    beacon node and their income, APR and duty figures over today, 24 h, 7 and 30 days."""

    serializer_class = ValidatorSerializer
    pagination_class = ListPagination

    def get_queryset(self):
        queryset = scope_to_farms(Validator.objects.select_related("group"), self.request)
        if self.action == "list":
            group = self.request.query_params.get("group", "")
            if group.isdigit():
                queryset = queryset.filter(group_id=int(group))
            status = self.request.query_params.get("status", "")
            if status:
                if status not in Status.values:
                    raise serializers.ValidationError({"status": ["Not a validator status."]})
                queryset = queryset.filter(status=status)
        return queryset.order_by("id")

    def figures_source(self, objects):
        return Validator.objects.filter(pk__in=[v.pk for v in objects])

    @extend_schema(
        responses=ValidatorDaySerializer(many=True),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (UTC), inclusive"),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (UTC), inclusive"),
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=DayPagination)
    def days(self, request, pk=None):
        """The validator's UTC days, newest first: income, duties and balances per day."""
        validator = self.get_object()
        try:
            since, until = parse_day_range(request.query_params)
        except ValueError as exc:
            raise serializers.ValidationError({"from": [str(exc)]}) from None
        days = ValidatorDay.objects.filter(validator=validator)
        if since:
            days = days.filter(day__gte=since)
        if until:
            days = days.filter(day__lte=until)
        page = self.paginate_queryset(days)
        return self.get_paginated_response(ValidatorDaySerializer(page, many=True).data)

    @extend_schema(responses=ValidatorEpochSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=EpochPagination)
    def epochs(self, request, pk=None):
        """The validator's imperfect epochs, newest first (perfect epochs keep no row)."""
        validator = self.get_object()
        page = self.paginate_queryset(ValidatorEpoch.objects.filter(validator=validator))
        return self.get_paginated_response(ValidatorEpochSerializer(page, many=True).data)

    @extend_schema(responses=ProposalSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=ProposalPagination)
    def proposals(self, request, pk=None):
        """The validator's proposals, newest first, with consensus and execution rewards, the MEV
        payment and what the relay claims beside it."""
        validator = self.get_object()
        page = self.paginate_queryset(validator.proposals.order_by("-slot"))
        return self.get_paginated_response(ProposalSerializer(page, many=True).data)


@extend_schema(tags=["validators"])
class ValidatorGroupViewSet(_FiguresMixin, viewsets.ReadOnlyModelViewSet):
    """The validator groups of the farms the caller can see, with their members' figures."""

    serializer_class = ValidatorGroupSerializer
    pagination_class = ListPagination
    figures_key = "validator__group_id"

    def get_queryset(self):
        queryset = ValidatorGroup.objects.annotate(member_count=Count("validators"))
        return scope_to_farms(queryset, self.request).order_by("id")

    def figures_source(self, objects):
        # Only members of the group's own farm: a group never gathers another farm's validators.
        return Validator.objects.filter(
            group_id__in=[g.pk for g in objects], farm_id=F("group__farm_id")
        )
