"""The validators API, scoped to the caller's farms (another farm's object is a 404): reading
validators and groups with their figures, adding validators (POST /api/v1/validators/add/) and
the beacon nodes (/api/v1/beacon-nodes/).

Writes need a `write` token of the farm, or an owner or manager logged in (403 otherwise); a farm
the caller cannot see is 404, or an invalid choice in a body."""

from django.conf import settings
from django.db.models import Count, F
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import can_write, scope_to_farms, writable_farm
from ethdash.api import ListPagination, StrictPageSize
from validators.api.serializers import (
    BeaconNodeSerializer,
    ProposalSerializer,
    ValidatorAddResultSerializer,
    ValidatorAddSerializer,
    ValidatorDaySerializer,
    ValidatorEpochSerializer,
    ValidatorGroupSerializer,
    ValidatorSerializer,
)
from validators.filtersets import ValidatorFilterSet
from validators.models import (
    BeaconNode,
    Validator,
    ValidatorDay,
    ValidatorEpoch,
    ValidatorGroup,
)
from validators.services import adding, nodes
from validators.services.figures import figures_by, parse_day_range


class DayPagination(StrictPageSize, CursorPagination):
    ordering = "-day"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class EpochPagination(StrictPageSize, CursorPagination):
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


@extend_schema(tags=["validators"])
class ValidatorViewSet(_FiguresMixin, viewsets.ReadOnlyModelViewSet):
    """The validators of the farms the caller can see, with their current figures from the
    beacon node and their income, APR and duty figures over today, 24 h, 7 and 30 days."""

    serializer_class = ValidatorSerializer
    pagination_class = ListPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = ValidatorFilterSet

    def get_queryset(self):
        queryset = scope_to_farms(Validator.objects.select_related("group"), self.request)
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
    def days(self, request, pk=None, format=None):
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
    def epochs(self, request, pk=None, format=None):
        """The validator's imperfect epochs, newest first (perfect epochs keep no row)."""
        validator = self.get_object()
        page = self.paginate_queryset(ValidatorEpoch.objects.filter(validator=validator))
        return self.get_paginated_response(ValidatorEpochSerializer(page, many=True).data)

    @extend_schema(responses=ProposalSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=ProposalPagination)
    def proposals(self, request, pk=None, format=None):
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


WRITE_DENIED = "Changing a farm needs a write token of the farm, or an owner or manager."


def entry_errors(rejected):
    """Errors keyed by the entry's position in `ids` (0-based), like batch errors elsewhere."""
    errors = {}
    for r in rejected:
        if r.position == 0:
            return [r.reason]
        errors[str(r.position - 1)] = [f"{r.entry!r}: {r.reason}"]
    return errors


class ValidatorAddView(APIView):
    # 100,000 pubkeys are about 10 MB: more than the API's usual body limit
    # (ethdash.middleware.BodySizeLimitMiddleware), within Django's DATA_UPLOAD_MAX_MEMORY_SIZE.
    max_body_bytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    @extend_schema(
        tags=["validators"],
        operation_id="validators_add",
        request=ValidatorAddSerializer,
        responses={201: ValidatorAddResultSerializer},
    )
    def post(self, request):
        """Adds validators by index or pubkey, all or nothing: any malformed entry answers 400
        with an error per entry and saves nothing. Entries repeated in the list and validators
        the farm already has are skipped. A missing index or pubkey is read from the farm's
        beacon node afterwards."""
        serializer = ValidatorAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        farm = writable_farm(request, data.get("farm"), denied=WRITE_DENIED)
        try:
            result = adding.add_validators(
                farm, data["ids"], group=data.get("group") or None, label=data.get("label", "")
            )
        except adding.InvalidEntries as exc:
            raise serializers.ValidationError({"ids": entry_errors(exc.rejected)}) from None
        body = {
            "farm": farm.pk,
            "group": result.group.name if result.group else None,
            "created": [{"id": v.pk, "index": v.index, "pubkey": v.pubkey} for v in result.created],
            "skipped": [{"entry": entry, "reason": reason} for entry, reason in result.skipped],
        }
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["validators"])
class BeaconNodeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The beacon nodes of the caller's farms. Creating one asks the node once
    (validators.services.nodes.check_node: health, syncing, genesis and spec) and stores its genesis
    and chain constants; a node that does not answer is refused with 400."""

    serializer_class = BeaconNodeSerializer
    pagination_class = ListPagination

    def get_queryset(self):
        return scope_to_farms(BeaconNode.objects.all(), self.request).order_by("farm_id", "id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        farm = writable_farm(self.request, data.get("farm_id"), denied=WRITE_DENIED)
        check = nodes.try_node(data["url"], data.get("auth_header", ""))
        if check.error:
            raise serializers.ValidationError({"url": [check.error]})
        serializer.instance = adding.add_beacon_node(
            farm,
            name=data.get("name", ""),
            url=data["url"],
            auth_header=data.get("auth_header", ""),
            priority=data.get("priority", 0),
            check=check,
        )

    def perform_destroy(self, instance):
        if not can_write(self.request, instance.farm_id):
            raise PermissionDenied(WRITE_DENIED)
        instance.delete()
