from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from ethdash import views
from pools.api import PoolAccountViewSet, rig_pool_series
from rigs.api import GpuViewSet, RigViewSet
from validators.api import ValidatorGroupViewSet, ValidatorViewSet
from validators.api_manage import BeaconNodeViewSet, ValidatorAddView

router = DefaultRouter()
router.register("rigs", RigViewSet, basename="rig")
router.register("gpus", GpuViewSet, basename="gpu")
router.register("pool-accounts", PoolAccountViewSet, basename="pool-account")
# "validator-api", not "validator": the pages are named validator-list and validator-detail.
router.register("validators", ValidatorViewSet, basename="validator-api")
router.register("validator-groups", ValidatorGroupViewSet, basename="validator-group-api")
router.register("beacon-nodes", BeaconNodeViewSet, basename="beacon-node-api")


def _coming(title, text):
    return {"title": title, "coming": text}


urlpatterns = [
    path("", views.overview, name="overview"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("rigs/", include("rigs.urls")),
    path("pools/", include("pools.urls")),
    path("validators/", include("validators.urls_manage")),
    path("validators/", include("validators.urls")),
    path(
        "alerts/",
        views.placeholder,
        _coming(
            "Alerts",
            "Rules for offline rigs, hashrate drops, hot or idle GPUs, rejected shares, missed "
            "payouts and missed duties, delivered by e-mail, Telegram, Discord or webhook once "
            "per state change, with a matching 'recovered'.",
        ),
        name="alert-list",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/pool-workers/series/", rig_pool_series, name="rig-pool-series"),
    path("api/v1/validators/add/", ValidatorAddView.as_view(), name="validator-add-api"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
