from django.db.models import Sum
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.response import Response

from accounts.scoping import farm_ids_for_request, scope_to_farms
from ethdash.api import ListPagination, TimeSeriesPagination
from ethdash.timeseries import iso, parse_range
from pools.api.serializers import (
    KnownPoolSerializer,
    PayoutSerializer,
    PoolAccountSerializer,
    PoolSampleSerializer,
    PoolSerializer,
    PoolStatsSampleSerializer,
)
from pools.models import KnownPool, Pool, PoolAccount, PoolWorker, PoolWorkerSample
from rigs.models import Rig


class PayoutPagination(ListPagination):
    page_size = 50


@extend_schema(tags=["pools"])
class PoolAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The pool accounts of the farms the caller can see, with workers and balances."""

    serializer_class = PoolAccountSerializer
    pagination_class = ListPagination

    def get_queryset(self):
        queryset = PoolAccount.objects.select_related("pool").prefetch_related("workers")
        return scope_to_farms(queryset, self.request).order_by("id")

    @extend_schema(responses=PayoutSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=PayoutPagination)
    def payouts(self, request, pk=None, format=None):
        """The account's payouts, newest first, with their state on chain."""
        account = self.get_object()
        page = self.paginate_queryset(account.payouts.order_by("-paid_at", "id"))
        return self.get_paginated_response(PayoutSerializer(page, many=True).data)

    @extend_schema(responses=PoolSampleSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=TimeSeriesPagination)
    def samples(self, request, pk=None, format=None):
        """What the pool reported for the account over a range (default: the last hour)."""
        account = self.get_object()
        since, until = parse_range(request.query_params)
        page = self.paginate_queryset(account.samples.filter(ts__gte=since, ts__lte=until))
        return self.get_paginated_response(PoolSampleSerializer(page, many=True).data)


@extend_schema(
    tags=["pools"],
    parameters=[
        OpenApiParameter("rig", OpenApiTypes.INT, required=True, description="The rig's id"),
        OpenApiParameter("from", OpenApiTypes.DATETIME, description="Start (default: to - 1 h)"),
        OpenApiParameter("to", OpenApiTypes.DATETIME, description="End (default: now)"),
    ],
    responses=OpenApiTypes.OBJECT,
)
@api_view(["GET"])
def rig_pool_series(request):
    """What the pools said of a rig's workers over a range: pool-effective (the pool's current
    hashrate from shares) and miner-reported hashrate, summed over the rig's workers, per poll."""
    rig_id = request.query_params.get("rig", "")
    if not rig_id.isdigit():
        raise serializers.ValidationError({"rig": ["A rig id is required."]})
    rig = get_object_or_404(scope_to_farms(Rig.objects.all(), request), pk=int(rig_id))
    since, until = parse_range(request.query_params)
    rows = (
        PoolWorkerSample.objects.filter(worker__rig=rig, ts__gte=since, ts__lte=until)
        .values("ts")
        .annotate(effective=Sum("current_hashrate_hs"), reported=Sum("reported_hashrate_hs"))
        .order_by("ts")
    )
    series = {"ts": [], "effective": [], "reported": []}
    for row in rows:
        series["ts"].append(iso(row["ts"]))
        series["effective"].append(row["effective"])
        series["reported"].append(row["reported"])
    workers = PoolWorker.objects.filter(rig=rig).select_related("account__pool")
    series["workers"] = [
        {"account": w.account_id, "pool": w.account.pool.name, "name": w.name} for w in workers
    ]
    return Response(series)


@extend_schema(tags=["pools"])
class KnownPoolViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The public pools ethdash knows (pools/known_pools.json): what the add page offers, with
    each pool's format, base URL, coin and documented rate limit. The same for every caller."""

    serializer_class = KnownPoolSerializer
    pagination_class = ListPagination
    queryset = KnownPool.objects.order_by("coin", "name", "id")


@extend_schema(tags=["pools"])
class PoolViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The pools the caller's farms have accounts at, with their newest pool-wide figures."""

    serializer_class = PoolSerializer
    pagination_class = ListPagination

    def get_queryset(self):
        farm_ids = farm_ids_for_request(self.request)
        visible = Pool.objects.filter(accounts__farm__in=farm_ids).values("pk")
        return Pool.objects.filter(pk__in=visible).select_related("known_pool").order_by("id")

    @extend_schema(
        responses=PoolStatsSampleSerializer(many=True),
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.DATETIME, description="Start (default: to - 1 h)"
            ),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="End (default: now)"),
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=TimeSeriesPagination)
    def stats(self, request, pk=None, format=None):
        """What the pool said of itself over a range (default: the last hour), one sample per
        read: pool and network hashrate (H/s), miners, workers, blocks, effort (a fraction)."""
        pool = self.get_object()
        since, until = parse_range(request.query_params)
        page = self.paginate_queryset(pool.stats_samples.filter(ts__gte=since, ts__lte=until))
        return self.get_paginated_response(PoolStatsSampleSerializer(page, many=True).data)
