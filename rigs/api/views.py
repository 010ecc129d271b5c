from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from accounts.models import ApiToken
from accounts.scoping import can_write, scope_to_farms
from ethdash.api import ListPagination, TimeSeriesPagination
from ethdash.timeseries import iso, parse_range
from rigs.api.serializers import (
    GpuSampleSerializer,
    GpuSerializer,
    RigSerializer,
    TelemetryBatchSerializer,
    TelemetryResultSerializer,
)
from rigs.formats import MinerError, hiveos
from rigs.models import Gpu, GpuSample, Rig
from rigs.services.ingest import ingest_hiveos, ingest_telemetry
from rigs.services.series import gpu_series, rig_series

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


def _resolution(request):
    resolution = request.query_params.get("resolution", "auto")
    if resolution not in RESOLUTIONS:
        raise serializers.ValidationError({"resolution": [f"One of {', '.join(RESOLUTIONS)}."]})
    return resolution


def _iso_lists(series):
    return series | {"ts": [iso(ts) for ts in series["ts"]]}


@extend_schema(tags=["rigs"])
class RigViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The rigs of the farms the caller can see."""

    serializer_class = RigSerializer
    pagination_class = ListPagination

    def get_queryset(self):
        return scope_to_farms(Rig.objects.prefetch_related("gpus"), self.request).order_by("id")

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
        page = self.paginate_queryset(queryset.select_related("gpu"))
        return self.get_paginated_response(GpuSampleSerializer(page, many=True).data)

    @extend_schema(parameters=RANGE_PARAMETERS, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], pagination_class=None)
    def series(self, request, pk=None, format=None):
        """The rig's totals and every GPU's hashrate and temperature over a range, as parallel
        lists, raw or rolled up (averages) per `resolution`."""
        rig = self.get_object()
        since, until = parse_range(request.query_params)
        result = rig_series(rig, since=since, until=until, resolution=_resolution(request))
        return Response(
            {
                "resolution": result["resolution"],
                "rig": _iso_lists(result["rig"]),
                "gpus": [_iso_lists(gpu) for gpu in result["gpus"]],
            }
        )

    @extend_schema(request=TelemetryBatchSerializer, responses=TelemetryResultSerializer)
    @action(detail=True, methods=["post"], pagination_class=None)
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
        serializer = TelemetryBatchSerializer(
            data=request.data,
            context={"gpus_by_index": {g.index: g for g in rig.gpus.all()}, "now": timezone.now()},
        )
        serializer.is_valid(raise_exception=True)
        result = ingest_telemetry(rig=rig, samples=serializer.validated_data["samples"])
        return Response({"received": result.received, "status": result.status})


@extend_schema(tags=["rigs"])
class GpuViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The GPUs of the farms the caller can see, with their newest figures."""

    serializer_class = GpuSerializer
    pagination_class = ListPagination

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
        return Response(
            _iso_lists(gpu_series(gpu, since=since, until=until, resolution=_resolution(request)))
        )
