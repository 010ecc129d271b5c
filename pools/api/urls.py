"""The pools API, included at /api/v1/ by ethdash/urls.py."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from pools.api.views import KnownPoolViewSet, PoolAccountViewSet, PoolViewSet, rig_pool_series

router = DefaultRouter()
# /api/v1/ itself is the core's root view, which lists every app's endpoints.
router.include_root_view = False
router.register("pool-accounts", PoolAccountViewSet, basename="pool-account")
router.register("pools", PoolViewSet, basename="pool")
router.register("known-pools", KnownPoolViewSet, basename="known-pool")

urlpatterns = [
    path("pool-workers/series/", rig_pool_series, name="rig-pool-series"),
    *router.urls,
]
