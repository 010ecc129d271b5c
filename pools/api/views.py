from django.db.models import Sum
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.response import Response

from accounts.scoping import farm_ids_for_request, scope_to_farms, writable_farm
from ethdash.api import ListPagination, OrderingFilter, TimeSeriesPagination
from ethdash.renderers import parallel_rows
from ethdash.timeseries import iso, parse_range, thin_to
from pools.api.serializers import (
    KnownPoolSerializer,
    PayoutSerializer,
    PoolAccountCreateSerializer,
    PoolAccountSerializer,
    PoolSampleSerializer,
    PoolSerializer,
    PoolStatsSampleSerializer,
)
from pools.models import KnownPool, Pool, PoolAccount, PoolWorker, PoolWorkerSample
from pools.services import known as known_pools
from pools.services.trial import try_pool
from rigs.models import Rig

NAME_TAKEN = (
    "Another pool was saved with the same name at the same moment; nothing was saved. "
    "Send it again."
)


# Points the pool-workers series answers at most (the rig page's charts draw it, 30 days at a
# poll a minute would be 43,200): more are averaged over equal buckets (`bucket_s`).
POOL_SERIES_MAX_POINTS = 1500


class PayoutPagination(ListPagination):
    page_size = 50


@extend_schema(tags=["pools"])
class PoolAccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The pool accounts of the farms the caller can see, with workers and balances. POST adds
    one (a write token, or an owner or manager) on a known pool, a pool the farm may use, or a
    custom address tested first; it is polled within seconds, and a wallet the pool has no data
    for yet shows `"status": "waiting"`."""

    serializer_class = PoolAccountSerializer
    pagination_class = ListPagination
    filter_backends = [OrderingFilter]
    ordering_fields = [
        "id", "login", "label", "status", "current_hashrate_hs", "average_hashrate_hs",
        "reported_hashrate_hs", "last_success_at", "created_at",
    ]  # fmt: skip

    def get_queryset(self):
        queryset = PoolAccount.objects.select_related("pool").prefetch_related("workers")
        return scope_to_farms(queryset, self.request).order_by("id")

    @extend_schema(request=PoolAccountCreateSerializer, responses={201: PoolAccountSerializer})
    def create(self, request, *args, **kwargs):
        given = PoolAccountCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        farm = writable_farm(request, data.get("farm"))
        known = pool = None
        if "known_pool" in data:
            known = KnownPool.objects.filter(key=data["known_pool"]).first()
            if known is None:
                raise serializers.ValidationError({"known_pool": ["No such known pool."]})
        elif "pool" in data:
            pool = known_pools.pools_for_farms([farm.pk]).filter(pk=data["pool"]).first()
            if pool is None:
                raise serializers.ValidationError({"pool": ["No such pool for this farm."]})
        else:
            custom = data["custom_pool"]
            _, error = try_pool(Pool(**custom))
            if error is not None:
                raise serializers.ValidationError(
                    {"custom_pool": [f"The address does not answer in the "
                                     f"{Pool.ApiFormat(custom['api_format']).label} format "
                                     f"({error.kind}): {error}"]}
                )  # fmt: skip
            try:
                pool = known_pools.custom_pool(farm=farm, **custom)
            except known_pools.PoolNameTaken:
                raise serializers.ValidationError({"custom_pool": [NAME_TAKEN]}) from None
        target = pool or Pool.objects.filter(known_pool=known).first()
        if (
            target
            and PoolAccount.objects.filter(farm=farm, pool=target, login=data["login"]).exists()
        ):
            raise serializers.ValidationError(
                {"login": ["This farm already has this account on this pool."]}
            )
        try:
            account = known_pools.add_account(
                farm=farm, login=data["login"], label=data["label"], known=known, pool=pool
            )
        except known_pools.PoolNameTaken:
            raise serializers.ValidationError({"known_pool": [NAME_TAKEN]}) from None
        body = PoolAccountSerializer(account, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

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
        OpenApiParameter(
            "rig",
            {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
            required=True,
            description="The rig's id",
        ),
        OpenApiParameter("from", OpenApiTypes.DATETIME, description="Start (default: to - 1 h)"),
        OpenApiParameter("to", OpenApiTypes.DATETIME, description="End (default: now)"),
    ],
    responses=OpenApiTypes.OBJECT,
)
@api_view(["GET"])
def rig_pool_series(request):
    """What the pools said of a rig's workers over a range: pool-effective (the pool's current
    hashrate from shares) and miner-reported hashrate (H/s), summed over the rig's workers, per
    poll; a range of more than 1,500 polls is averaged over equal buckets (`bucket_s`)."""
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
    points, bucket_s = thin_to(
        rows.values_list("ts", "effective", "reported").iterator(chunk_size=5000),
        since=since,
        until=until,
        max_points=POOL_SERIES_MAX_POINTS,
    )
    series = {"ts": [], "effective": [], "reported": [], "bucket_s": bucket_s}
    for ts, effective, reported in points:
        series["ts"].append(iso(ts))
        series["effective"].append(effective)
        series["reported"].append(reported)
    workers = PoolWorker.objects.filter(rig=rig).select_related("account__pool")
    series["workers"] = [
        {"account": w.account_id, "pool": w.account.pool.name, "name": w.name} for w in workers
    ]
    return Response(series)


def _pool_series_rows(body):
    return parallel_rows(
        {"ts": body["ts"], "effective_hs": body["effective"], "reported_hs": body["reported"]}
    )


# CSV of the series (ethdash.renderers): one row per poll, the units in the column names. A
# function view's hook goes on the view class its decorator made.
rig_pool_series.cls.csv_rows = staticmethod(_pool_series_rows)


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
    filter_backends = [OrderingFilter]
    ordering_fields = ["id", "name", "coin", "last_success_at"]

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
