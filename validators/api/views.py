"""The validators API, scoped to the caller's farms (another farm's object is a 404): reading
validators and groups with their figures, and what a farm's pages change: adding validators
(POST /api/v1/validators/add/) or discovering them by withdrawal address
(/api/v1/validators/discover/), a validator's label and group, removing a validator, the groups,
the beacon nodes (/api/v1/beacon-nodes/) and the MEV relays (/api/v1/mev-relays/).

Writes need a `write` token of the farm, or an owner or manager logged in (403 otherwise); a farm
the caller cannot see is 404, or an invalid choice in a body. Every list takes `?ordering=` with
the fields its view names (another field is ignored)."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import can_write, farm_ids_for_request, scope_to_farms, writable_farm
from ethdash.api import ErrorSerializer, ListPagination, OrderingFilter, StrictPageSize, error_body
from validators.api.serializers import (
    BeaconNodeSerializer,
    DiscoverSerializer,
    DiscoveryStateSerializer,
    MevRelaySerializer,
    ProposalSerializer,
    ValidatorAddResultSerializer,
    ValidatorAddSerializer,
    ValidatorChangeSerializer,
    ValidatorDaySerializer,
    ValidatorEpochSerializer,
    ValidatorGroupSerializer,
    ValidatorGroupWriteSerializer,
    ValidatorSerializer,
)
from validators.filtersets import (
    BeaconNodeFilterSet,
    MevRelayFilterSet,
    ValidatorFilterSet,
    ValidatorGroupFilterSet,
)
from validators.models import (
    BeaconNode,
    MevRelay,
    Validator,
    ValidatorDay,
    ValidatorEpoch,
    ValidatorGroup,
)
from validators.services import adding, editing, nodes, resolution
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

    def one(self, instance, status_code=status.HTTP_200_OK):
        """The answer to a write: the object as a read shows it, figures included."""
        self._figures = figures_by(self.figures_source([instance]), self.figures_key)
        context = self.get_serializer_context()
        return Response(self.read_serializer(instance, context=context).data, status=status_code)


WRITE_DENIED = "Changing a farm needs a write token of the farm, or an owner or manager."


def _check_write(request, obj):
    if not can_write(request, obj.farm_id):
        raise PermissionDenied(WRITE_DENIED)


@extend_schema(tags=["validators"])
class ValidatorViewSet(
    _FiguresMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """The validators of the farms the caller can see, with their current figures from the
    beacon node and their income, APR and duty figures over today, 24 h, 7 and 30 days. A
    write changes a validator's label and group, or removes it from its farm."""

    read_serializer = ValidatorSerializer
    pagination_class = ListPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ValidatorFilterSet
    ordering_fields = [
        "id", "index", "status", "balance", "effective_balance", "label", "activation_epoch",
        "exit_epoch", "last_duty_epoch",
    ]  # fmt: skip

    def get_queryset(self):
        queryset = scope_to_farms(Validator.objects.select_related("group"), self.request)
        return queryset.order_by("id")

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ValidatorChangeSerializer
        return ValidatorSerializer

    @extend_schema(request=ValidatorChangeSerializer, responses=ValidatorSerializer)
    def update(self, request, *args, partial=False, **kwargs):
        """Sets `label` ("" removes it) and `group`: a group of the validator's farm by id, or
        by name (created when new, as adding does); null removes it from its group. A group id
        that is not one of the farm's is 400 and changes nothing."""
        validator = self.get_object()
        _check_write(request, validator)
        body = ValidatorChangeSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        try:
            editing.change_validator(validator, **body.validated_data)
        except editing.NoSuchGroup as exc:
            raise serializers.ValidationError({"group": [str(exc)]}) from None
        return self.one(validator)

    @extend_schema(request=ValidatorChangeSerializer, responses=ValidatorSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Sets whichever of `label` and `group` is given."""
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        """Removes the validator from its farm, with its history (days, epochs, proposals,
        withdrawals...). The farm's past per-epoch totals keep what it contributed."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        _check_write(self.request, instance)
        editing.remove_validator(instance)

    def figures_source(self, objects):
        return Validator.objects.filter(pk__in=[v.pk for v in objects])

    @extend_schema(
        responses=ValidatorDaySerializer(many=True),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (UTC), inclusive"),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (UTC), inclusive"),
        ],
    )
    # The actions' lists have their own fixed order and no filters: without filter_backends=[]
    # the list's OrderingFilter would hand `?ordering=` to their cursor pagination.
    @action(detail=True, methods=["get"], pagination_class=DayPagination, filter_backends=[])
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
    @action(detail=True, methods=["get"], pagination_class=EpochPagination, filter_backends=[])
    def epochs(self, request, pk=None, format=None):
        """The validator's imperfect epochs, newest first (perfect epochs keep no row)."""
        validator = self.get_object()
        page = self.paginate_queryset(ValidatorEpoch.objects.filter(validator=validator))
        return self.get_paginated_response(ValidatorEpochSerializer(page, many=True).data)

    @extend_schema(responses=ProposalSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=ProposalPagination, filter_backends=[])
    def proposals(self, request, pk=None, format=None):
        """The validator's proposals, newest first, with consensus and execution rewards, the MEV
        payment and what the relay claims beside it."""
        validator = self.get_object()
        page = self.paginate_queryset(validator.proposals.order_by("-slot"))
        return self.get_paginated_response(ProposalSerializer(page, many=True).data)


@extend_schema(tags=["validators"])
class ValidatorGroupViewSet(_FiguresMixin, viewsets.ModelViewSet):
    """The validator groups of the farms the caller can see, with their members' figures. A
    group is created in a farm and renamed within it (a name the farm already has is 400);
    deleting one leaves its members in the farm, in no group."""

    read_serializer = ValidatorGroupSerializer
    pagination_class = ListPagination
    figures_key = "validator__group_id"
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = ValidatorGroupFilterSet
    ordering_fields = ["id", "name", "validators"]
    ordering_aliases = {"validators": "member_count"}

    def get_queryset(self):
        queryset = ValidatorGroup.objects.annotate(member_count=Count("validators"))
        return scope_to_farms(queryset, self.request).order_by("id")

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return ValidatorGroupWriteSerializer
        return ValidatorGroupSerializer

    def figures_source(self, objects):
        # Only members of the group's own farm: a group never gathers another farm's validators.
        return Validator.objects.filter(
            group_id__in=[g.pk for g in objects], farm_id=F("group__farm_id")
        )

    def _reread(self, group):
        return self.get_queryset().get(pk=group.pk)  # with its member count

    @extend_schema(request=ValidatorGroupWriteSerializer, responses={201: ValidatorGroupSerializer})
    def create(self, request, *args, **kwargs):
        """A new group in the farm named (default: the only farm the caller can change)."""
        body = ValidatorGroupWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        farm = writable_farm(request, data.get("farm"), denied=WRITE_DENIED)
        try:
            group = editing.create_group(farm, data["name"])
        except editing.GroupNameTaken as exc:
            raise serializers.ValidationError({"name": [str(exc)]}) from None
        return self.one(self._reread(group), status.HTTP_201_CREATED)

    @extend_schema(request=ValidatorGroupWriteSerializer, responses=ValidatorGroupSerializer)
    def update(self, request, *args, partial=False, **kwargs):
        """Renames the group; `farm`, when given, must be its own (a group stays in its farm)."""
        group = self.get_object()
        _check_write(request, group)
        body = ValidatorGroupWriteSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data.get("farm", group.farm_id) != group.farm_id:
            raise serializers.ValidationError({"farm": ["A group stays in its farm."]})
        if "name" in data:
            try:
                editing.rename_group(group, data["name"])
            except editing.GroupNameTaken as exc:
                raise serializers.ValidationError({"name": [str(exc)]}) from None
        return self.one(self._reread(group))

    @extend_schema(request=ValidatorGroupWriteSerializer, responses=ValidatorGroupSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Renames the group, when `name` is given."""
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        """Removes the group; its members stay in the farm, in no group."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        _check_write(self.request, instance)
        editing.delete_group(instance)


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


class DiscoverView(APIView):
    """Discovery by withdrawal address, as the add page starts it (validators.services
    .resolution): a worker walks the registry of the farm's beacon node and adds every validator
    whose credentials withdraw to the address."""

    @extend_schema(
        tags=["validators"],
        operation_id="validators_discover",
        request=DiscoverSerializer,
        responses={
            202: DiscoveryStateSerializer,
            409: OpenApiResponse(
                ErrorSerializer, description="A discovery is already running for this farm."
            ),
        },
    )
    def post(self, request):
        """Starts a discovery for the farm (one at a time per farm: 409 while one runs) and
        answers 202 with its state; `group` (created when new) and `label` go to every
        validator it adds. GET follows its progress."""
        serializer = DiscoverSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        farm = writable_farm(request, data.get("farm"), denied=WRITE_DENIED)
        started = resolution.start_discovery(
            farm, data["address"], group=data.get("group", ""), label=data.get("label", "")
        )
        if not started:
            body = error_body("A discovery is already running for this farm.", "conflict")
            return Response(body, status=status.HTTP_409_CONFLICT)
        state = {"farm": farm.pk, **resolution.discovery_state(farm.pk)}
        return Response(DiscoveryStateSerializer(state).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        tags=["validators"],
        operation_id="validators_discover_list",
        responses=DiscoveryStateSerializer(many=True),
    )
    def get(self, request):
        """The last discovery of each of the caller's farms that had one within a day: state
        (queued, running, done, failed), address, scanned, found, added, skipped, error."""
        states = []
        for farm_id in sorted(farm_ids_for_request(request)):
            state = resolution.discovery_state(farm_id)
            if state:
                states.append({"farm": farm_id, **state})
        return Response(DiscoveryStateSerializer(states, many=True).data)


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
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = BeaconNodeFilterSet
    ordering_fields = ["id", "name", "priority", "health", "head_slot"]

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
        _check_write(self.request, instance)
        instance.delete()


@extend_schema(tags=["validators"])
class MevRelayViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The MEV relays of the caller's farms, whose data API is asked what each claims it paid
    for the farm's proposals. A URL is checked as the page checks it: its syntax, then the
    outbound policy on the addresses its host resolves to now (a private or loopback one needs
    its network in ETHDASH_OUTBOUND_ALLOW), and once per farm; a refused one is 400."""

    serializer_class = MevRelaySerializer
    pagination_class = ListPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = MevRelayFilterSet
    ordering_fields = ["id", "name", "url"]

    def get_queryset(self):
        return scope_to_farms(MevRelay.objects.all(), self.request).order_by("farm_id", "id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        farm = writable_farm(self.request, data.get("farm_id"), denied=WRITE_DENIED)
        taken = {"url": ["This farm already has this relay."]}
        if MevRelay.objects.filter(farm=farm, url=data["url"]).exists():
            raise serializers.ValidationError(taken)
        try:
            with transaction.atomic():
                serializer.instance = adding.add_mev_relay(
                    farm, url=data["url"], name=data.get("name", "")
                )
        except IntegrityError:  # the same relay, added by another request a moment ago
            raise serializers.ValidationError(taken) from None

    def perform_destroy(self, instance):
        _check_write(self.request, instance)
        editing.delete_mev_relay(instance)
