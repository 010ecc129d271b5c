from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from accounts.models import ApiToken
from accounts.scoping import can_write, farm_ids_for_request, scope_to_farms, writable_farm
from ethdash.api import ListPagination, OrderingFilter, TimeSeriesPagination
from ethdash.renderers import csv_rows, parallel_rows, rows_by_ts
from ethdash.throttling import AnonRateThrottle, TelemetryRateThrottle
from ethdash.timeseries import iso, parse_range
from rigs.api.serializers import (
    ConnectionTestSerializer,
    ConnectionTrialSerializer,
    GpuSampleSerializer,
    GpuSerializer,
    RigSavedSerializer,
    RigSerializer,
    RigWriteSerializer,
    TelemetryBatchSerializer,
    TelemetryResultSerializer,
    plain_telemetry_samples,
    sample_rows,
)
from rigs.filtersets import GpuFilterSet, RigFilterSet
from rigs.formats import MinerError, hiveos
from rigs.models import Gpu, GpuSample, Rig
from rigs.services import editing
from rigs.services.ingest import SAMPLE_FIELDS, ingest_hiveos, ingest_telemetry
from rigs.services.rollups import BUCKET_S
from rigs.services.series import gpu_series, rig_series
from rigs.services.trial import try_rig

RESOLUTIONS = ("auto", "raw", "5m", "1h", "1d")
RANGE_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="Start (default: to - 1 h)"),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="End (default: now)"),
    OpenApiParameter(
        "resolution",
        OpenApiTypes.STR,
        enum=list(RESOLUTIONS),
        description="auto: the coarsest that keeps at most about 1,500 points per trace",
    ),
]


# Points per trace a series answers at most. `auto` keeps to about 1,500; a resolution asked
# for explicitly over a range that would give more is a 400, so that one request cannot make an
# unbounded body (raw samples of long ranges: /samples/, cursor-paginated).
MAX_SERIES_POINTS = 10_000


def _resolution(request, *, since, until, cadence_s):
    resolution = request.query_params.get("resolution", "auto")
    if resolution not in RESOLUTIONS:
        raise serializers.ValidationError({"resolution": [f"One of {', '.join(RESOLUTIONS)}."]})
    if resolution != "auto":
        step_s = max(cadence_s, 1) if resolution == "raw" else BUCKET_S[resolution]
        points = (until - since).total_seconds() / step_s
        if points > MAX_SERIES_POINTS:
            raise serializers.ValidationError(
                {
                    "resolution": [
                        f"{resolution} over this range is about {points:,.0f} points a trace, "
                        f"more than {MAX_SERIES_POINTS:,}: choose a shorter range, a coarser "
                        "resolution or auto (raw samples: /samples/, cursor-paginated)."
                    ]
                }
            )
    return resolution


def _iso_lists(series):
    return series | {"ts": [iso(ts) for ts in series["ts"]]}


def _rig_series_rows(body):
    """CSV of a rig's series: one row per time, the rig's totals (`rig.hashrate_hs`,
    `rig.power_w`) and each GPU's figures (`gpu.<index>.hashrate_hs`, ...) side by side."""
    traces = [parallel_rows(body["rig"], prefix="rig.")]
    traces += [parallel_rows(gpu, prefix=f"gpu.{gpu['index']}.") for gpu in body["gpus"]]
    return [{"resolution": body["resolution"], **row} for row in rows_by_ts(*traces)]


WRITE_DENIED = "Changing a farm's rigs needs a write token of the farm, or an owner or manager."


def _saved_response(rig, *, changed=(), created=False):
    try:
        saved = editing.save_rig(rig, changed=changed)
    except editing.DuplicateName as exc:
        raise serializers.ValidationError({"name": [str(exc)]}) from None
    saved.rig.connection = saved.trial
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return Response(RigSavedSerializer(saved.rig).data, status=code)


@extend_schema(tags=["rigs"])
class RigViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The rigs of the farms the caller can see. Adding (POST) and changing (PATCH) a rig needs
    a write token of its farm, or an owner or manager logged in."""

    serializer_class = RigSerializer
    pagination_class = ListPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = RigFilterSet
    # `status` orders by the stored status, which the offline sweep keeps current.
    ordering_fields = [
        "id", "name", "status", "hashrate_hs", "power_w", "temperature_max_c", "last_seen_at",
    ]  # fmt: skip

    def get_queryset(self):
        return scope_to_farms(Rig.objects.prefetch_related("gpus"), self.request).order_by("id")

    def get_serializer_class(self):
        if self.action in ("create", "partial_update"):
            return RigWriteSerializer
        return super().get_serializer_class()

    @extend_schema(request=RigWriteSerializer, responses={201: RigSavedSerializer})
    def create(self, request, format=None):
        """Adds a rig: polled (a protocol, the miner API's host, its port and password) or pushed
        by its agent (no protocol). A polled rig's miner is tried once before saving and the
        result returned as `connection`; the rig is saved even when the miner does not answer,
        and is polled at once. Invalid input is 400 and saves nothing."""
        serializer = RigWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        farm = writable_farm(request, data.pop("farm_id", None), denied=WRITE_DENIED)
        if editing.name_taken(farm.pk, data["name"]):
            raise serializers.ValidationError({"name": [f"{farm} already has a rig of this name."]})
        return _saved_response(Rig(farm=farm, **data), created=True)

    @extend_schema(request=RigWriteSerializer, responses=RigSavedSerializer)
    def partial_update(self, request, pk=None, format=None):
        """Changes a rig's name, source or cadence. An omitted `api_password` keeps the stored
        one. A changed address is tried once (`connection`) and polled at once."""
        rig = self.get_object()
        if not can_write(request, rig.farm_id):
            raise PermissionDenied(WRITE_DENIED)
        serializer = RigWriteSerializer(rig, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("farm_id", None)  # the same farm: validate() refused another
        name = data.get("name", rig.name)
        if editing.name_taken(rig.farm_id, name, exclude_pk=rig.pk):
            raise serializers.ValidationError(
                {"name": [f"{rig.farm} already has a rig named {name!r}."]}
            )
        changed = [field for field, value in data.items() if getattr(rig, field) != value]
        for field, value in data.items():
            setattr(rig, field, value)
        return _saved_response(rig, changed=changed)

    @extend_schema(request=ConnectionTestSerializer, responses=ConnectionTrialSerializer)
    @action(detail=False, methods=["post"], url_path="test-connection", pagination_class=None)
    def test_connection(self, request, format=None):
        """Polls a miner once, as the poller would, and says what it found (miner, version,
        devices with their hashrate, the total in H/s) or why it failed (`error_kind`,
        `error`), with 200 either way. Stores nothing. Needs the right to change rigs of one of
        the caller's farms (of the rig's farm, with `rig`)."""
        serializer = ConnectionTestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        password = data.get("api_password")
        if "rig" in data:
            rig = self.get_queryset().filter(pk=data["rig"]).first()
            if rig is None:
                raise NotFound("No such rig.")
            if not can_write(request, rig.farm_id):
                raise PermissionDenied(WRITE_DENIED)
            if password is None:
                problem = editing.kept_password_problem(
                    rig, protocol=data["protocol"], host=data["host"], port=data.get("port")
                )
                if problem:
                    raise serializers.ValidationError({"api_password": [problem]})
                password = rig.api_password
        elif not any(can_write(request, pk) for pk in farm_ids_for_request(request)):
            raise PermissionDenied(WRITE_DENIED)
        trial = try_rig(data["protocol"], data["host"], data.get("port"), password or "")
        return Response(ConnectionTrialSerializer(trial).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.DATETIME, description="Start (default: to - 1 h)"
            ),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="End (default: now)"),
            OpenApiParameter("gpu", OpenApiTypes.INT, description="Only this GPU index"),
        ],
        responses=GpuSampleSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=TimeSeriesPagination)
    def samples(self, request, pk=None, format=None):
        """The rig's GPU samples in a time range, oldest first, cursor-paginated."""
        rig = self.get_object()
        since, until = parse_range(request.query_params)
        queryset = GpuSample.objects.filter(gpu__rig=rig, ts__gte=since, ts__lte=until)
        gpu = request.query_params.get("gpu")
        if gpu is not None:
            if not gpu.isdigit():
                raise serializers.ValidationError({"gpu": ["A GPU index is a whole number."]})
            queryset = queryset.filter(gpu__index=int(gpu))
        page = self.paginate_queryset(queryset.values("id", "ts", "gpu__index", *SAMPLE_FIELDS))
        return self.get_paginated_response(sample_rows(page))

    @extend_schema(parameters=RANGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], pagination_class=None)
    @csv_rows(_rig_series_rows)
    def series(self, request, pk=None, format=None):
        """The rig's totals and every GPU's hashrate and temperature over a range, as parallel
        lists, raw or rolled up (averages) per `resolution`."""
        rig = self.get_object()
        since, until = parse_range(request.query_params)
        resolution = _resolution(request, since=since, until=until, cadence_s=rig.cadence_s)
        result = rig_series(rig, since=since, until=until, resolution=resolution)
        return Response(
            {
                "resolution": result["resolution"],
                "rig": _iso_lists(result["rig"]),
                "gpus": [_iso_lists(gpu) for gpu in result["gpus"]],
            }
        )

    @extend_schema(request=TelemetryBatchSerializer, responses=TelemetryResultSerializer)
    @action(
        detail=True,
        methods=["post"],
        pagination_class=None,
        # Its own budget per rig, not the reads': a farm's agents never throttle each other.
        throttle_classes=[TelemetryRateThrottle, AnonRateThrottle],
    )
    def telemetry(self, request, pk=None, format=None):
        """Stores telemetry from a rig agent (token scope `telemetry` or `write`): a batch of GPU
        samples in ethdash's format, or a Hive OS agent's stats body unchanged.

        The whole batch is stored in one transaction or, if any sample is invalid, rejected with
        400 and nothing stored. Samples already stored (same GPU and ts) are skipped.
        """
        rig = self.get_object()
        scopes = (ApiToken.Scope.TELEMETRY, ApiToken.Scope.WRITE)
        if not can_write(request, rig.farm_id, token_scopes=scopes):
            raise PermissionDenied(
                "Pushing telemetry needs a telemetry or write token, or a manager."
            )
        if hiveos.is_hiveos_body(request.data):
            try:
                result = ingest_hiveos(rig=rig, body=request.data)
            except MinerError as error:
                raise serializers.ValidationError({"miner_stats": [str(error)]}) from None
            return Response({"received": result.received, "status": result.status})
        context = {"gpus_by_index": {g.index: g for g in rig.gpus.all()}, "now": timezone.now()}
        samples = plain_telemetry_samples(request.data, **context)
        if samples is None:
            serializer = TelemetryBatchSerializer(data=request.data, context=context)
            serializer.is_valid(raise_exception=True)
            samples = serializer.validated_data["samples"]
        result = ingest_telemetry(rig=rig, samples=samples)
        return Response({"received": result.received, "status": result.status})


@extend_schema(tags=["rigs"])
class GpuViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The GPUs of the farms the caller can see, with their newest figures."""

    serializer_class = GpuSerializer
    pagination_class = ListPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = GpuFilterSet
    ordering_fields = [
        "id", "rig", "index", "name", "hashrate_hs", "temperature_c", "power_w", "last_seen_at",
    ]  # fmt: skip

    def get_queryset(self):
        queryset = scope_to_farms(Gpu.objects.all(), self.request, farm_field="rig__farm")
        return queryset.select_related("rig").order_by("rig_id", "index")

    @extend_schema(parameters=RANGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], pagination_class=None)
    def series(self, request, pk=None, format=None):
        """One GPU's hashrate, temperature, power and fan over a range; rolled-up series add
        hashrate_min and hashrate_max."""
        gpu = self.get_object()
        since, until = parse_range(request.query_params)
        resolution = _resolution(request, since=since, until=until, cadence_s=gpu.rig.cadence_s)
        return Response(
            _iso_lists(gpu_series(gpu, since=since, until=until, resolution=resolution))
        )
